/**
 * Unchanged TOAST values: an UPDATE that leaves a large out-of-line value alone sends a
 * marker, not the value. The replica must keep what it has — also when the row changes
 * key, and when several changes to it share one batch.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { query } from '../../harness/replication.js';

/** About 64 KB of hex that does not compress, so PostgreSQL stores it out of line. */
const BIG = (seed: string) => `(SELECT string_agg(md5('${seed}' || g), '') FROM generate_series(1, 2000) g)`;

/** About 2.2 KB of incompressible text: stored out of line in the table, small enough for a btree key. */
const LONG_KEY = (seed: string) => `(SELECT string_agg(md5(${seed} || '-' || g), '') FROM generate_series(1, 70) g)`;

describe('unchanged TOAST values', () => {
  const pair = replicationSuite({ start: false });

  beforeAll(async () => {
    await query(
      pair.sourceUrl,
      `CREATE TABLE docs (id int PRIMARY KEY, title text, body text, meta jsonb, blob bytea);
       INSERT INTO docs SELECT i, 'doc ' || i, ${BIG("'b' || i || '")}, jsonb_build_object('text', ${BIG("'m' || i || '")}), decode(${BIG("'x' || i || '")}, 'hex')
       FROM generate_series(1, 10) i;
       CREATE TABLE long_keys (k text PRIMARY KEY, v text);
       INSERT INTO long_keys SELECT ${LONG_KEY('i')}, 'v' || i FROM generate_series(1, 3) i;`
        .replaceAll("'b' || i || '", "b' || i || '")
        .replaceAll("'m' || i || '", "m' || i || '")
        .replaceAll("'x' || i || '", "x' || i || '"),
    );
    const [{ external }] = (await query<{ external: boolean }>(
      pair.sourceUrl,
      "SELECT pg_column_size(body) < octet_length(body) OR pg_relation_size(reltoastrelid) > 0 AS external FROM docs, pg_class WHERE relname = 'docs' LIMIT 1",
    )) as [{ external: boolean }];
    expect(external).toBe(true);
    await pair.start();
  });

  it('keeps large values an update did not touch, whatever the key does', async () => {
    await query(pair.sourceUrl, "UPDATE docs SET title = 'retitled' WHERE id = 1");
    await query(
      pair.sourceUrl,
      `BEGIN; INSERT INTO docs VALUES (20, 'new', ${BIG('n20')}, '{"a": 1}', '\\x01'); UPDATE docs SET title = 'new, retitled' WHERE id = 20; COMMIT;`,
    );
    await query(pair.sourceUrl, 'UPDATE docs SET id = 100 WHERE id = 3');
    await query(
      pair.sourceUrl,
      "BEGIN; UPDATE docs SET title = 'moved twice' WHERE id = 4; UPDATE docs SET id = 104 WHERE id = 4; UPDATE docs SET id = 204 WHERE id = 104; COMMIT;",
    );
    await query(pair.sourceUrl, "UPDATE docs SET body = 'now small' WHERE id = 5");
    await pair.catchUp();
    const rowDigest =
      'SELECT id, md5(title) AS t, md5(body) AS b, md5(meta::text) AS m, md5(blob) AS x FROM TABLE ORDER BY id';
    const [source, replica] = await Promise.all([
      query(pair.sourceUrl, rowDigest.replace('TABLE', 'docs')),
      query(pair.destinationUrl, rowDigest.replace('TABLE', 'staging.docs')),
    ]);
    expect(replica).toEqual(source);
    await pair.expectEqual();
    const rows = await query<{ id: number; body_ok: boolean }>(
      pair.destinationUrl,
      'SELECT id, length(body) > 60000 AND meta IS NOT NULL AND length(blob) > 30000 AS body_ok FROM staging.docs WHERE id IN (1, 100, 204) ORDER BY id',
    );
    expect(rows).toEqual([
      { id: 1, body_ok: true },
      { id: 100, body_ok: true },
      { id: 204, body_ok: true },
    ]);
  });

  it('keeps every row when updates of other columns of rows with out-of-line keys share a batch', async () => {
    const [{ external }] = (await query<{ external: boolean }>(
      pair.sourceUrl,
      "SELECT pg_relation_size(reltoastrelid) > 0 AS external FROM pg_class WHERE relname = 'long_keys'",
    )) as [{ external: boolean }];
    expect(external).toBe(true);
    // Each UPDATE sends its key as "unchanged TOAST" in the new row, the value only in the old key.
    await query(
      pair.sourceUrl,
      `BEGIN; UPDATE long_keys SET v = 'one' WHERE k = ${LONG_KEY('1')}; UPDATE long_keys SET v = 'two' WHERE k = ${LONG_KEY('2')}; COMMIT;`,
    );
    await query(pair.sourceUrl, `UPDATE long_keys SET v = 'three' WHERE k = ${LONG_KEY('3')}`);
    await pair.catchUp();
    const [replica] = await query<{ n: string; v: string }>(
      pair.destinationUrl,
      "SELECT count(*) AS n, string_agg(v, ',' ORDER BY v) AS v FROM staging.long_keys",
    );
    expect(replica).toEqual({ n: '3', v: 'one,three,two' });
    await pair.expectEqual();
  });
});
