/**
 * Type fidelity: every built-in type a user meets, with its edge values, survives the
 * snapshot and the stream exactly. Source and replica are compared value by value, as
 * the text PostgreSQL prints for each column. The same holds on a destination whose own
 * defaults change how values print and compare (rounded floats, day-first dates, SQL
 * intervals, escaped bytea, a far time zone): the replicator pins its sessions' settings.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { query, tablesCopied } from '../../harness/replication.js';

const SCHEMA = `
CREATE TYPE rgb AS ENUM ('red', 'green', 'blue');
CREATE DOMAIN percent AS numeric(5,2) CHECK (VALUE BETWEEN 0 AND 100);
CREATE TYPE money_pair AS (amount numeric, currency char(3));
CREATE TABLE floats (x double precision, tag text);
ALTER TABLE floats REPLICA IDENTITY FULL;
CREATE TABLE float_arrays (id int PRIMARY KEY, xs double precision[]);
CREATE TABLE everything (
  id int PRIMARY KEY,
  i2 smallint, i4 integer, i8 bigint, num numeric, num_fixed numeric(12,4), r4 real, r8 double precision,
  m money, t text, vc varchar(10), ch char(5), b boolean,
  d date, ts timestamp, tstz timestamptz, tm time, tmtz timetz, iv interval,
  u uuid, j json, jb jsonb, by bytea,
  arr_int int[], arr_text text[], arr_2d int[][],
  r_int int4range, r_ts tstzrange, r_num numrange,
  e rgb, dom percent, comp money_pair,
  ip inet, net cidr, mac macaddr, mac8 macaddr8,
  bits bit(8), vbits varbit, tsv tsvector, tsq tsquery,
  pt point, ln line, seg lseg, bx box, pth path, poly polygon, circ circle,
  x xml, o oid, pl pg_lsn
);
`;

const ROWS = `
INSERT INTO floats VALUES (0.1::float8 + 0.2::float8, 'sum'), (0.3, 'exact');
INSERT INTO float_arrays SELECT 1, array_agg(g * 0.1::float8) FROM generate_series(1, 5000) g;
INSERT INTO everything VALUES
 (1, -32768, -2147483648, -9223372036854775808, 'NaN', 12345678.1234, 'NaN', '-Infinity',
  '-92233720368547758.08', E'tab\\t nl\\n cr\\r bs\\\\ q'' dq" \\u00e9 日本 🎉', 'ten chars!', 'ab', false,
  '-infinity', '4713-01-01 BC', 'infinity', '00:00:00', '23:59:59.999999+14', '-178000000 years',
  '00000000-0000-0000-0000-000000000000', '{"a": "\\u0000"}'::text::json, '{"k": "é\\"\\\\\\n", "n": [1.5e300, -0, null, true]}', '\\x00ff00',
  '{1,NULL,3}', '{"",NULL,"a,b","c\\"d","NULL"}', '{{1,2},{3,4}}',
  'empty', '[2025-01-01 00:00:00+00,infinity)', '(,1.5]',
  'green', 99.99, '(12.50,EUR)',
  '::1/128', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
  B'10101010', B'1', 'a fat cat:3 sat:1B', 'fat & (rat | !cat)',
  '(1.5,-2)', '{1,2,3}', '[(0,0),(1,1)]', '(1,1),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),2>',
  '<a href="x">y &amp; z</a>', 4294967295, 'FFFFFFFF/FFFFFFFF'),
 (2, 32767, 2147483647, 9223372036854775807, 'Infinity', -0.0001, '3.4028235e+38', '1e-307',
  '92233720368547758.07', '', '', '', true,
  'infinity', '294276-12-31 23:59:59.999999', '-infinity', '24:00:00', '00:00:00-15:59', '1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '[]', '{}', '\\x',
  '{}', '{}', '{}',
  '[1,10)', 'empty', '[-Infinity,NaN]',
  'red', 0, '(,)',
  '192.168.1.1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff:ff:ff',
  B'00000000', B'', '', 'a',
  '(0,0)', '{0,1,0}', '[(1,2),(3,4)]', '(0,0),(0,0)', '((0,0),(1,1))', '((0,0))', '<(1,1),0>',
  '<?xml version="1.0"?><r/>', 0, '0/0'),
 (3, NULL, NULL, NULL, '-Infinity', NULL, '-0', 'Infinity', NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'null', 'null', NULL,
  '{NULL}', '{NULL,NULL}', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
-- The same values without the types created here: the snapshot copies this table in binary.
CREATE TABLE builtins AS SELECT * FROM everything;
ALTER TABLE builtins DROP COLUMN e, DROP COLUMN dom, DROP COLUMN comp, ADD PRIMARY KEY (id);
-- Built-in types binary COPY cannot carry whole: no binary I/O (aclitem), an empty vector (the
-- binary input refuses it), a catalog row type (its aclitem[] field). These tables travel as text.
CREATE TABLE acls (id int PRIMARY KEY, acl aclitem, acl_list aclitem[]);
INSERT INTO acls VALUES (1, ('=r/' || current_user)::aclitem, ARRAY[(current_user || '=arwd/' || current_user)::aclitem]),
  (2, NULL, '{}'), (3, NULL, NULL);
CREATE TABLE vectors (id int PRIMARY KEY, v int2vector, o oidvector);
INSERT INTO vectors VALUES (1, '', ''), (2, '1 2', '3 4'), (3, NULL, NULL);
CREATE TABLE catalog_rows (id int PRIMARY KEY, r pg_class);
INSERT INTO catalog_rows SELECT 1, c FROM pg_class c WHERE relname = 'pg_class';
INSERT INTO catalog_rows VALUES (2, NULL), (3, NULL);
`;

/** Server defaults that change how values print and compare, set on the destination database. */
const HOSTILE_DEFAULTS = `extra_float_digits = 0; DateStyle = 'SQL, DMY'; IntervalStyle = sql_standard; bytea_output = escape; timezone = 'Pacific/Chatham'`;

