/**
 * A source table that is gone (DROP TABLE, or ALTER TABLE … SET SCHEMA out of the replicated
 * schemas) sends nothing on the stream. Its replica must not go on saying `streaming` over rows
 * the source no longer has under that name: it becomes `excluded` with the reason, keeps the
 * rows it had when the table went (every change committed before is applied first), and the
 * other tables stream on. A table created again under the name is a new table, copied.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query, waitFor } from '../../harness/replication.js';

describe('a source table that is gone', () => {
  const pair = replicationSuite({
    sourceSql: `
      CREATE TABLE old_orders (id int PRIMARY KEY, v text);
      INSERT INTO old_orders SELECT i, 'order ' || i FROM generate_series(1, 100) i;
      CREATE TABLE moved (id int PRIMARY KEY, v text);
      INSERT INTO moved SELECT i, 'moved ' || i FROM generate_series(1, 50) i;
      CREATE TABLE other (id int PRIMARY KEY, v text);
      CREATE SCHEMA archive;`,
  });
  const stateOf = async (table: string) => (await pair.tableState(table))!;
  const excluded = (table: string) =>
    waitFor(`${table} to be excluded`, async () => {
      const row = await stateOf(table);
      return row.state === 'excluded' ? row : null;
    });
  const replicaCount = async (table: string) =>
    Number((await query<{ n: string }>(pair.destinationUrl, `SELECT count(*) AS n FROM staging.${table}`))[0]!.n);

  it('dropped while the replicator was down: excluded once its last changes are applied, and they are', async () => {
    await pair.stop();
    // A backlog the stream needs a while to apply: the table's last rows must still arrive.
    await query(pair.sourceUrl, `INSERT INTO old_orders SELECT i, 'late ' || i FROM generate_series(101, 20000) i`);
    await query(pair.sourceUrl, 'DROP TABLE old_orders');
    await query(pair.sourceUrl, `INSERT INTO other VALUES (1, 'after the drop')`);
    await pair.start();

    const row = await excluded('old_orders');
    expect(row.last_error).toMatch(/^The source table was dropped \(OID \d+\): the replica keeps the rows it had then/);
    expect(await replicaCount('old_orders')).toBe(20_000);
    await query(pair.sourceUrl, `INSERT INTO other VALUES (2, 'later')`);
    await pair.catchUp();
    expect(await stateOf('other')).toEqual({ state: 'streaming', last_error: null });
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
    const status = await pair.run(['status']);
    expect(status.output).toMatch(/old_orders[^\n]*excluded/);
    expect(status.output).toContain('The source table was dropped');
  });

  it('moved out of the replicated schemas while streaming: excluded, naming where it went', async () => {
    await query(pair.sourceUrl, `UPDATE moved SET v = 'last' WHERE id = 1`);
    await query(pair.sourceUrl, 'ALTER TABLE moved SET SCHEMA archive');
    const row = await excluded('moved');
    expect(row.last_error).toMatch(
      /moved to archive\.moved .*outside the replicated schemas.*Add archive to ELT_SOURCE_SCHEMAS/,
    );
    expect((await query(pair.destinationUrl, 'SELECT v FROM staging.moved WHERE id = 1'))[0]).toEqual({ v: 'last' });
    expect(await replicaCount('moved')).toBe(50);
  });

  it('created again under its name: copied as a new table, with its own columns', async () => {
    await query(
      pair.sourceUrl,
      `CREATE TABLE old_orders (id bigint PRIMARY KEY, amount numeric NOT NULL, note text);
       INSERT INTO old_orders SELECT i, i * 1.5, 'new ' || i FROM generate_series(1, 300) i;`,
    );
    await waitFor('the new old_orders to stream', async () => (await stateOf('old_orders')).state === 'streaming');
    await query(pair.sourceUrl, `UPDATE old_orders SET note = 'changed' WHERE id <= 10`);
    await pair.catchUp();
    expect(await stateOf('old_orders')).toEqual({ state: 'streaming', last_error: null });
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
    const columns = await query<{ column_name: string }>(
      pair.destinationUrl,
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging' AND table_name = 'old_orders' AND column_name NOT LIKE '\\_%' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => c.column_name)).toEqual(['id', 'amount', 'note']);
  });

  it('a restart keeps the gone table excluded and the new one streaming', async () => {
    await pair.restart();
    await query(
      pair.sourceUrl,
      `INSERT INTO old_orders VALUES (1000, 1, 'after the restart'); INSERT INTO other VALUES (3, 'x')`,
    );
    await pair.catchUp();
    expect((await stateOf('moved')).state).toBe('excluded');
    expect(await stateOf('old_orders')).toEqual({ state: 'streaming', last_error: null });
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
  });
});

describe('a source table that is gone, and another under its name', () => {
  const pair = replicationSuite({
    sourceSql: `
      CREATE TABLE orders (id int PRIMARY KEY, v text);
      INSERT INTO orders SELECT i, 'old ' || i FROM generate_series(1, 100) i;
      CREATE TABLE orders_new (id int PRIMARY KEY, v text, extra int);
      INSERT INTO orders_new SELECT i, 'new ' || i, i FROM generate_series(1, 200) i;
      CREATE TABLE moved (id int PRIMARY KEY, v text);
      INSERT INTO moved SELECT i, 'moved ' || i FROM generate_series(1, 50) i;
      CREATE TABLE held (id int PRIMARY KEY, v text);
      INSERT INTO held SELECT i, 'held ' || i FROM generate_series(1, 20) i;
      CREATE TABLE side (id int PRIMARY KEY, v text);
      CREATE SCHEMA archive;
      CREATE PUBLICATION all_pub FOR ALL TABLES WITH (publish_via_partition_root = true);`,
    // A user's publication FOR ALL TABLES: a table moved to another schema is still published.
    env: { ELT_PUBLICATION: 'all_pub' },
  });
  const rows = () =>
    query<{ source_table: string; state: string }>(
      pair.destinationUrl,
      'SELECT source_table, state FROM elt.tables ORDER BY 1',
    );
  /** The row of the table the source has under this name now, streaming. */
  const holdsSource = (table: string) =>
    waitFor(`${table} to stream from the source table under its name`, async () => {
      const [source] = await query<{ oid: string }>(pair.sourceUrl, 'SELECT to_regclass($1)::oid::int8 AS oid', [
        table,
      ]);
      const [row] = await query<{ oid: string | null; state: string }>(
        pair.destinationUrl,
        'SELECT source_oid::int8 AS oid, state FROM elt.tables WHERE source_schema = $1 AND source_table = $2',
        ['public', table],
      );
      return row?.state === 'streaming' && row.oid === source?.oid;
    });

  it('a table swapped in by a rename (drop the old, rename the new to its name): the replica follows, nothing stale says streaming', async () => {
    // The online migration's swap, on a table with no change for a while after it.
    await query(pair.sourceUrl, 'BEGIN; DROP TABLE orders; ALTER TABLE orders_new RENAME TO orders; COMMIT');
    // Long enough for the heartbeat to find the dropped table gone (at least one beat after the drop).
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    await holdsSource('orders');
    await query(pair.sourceUrl, `UPDATE orders SET v = 'changed' WHERE id <= 5`);
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
    // No row for a name the source no longer has still says it streams.
    expect((await rows()).filter((r) => r.state === 'streaming').map((r) => r.source_table)).toEqual([
      'held',
      'moved',
      'orders',
      'side',
    ]);
    // Renamed once more: the stream follows the rename of the table it holds.
    await query(pair.sourceUrl, `ALTER TABLE orders RENAME TO orders_x; UPDATE orders_x SET v = 'again' WHERE id <= 3`);
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
  });

  it('moved out of the replicated schemas, changed there, moved back: copied again, and its changes then applied', async () => {
    await query(pair.sourceUrl, 'ALTER TABLE moved SET SCHEMA archive');
    await query(pair.sourceUrl, `UPDATE archive.moved SET v = 'in archive' WHERE id = 1`);
    await waitFor('moved to be excluded', async () => (await pair.tableState('moved'))?.state === 'excluded');
    await query(pair.sourceUrl, 'ALTER TABLE archive.moved SET SCHEMA public');
    await waitFor('moved to stream again', async () => (await pair.tableState('moved'))?.state === 'streaming');
    await query(pair.sourceUrl, `UPDATE moved SET v = 'back' WHERE id <= 10`);
    await pair.catchUp();
    expect(
      await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['orders', 'orders_x', 'held'] }),
    ).toEqual([]);
  });

  it('created again while a reader holds the gone replica: the others stream on, and it is copied once the reader is done', async () => {
    await query(pair.sourceUrl, 'DROP TABLE held');
    await waitFor('held to be excluded', async () => (await pair.tableState('held'))?.state === 'excluded');
    // A report reading the kept replica, in a transaction left open.
    const reader = new pg.Client(pair.destinationUrl);
    await reader.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM staging.held');
      await query(pair.sourceUrl, `CREATE TABLE held (id int PRIMARY KEY, w text); INSERT INTO held VALUES (1, 'new')`);
      // Two heartbeats: the selection watch has tried to drop the held replica.
      await new Promise((resolve) => setTimeout(resolve, 11_000));
      await query(pair.sourceUrl, `INSERT INTO side VALUES (1, 'while a reader holds the gone replica')`);
      await pair.catchUp({ timeoutMs: 20_000 });
      expect(await query(pair.destinationUrl, 'SELECT id, v FROM staging.side')).toEqual([
        { id: 1, v: 'while a reader holds the gone replica' },
      ]);
    } finally {
      await reader.query('ROLLBACK');
      await reader.end();
    }
    await holdsSource('held');
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['orders', 'orders_x'] })).toEqual([]);
  });
});

