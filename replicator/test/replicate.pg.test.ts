/**
 * The replicator end to end, as a user runs it: `elt replicate` as a child process against
 * real source and destination clusters. Every assertion is about rows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { query, waitFor } from '../../harness/replication.js';

const SCHEMA = `
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE TABLE items (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sku varchar(20) NOT NULL UNIQUE,
  name text,
  price numeric(30,10),
  qty positive_int,
  active boolean,
  born date,
  seen timestamptz,
  uid uuid,
  attrs jsonb,
  tags text[],
  blob bytea,
  feeling mood
);
CREATE TABLE lines (order_id int, line_no int, note text, PRIMARY KEY (order_id, line_no));
CREATE TABLE log (at timestamptz, message text);
ALTER TABLE log REPLICA IDENTITY FULL;
CREATE TABLE measurements (id int, taken date, value float8, PRIMARY KEY (id, taken)) PARTITION BY RANGE (taken);
CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE parents (id int PRIMARY KEY);
CREATE TABLE children (id int PRIMARY KEY, parent int REFERENCES parents);
INSERT INTO parents SELECT generate_series(1, 10);
INSERT INTO children SELECT i, 1 + i % 10 FROM generate_series(1, 50) i;
`;

const AWKWARD = `'tab\there, newline\nthere, backslash \\ and "quotes" and ''single'', 日本語 é 🎉'`;

describe('elt replicate', () => {
  const pair = replicationSuite({ sourceSql: SCHEMA, start: false });

  beforeAll(async () => {
    await query(
      pair.sourceUrl,
      `INSERT INTO items (sku, name, price, qty, active, born, seen, uid, attrs, tags, blob, feeling)
       SELECT 'sku-' || i, CASE WHEN i % 7 = 0 THEN NULL ELSE E${AWKWARD} || i END, i * 1.0000000001, i, i % 2 = 0,
         date '2025-01-01' + i, timestamptz '2025-01-01 00:00:00.123456+00' + i * interval '1 microsecond',
         md5(i::text)::uuid, jsonb_build_object('n', i, 'nested', jsonb_build_array(1, 'x', null)),
         ARRAY['a', NULL, 'c' || i], decode('00ff' || lpad(to_hex(i), 4, '0'), 'hex'), (ARRAY['happy', 'sad'])[1 + i % 2]::mood
       FROM generate_series(1, 2000) i;
       INSERT INTO lines SELECT i / 3, i % 3, 'note ' || i FROM generate_series(1, 600) i;
       INSERT INTO log SELECT timestamptz '2025-06-01' + i * interval '1 minute', 'boot' FROM generate_series(1, 50) i;
       INSERT INTO log SELECT timestamptz '2025-06-01', 'duplicate' FROM generate_series(1, 3);
       INSERT INTO measurements SELECT i, date '2025-06-01' + i, i / 3.0 FROM generate_series(1, 400) i;`,
    );
    await pair.start();
  });

  it('copies every table exactly, partitions into one table named after the root', async () => {
    await pair.expectEqual();
    const tables = await query<{ relname: string }>(
      pair.destinationUrl,
      "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname = 'staging' AND relkind = 'r' ORDER BY 1",
    );
    expect(tables.map((t) => t.relname)).toEqual(['children', 'items', 'lines', 'log', 'measurements', 'parents']);
    const [meta] = await query<{ n: string; lsn_set: boolean }>(
      pair.destinationUrl,
      'SELECT count(*) AS n, bool_and(_lsn IS NOT NULL AND NOT _deleted) AS lsn_set FROM staging.items',
    );
    expect(meta).toEqual({ n: '2000', lsn_set: true });
  });

  it('applies inserts, updates, deletes, key changes and truncates that follow', async () => {
    await query(
      pair.sourceUrl,
      `INSERT INTO items (sku, name, price, attrs, tags, blob) VALUES ('new-1', E${AWKWARD}, 123456789012345678.0123456789, '{"deep": {"a": [1, 2]}}', '{}', '\\x00');
       UPDATE items SET price = price * 2, name = name || ' (updated)', tags = tags || ARRAY['z'] WHERE id % 10 = 0;
       DELETE FROM items WHERE id % 13 = 0;
       UPDATE lines SET line_no = line_no + 100 WHERE order_id = 5;
       DELETE FROM log WHERE message = 'duplicate' AND ctid = (SELECT min(ctid) FROM log WHERE message = 'duplicate');
       UPDATE log SET message = 'rebooted' WHERE at = timestamptz '2025-06-01' + interval '1 minute';
       INSERT INTO measurements VALUES (1000, '2026-03-01', 1.5e300);
       UPDATE measurements SET taken = '2026-02-01' WHERE id = 1;`,
    );
    await query(
      pair.sourceUrl,
      'BEGIN; UPDATE items SET qty = 1 WHERE id = 2; UPDATE items SET qty = 2 WHERE id = 2; DELETE FROM items WHERE id = 3; COMMIT;',
    );
    await query(pair.sourceUrl, 'TRUNCATE lines');
    await query(pair.sourceUrl, 'INSERT INTO lines VALUES (1, 1, $1)', ['after truncate']);
    await pair.catchUp();
    await pair.expectEqual();
  });

  it('appends to a table without a key exactly once', async () => {
    const [before] = await query<{ n: string }>(pair.destinationUrl, 'SELECT count(*) AS n FROM staging.log');
    await query(pair.sourceUrl, "INSERT INTO log VALUES (now(), 'one more')");
    await pair.catchUp();
    const [after] = await query<{ n: string }>(pair.destinationUrl, 'SELECT count(*) AS n FROM staging.log');
    expect(Number(after!.n)).toBe(Number(before!.n) + 1);
  });

  it('applies TRUNCATE of several tables at once and TRUNCATE ... CASCADE', async () => {
    await query(pair.sourceUrl, 'TRUNCATE lines, log');
    await query(pair.sourceUrl, 'TRUNCATE parents CASCADE');
    await query(
      pair.sourceUrl,
      "INSERT INTO parents VALUES (1); INSERT INTO children VALUES (1, 1); INSERT INTO log VALUES (now(), 'after')",
    );
    await pair.catchUp();
    await pair.expectEqual();
    const [counts] = await query<{ lines: string; children: string }>(
      pair.destinationUrl,
      'SELECT (SELECT count(*) FROM staging.lines) AS lines, (SELECT count(*) FROM staging.children) AS children',
    );
    expect(counts).toEqual({ lines: '0', children: '1' });
  });

  it('lands rows of a partition attached after the snapshot in the root table', async () => {
    await query(
      pair.sourceUrl,
      `CREATE TABLE measurements_2027 (id int NOT NULL, taken date NOT NULL, value float8);
       INSERT INTO measurements_2027 VALUES (1, '2027-05-01', 0.5);
       ALTER TABLE measurements ATTACH PARTITION measurements_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
       INSERT INTO measurements VALUES (2027, '2027-06-01', 27);
       UPDATE measurements SET value = 99 WHERE taken = '2027-05-01';`,
    );
    await pair.catchUp();
    const rows = await query<{ id: number; value: number }>(
      pair.destinationUrl,
      "SELECT id, value FROM staging.measurements WHERE taken >= '2027-01-01' ORDER BY id",
    );
    // The row written before the ATTACH was never published; the update of it arrives as an upsert.
    expect(rows).toEqual([
      { id: 1, value: 99 },
      { id: 2027, value: 27 },
    ]);
    await pair.expectEqual();
  });

  it('advances the slot while the replicated database is idle and another one on the server is busy', async () => {
    await query(pair.source.url(), 'CREATE DATABASE other');
    const [{ before }] = (await query<{ before: string }>(
      pair.sourceUrl,
      'SELECT pg_current_wal_lsn()::text AS before',
    )) as [{ before: string }];
    await query(
      pair.source.url('other'),
      "CREATE TABLE noise AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 100000) g",
    );
    const moved = await waitFor(
      "the slot to move past the other database's WAL",
      async () => {
        const [slot] = await query<{ ok: boolean }>(
          pair.sourceUrl,
          "SELECT confirmed_flush_lsn > $1::pg_lsn + 10000000 AS ok FROM pg_replication_slots WHERE slot_name = 'elt_slot'",
          [before],
        );
        return slot?.ok;
      },
      60_000,
    );
    expect(moved).toBe(true);
    // The replica says so too: its applied LSN moves past WAL that held nothing of its own.
    await pair.catchUp();
    // The slot's restart point follows at the next running-transactions record (every 15 s):
    // the WAL the slot retains, as `elt status` reports it, falls back below one segment.
    const report = await waitFor(
      'the retained WAL to shrink',
      async () => {
        const status = await pair.run(['status', '--json']);
        const report = JSON.parse(status.output) as { retained_wal_bytes: number };
        return report.retained_wal_bytes < 16 * 1024 * 1024 && report;
      },
      90_000,
      2_000,
    );
    expect(report.retained_wal_bytes).toBeLessThan(16 * 1024 * 1024);
  });
});
