/**
 * Several source schemas (ELT_TARGET_SCHEMA_MAP) against real servers: two tables of the same
 * name in two schemas land apart, a type one of them uses is recreated once in the default
 * target, changes and schema changes stream into the right schema, a new table of a mapped
 * schema is created there, and a changed map moves the replica at the next start without
 * copying it again (and a changed ELT_TARGET_SCHEMA takes the recreated types along); a resync
 * of a mapped table stays in its schema; teardown drops every target schema.
 */
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query, waitFor } from '../../harness/replication.js';
import { queueResync, waitForResync } from './queue-resync.js';

const SOURCE = `
  CREATE SCHEMA sales;
  CREATE TYPE public.channel AS ENUM ('web', 'shop');
  CREATE TABLE public.orders (id int PRIMARY KEY, v text);
  CREATE TABLE sales.orders (id int PRIMARY KEY, amount numeric(10, 2), channel public.channel);
  INSERT INTO public.orders SELECT i, 'public ' || i FROM generate_series(1, 100) i;
  INSERT INTO sales.orders SELECT i, i * 1.5, 'web' FROM generate_series(1, 40) i;
`;

const tables = async (url: string) =>
  query<{ table: string; target: string; state: string; snapshot_done_at: string | null }>(
    url,
    `SELECT source_schema || '.' || source_table AS table, target_schema || '.' || target_table AS target, state,
       snapshot_done_at::text FROM elt.tables ORDER BY 1`,
  );

const count = async (url: string, table: string) =>
  Number((await query<{ n: string }>(url, `SELECT count(*) AS n FROM ${table}`))[0]!.n);