describe.each([
  { lands: 'in the same target schema', map: undefined, target: 'staging' },
  { lands: 'in a target schema of its own', map: 'public:staging,sales:staging_sales', target: 'staging_sales' },
])('a source table moved to another replicated schema, landing $lands', ({ map, target }) => {
  const pair = replicationSuite({
    sourceSql: `
      CREATE SCHEMA sales;
      CREATE TABLE busy (id int PRIMARY KEY, v text);
      INSERT INTO busy SELECT i, 'busy ' || i FROM generate_series(1, 50) i;
      CREATE TABLE quiet (id int PRIMARY KEY, v text);
      INSERT INTO quiet SELECT i, 'quiet ' || i FROM generate_series(1, 50) i;`,
    env: { ELT_SOURCE_SCHEMAS: 'public,sales', ...(map ? { ELT_TARGET_SCHEMA_MAP: map } : {}) },
  });
  const rowsOf = (table: string) =>
    query<{ schema: string; state: string; target: string }>(
      pair.destinationUrl,
      `SELECT source_schema AS schema, state, target_schema AS target FROM elt.tables WHERE source_table = $1`,
      [table],
    );
  const copies = async (table: string) =>
    Number(
      (
        await query<{ n: string }>(
          pair.destinationUrl,
          'SELECT count(*) AS n FROM elt.resync_job_tables WHERE source_table = $1',
          [table],
        )
      )[0]!.n,
    );
  const followed = (table: string) =>
    waitFor(`${table} to be followed into sales`, async () => {
      const rows = await rowsOf(table);
      return rows.length === 1 && rows[0]!.schema === 'sales' && rows[0]!.state === 'streaming' ? rows : null;
    });

  it('changed right after the move: the stream follows it, its replica moves, nothing is copied', async () => {
    await query(
      pair.sourceUrl,
      `ALTER TABLE busy SET SCHEMA sales; UPDATE sales.busy SET v = 'in sales' WHERE id <= 5`,
    );
    expect(await followed('busy')).toEqual([{ schema: 'sales', state: 'streaming', target }]);
    await pair.catchUp();
    expect(
      await compareReplica(pair.sourceUrl, pair.destinationUrl, { sourceSchema: 'sales', targetSchema: target }),
    ).toEqual([]);
    expect(await copies('busy')).toBe(0);
  });

  it('left unchanged after the move: followed once its last changes are applied, nothing is copied, and it streams', async () => {
    await query(pair.sourceUrl, `UPDATE quiet SET v = 'last in public' WHERE id = 1`);
    await query(pair.sourceUrl, 'ALTER TABLE quiet SET SCHEMA sales');
    expect(await followed('quiet')).toEqual([{ schema: 'sales', state: 'streaming', target }]);
    expect(await copies('quiet')).toBe(0);
    await query(pair.sourceUrl, `UPDATE sales.quiet SET v = 'in sales' WHERE id = 2`);
    await pair.catchUp();
    expect(
      await compareReplica(pair.sourceUrl, pair.destinationUrl, { sourceSchema: 'sales', targetSchema: target }),
    ).toEqual([]);
  });

  it('moved back: followed back, and streams', async () => {
    await query(pair.sourceUrl, 'ALTER TABLE sales.quiet SET SCHEMA public');
    await waitFor('quiet to be followed back', async () => {
      const rows = await rowsOf('quiet');
      return rows.length === 1 && rows[0]!.schema === 'public' && rows[0]!.state === 'streaming';
    });
    await query(pair.sourceUrl, `UPDATE quiet SET v = 'back' WHERE id = 3`);
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
    expect(await copies('quiet')).toBe(0);
  });
});