/** Values are read back with the same settings on both sides, so that their text compares. */
const READ_OPTIONS =
  '-c datestyle=ISO,YMD -c intervalstyle=postgres -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex';

async function read<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, options: READ_OPTIONS });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function columns(url: string, table = 'everything'): Promise<string[]> {
  const rows = await query<{ attname: string }>(
    url,
    `SELECT attname FROM pg_attribute WHERE attrelid = 'public.${table}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
  );
  return rows.map((r) => r.attname);
}

/**
 * Every value as its type's output text (format's %s calls the output function; num_nulls
 * tells a NULL from a composite whose fields are all NULL), keyed "id/column".
 */
async function values(
  url: string,
  schema: string,
  cols: string[],
  table = 'everything',
): Promise<Map<string, string | null>> {
  const rows = await read<Record<string, string | null>>(
    url,
    `SELECT ${cols.map((c) => `CASE WHEN num_nulls("${c}") = 0 THEN format('%s', "${c}") END AS "${c}"`).join(', ')} FROM "${schema}"."${table}" ORDER BY id`,
  );
  const map = new Map<string, string | null>();
  for (const row of rows) for (const c of cols) map.set(`${row.id}/${c}`, row[c] ?? null);
  return map;
}

const floats = (url: string, schema: string) =>
  read(
    url,
    `SELECT x::text, tag FROM "${schema}".floats UNION ALL SELECT md5(xs::text), id::text FROM "${schema}".float_arrays ORDER BY 2`,
  );

describe.each([
  ['its default settings', null],
  ['hostile default settings', HOSTILE_DEFAULTS],
])('type fidelity on a destination with %s', (_name, defaults) => {
  const pair = replicationSuite({ start: false });

  beforeAll(async () => {
    if (defaults) {
      for (const setting of defaults.split('; '))
        await query(pair.destinationUrl, `ALTER DATABASE analytics SET ${setting}`);
    }
    await query(pair.sourceUrl, SCHEMA + ROWS);
    await pair.start();
  });

  it.each([
    ['everything', 'text'],
    ['builtins', 'binary'],
    ['acls', 'text'],
    ['vectors', 'text'],
    ['catalog_rows', 'text'],
  ])('keeps every value of the snapshot of %s, copied as %s', async (table, format) => {
    const cols = await columns(pair.sourceUrl, table);
    const [source, replica] = await Promise.all([
      values(pair.sourceUrl, 'public', cols, table),
      values(pair.destinationUrl, 'staging', cols, table),
    ]);
    expect(replica.size).toBe(cols.length * 3);
    expect(Object.fromEntries(replica)).toEqual(Object.fromEntries(source));
    expect(tablesCopied(pair.replicator.output()).get(`public.${table}`)).toMatchObject({ format });
  });

  it('keeps every value that arrives through the stream', async () => {
    await query(
      pair.sourceUrl,
      `INSERT INTO everything SELECT id + 10, i2, i4, i8, num, num_fixed, r4, r8, m, t, vc, ch, b, d, ts, tstz, tm, tmtz, iv, u, j, jb, by,
         arr_int, arr_text, arr_2d, r_int, r_ts, r_num, e, dom, comp, ip, net, mac, mac8, bits, vbits, tsv, tsq, pt, ln, seg, bx, pth, poly, circ, x, o, pl
       FROM everything WHERE id <= 3;
       UPDATE everything SET t = t || ' updated', jb = jb || '{"u": "ü"}', arr_2d = '{{5,6},{7,8}}', iv = iv / 2 WHERE id IN (1, 12);
       UPDATE everything SET (i2, num, tstz, comp) = (NULL, 'NaN', 'epoch', NULL) WHERE id = 2;
       UPDATE floats SET tag = 'exact, updated' WHERE x = 0.3;
       UPDATE float_arrays SET id = 2 WHERE id = 1;`,
    );
    await pair.catchUp();
    const cols = await columns(pair.sourceUrl);
    const [source, replica] = await Promise.all([
      values(pair.sourceUrl, 'public', cols),
      values(pair.destinationUrl, 'staging', cols),
    ]);
    expect(replica.size).toBe(cols.length * 6);
    expect(Object.fromEntries(replica)).toEqual(Object.fromEntries(source));
    // A row matched by its whole old image (0.1 + 0.2 is not 0.3), and a large float array
    // kept from the stored row when its key changed: exact, however a session prints floats.
    expect(await floats(pair.destinationUrl, 'staging')).toEqual(await floats(pair.sourceUrl, 'public'));
  });
});