describe('several source schemas with ELT_TARGET_SCHEMA_MAP', () => {
  const pair = replicationSuite({ start: false, sourceSql: SOURCE });
  const expectBothEqual = async (salesTarget: string, publicTarget = 'staging') => {
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { targetSchema: publicTarget })).toEqual([]);
    expect(
      await compareReplica(pair.sourceUrl, pair.destinationUrl, { sourceSchema: 'sales', targetSchema: salesTarget }),
    ).toEqual([]);
  };

  it('refuses two tables of one name in one target schema, naming the setting that separates them', async () => {
    const run = await pair.run(['replicate'], { ELT_SOURCE_SCHEMAS: 'public,sales' });
    expect(run.code).toBe(2);
    expect(run.output).toContain('The source tables public.orders and sales.orders would both land in staging.orders.');
    expect(run.output).toContain(
      'Give one of the schemas a target schema of its own (ELT_TARGET_SCHEMA_MAP=sales:staging_sales), or leave one table out (ELT_EXCLUDE_TABLES).',
    );
  });

  it('refuses a target schema that holds what elt did not make, and leaves it whole', async () => {
    await query(
      pair.destinationUrl,
      'CREATE SCHEMA staging_sales; CREATE TABLE staging_sales.customer_notes (id int); CREATE VIEW staging_sales.v AS SELECT 1 AS x',
    );
    const run = await pair.run(['replicate'], {
      ELT_SOURCE_SCHEMAS: 'public,sales',
      ELT_TARGET_SCHEMA_MAP: 'sales:staging_sales',
    });
    expect(run.code, run.output).toBe(2);
    expect(run.output).toContain(
      'The target schema staging_sales holds what elt did not make: staging_sales.customer_notes (table), staging_sales.v (view).',
    );
    expect(await count(pair.destinationUrl, 'staging_sales.customer_notes')).toBe(0);
    await query(pair.destinationUrl, 'DROP SCHEMA staging_sales CASCADE');
  });

  it('copies and streams the tables of each schema into its target schema', async () => {
    await pair.start({ ELT_SOURCE_SCHEMAS: 'public,sales', ELT_TARGET_SCHEMA_MAP: 'sales:staging_sales' });
    expect(await tables(pair.destinationUrl)).toEqual([
      expect.objectContaining({ table: 'public.orders', target: 'staging.orders', state: 'streaming' }),
      expect.objectContaining({ table: 'sales.orders', target: 'staging_sales.orders', state: 'streaming' }),
    ]);
    // The enum is recreated once, in the default target schema, and the mapped table uses it.
    const [channel] = await query<{ type: string }>(
      pair.destinationUrl,
      "SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'staging_sales.orders'::regclass AND attname = 'channel'",
    );
    expect(channel!.type).toBe('staging.channel');

    await query(
      pair.sourceUrl,
      `INSERT INTO sales.orders VALUES (41, 9.99, 'shop'); UPDATE sales.orders SET amount = 0 WHERE id <= 5;
       DELETE FROM public.orders WHERE id > 90; ALTER TABLE sales.orders ADD COLUMN note text;
       UPDATE sales.orders SET note = 'after the add' WHERE id = 41;
       CREATE TABLE sales.refunds (id int PRIMARY KEY, order_id int); INSERT INTO sales.refunds VALUES (1, 41);`,
    );
    await pair.catchUp();
    await waitFor('the new table of the mapped schema to stream', async () =>
      (await tables(pair.destinationUrl)).some((t) => t.target === 'staging_sales.refunds' && t.state === 'streaming'),
    );
    await pair.catchUp();
    await expectBothEqual('staging_sales');
    expect(await count(pair.destinationUrl, "staging_sales.orders WHERE note = 'after the add'")).toBe(1);
    expect(await count(pair.destinationUrl, 'staging.orders')).toBe(90);
  });

  it('moves the replica when the map changes, without copying it again, and streams on into the new schema', async () => {
    const before = await tables(pair.destinationUrl);
    await pair.restart({ ELT_TARGET_SCHEMA_MAP: 'sales:analytics_sales' });
    await query(
      pair.sourceUrl,
      "INSERT INTO sales.orders VALUES (42, 1, 'web', 'moved'); INSERT INTO sales.refunds VALUES (2, 42)",
    );
    await pair.catchUp();
    const after = await tables(pair.destinationUrl);
    expect(after.map((t) => [t.table, t.target, t.state])).toEqual([
      ['public.orders', 'staging.orders', 'streaming'],
      ['sales.orders', 'analytics_sales.orders', 'streaming'],
      ['sales.refunds', 'analytics_sales.refunds', 'streaming'],
    ]);
    // Moved, not copied: each table's snapshot is the one it had.
    expect(after.map((t) => t.snapshot_done_at)).toEqual(before.map((t) => t.snapshot_done_at));
    expect(await query(pair.destinationUrl, "SELECT 1 FROM pg_tables WHERE schemaname = 'staging_sales'")).toEqual([]);
    await expectBothEqual('analytics_sales');
  });

  it('resyncs a table of a mapped schema in its target schema', async () => {
    // A row only the resync brings back: deleted from the replica behind elt's back.
    await query(pair.destinationUrl, 'DELETE FROM analytics_sales.orders WHERE id <= 10');
    await waitForResync(pair.destinationUrl, await queueResync(pair.destinationUrl, ['sales.orders']));
    await query(pair.sourceUrl, 'UPDATE sales.orders SET amount = 7 WHERE id = 1');
    await pair.catchUp();
    await expectBothEqual('analytics_sales');
    expect(await query(pair.destinationUrl, "SELECT 1 FROM pg_tables WHERE tablename LIKE '\\_elt\\_resync%'")).toEqual(
      [],
    );
  });

  it('moves the recreated types with ELT_TARGET_SCHEMA, so a new table using one streams', async () => {
    await pair.restart({ ELT_TARGET_SCHEMA: 'warehouse', ELT_TARGET_SCHEMA_MAP: 'sales:analytics_sales' });
    await query(
      pair.sourceUrl,
      "CREATE TABLE public.returns (id int PRIMARY KEY, channel public.channel); INSERT INTO public.returns VALUES (1, 'shop')",
    );
    await pair.catchUp();
    await waitFor('the new table using the moved type to stream', async () =>
      (await tables(pair.destinationUrl)).some((t) => t.target === 'warehouse.returns' && t.state === 'streaming'),
    );
    await pair.catchUp();
    const [type] = await query<{ type: string }>(
      pair.destinationUrl,
      "SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'analytics_sales.orders'::regclass AND attname = 'channel'",
    );
    expect(type!.type).toBe('warehouse.channel');
    await expectBothEqual('analytics_sales', 'warehouse');
  });

  it('drops every target schema with teardown --drop-target', async () => {
    await pair.stop();
    const run = await pair.run(['teardown', '--drop-target', '--yes', '--source-schemas', 'public,sales'], {
      ELT_TARGET_SCHEMA: 'warehouse',
      ELT_TARGET_SCHEMA_MAP: 'sales:analytics_sales',
    });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('dropped schema warehouse');
    expect(run.output).toContain('dropped schema analytics_sales');
    expect(
      await query(
        pair.destinationUrl,
        "SELECT nspname FROM pg_namespace WHERE nspname IN ('warehouse', 'analytics_sales')",
      ),
    ).toEqual([]);
  });
});