describe('a table the selection left out after replicating it, moved to a schema where it is selected', () => {
  const publication = { ELT_PUBLICATION: 'all_pub', ELT_SOURCE_SCHEMAS: 'public,sales' };
  const pair = replicationSuite({
    sourceSql: `
      CREATE SCHEMA sales;
      CREATE TABLE old_stuff (id int PRIMARY KEY, v text);
      INSERT INTO old_stuff SELECT i, 'stuff ' || i FROM generate_series(1, 20) i;
      CREATE PUBLICATION all_pub FOR ALL TABLES;`,
    env: { ...publication, ELT_TARGET_SCHEMA_MAP: 'public:staging,sales:staging_sales' },
  });

  it('is copied there as a new table, not followed from its stale replica', async () => {
    await pair.restart({ ELT_EXCLUDE_TABLES: 'public.old_stuff' });
    await waitFor('old_stuff to be left out', async () => (await pair.tableState('old_stuff'))?.state === 'excluded');
    // Missed by the kept replica: the table is no longer replicated.
    await query(pair.sourceUrl, `UPDATE old_stuff SET v = 'while left out' WHERE id <= 10`);
    await query(
      pair.sourceUrl,
      `ALTER TABLE old_stuff SET SCHEMA sales; UPDATE sales.old_stuff SET v = 'in sales' WHERE id = 20`,
    );
    await waitFor('sales.old_stuff to stream', async () => {
      const [row] = await query<{ state: string }>(
        pair.destinationUrl,
        `SELECT state FROM elt.tables WHERE source_schema = 'sales' AND source_table = 'old_stuff'`,
      );
      return row?.state === 'streaming';
    });
    await pair.catchUp();
    expect(
      await compareReplica(pair.sourceUrl, pair.destinationUrl, {
        sourceSchema: 'sales',
        targetSchema: 'staging_sales',
      }),
    ).toEqual([]);
  });
});
