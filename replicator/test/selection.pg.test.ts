/**
 * Table selection (ELT_INCLUDE_TABLES, ELT_EXCLUDE_TABLES, ELT_DROP_UNSELECTED) against real
 * servers: only selected tables are copied and streamed, the others show `excluded` with the
 * pattern that leaves them out; the publication elt creates lists the selected tables and
 * follows a new matching table and a changed selection, copying only the newly selected table
 * online; a publication the user made is filtered, never altered.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { metricValue } from '../../harness/metrics.js';
import { freePort } from '../../harness/pg-cluster.js';
import { compareReplica, query, waitFor } from '../../harness/replication.js';
import { enqueueResync } from '../src/state/resync-queue.js';

const rows = (table: string, n: number) =>
  `CREATE TABLE ${table} (id int PRIMARY KEY, v text); INSERT INTO ${table} SELECT i, 'row ' || i FROM generate_series(1, ${n}) i;`;

interface TableRow {
  table: string;
  state: string;
  selected: boolean;
  last_error: string | null;
  snapshot_done_at: string | null;
}

async function tableRows(url: string): Promise<Record<string, TableRow>> {
  const list = await query<TableRow>(
    url,
    'SELECT source_table AS table, state, selected, last_error, snapshot_done_at::text FROM elt.tables ORDER BY 1',
  );
  return Object.fromEntries(list.map((r) => [r.table, r]));
}

const replicaExists = async (url: string, table: string) =>
  (await query<{ ok: boolean }>(url, 'SELECT to_regclass($1) IS NOT NULL AS ok', [table]))[0]!.ok;

const count = async (url: string, table: string) =>
  Number((await query<{ n: string }>(url, `SELECT count(*) AS n FROM ${table}`))[0]!.n);

const published = async (url: string, publication = 'elt_pub') =>
  (
    await query<{ t: string }>(
      url,
      "SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1",
      [publication],
    )
  ).map((r) => r.t);

/** Resync jobs by id: what was copied online, and why. */
const jobs = async (url: string) =>
  query<{ id: string; requested_by: string; tables: string[] }>(
    url,
    `SELECT j.id::text, j.requested_by, array_agg(t.source_schema || '.' || t.source_table ORDER BY 1) AS tables
     FROM elt.resync_jobs j JOIN elt.resync_job_tables t ON t.job_id = j.id GROUP BY j.id ORDER BY j.id`,
  );

describe('a selection on the publication elt creates', () => {
  const pair = replicationSuite({
    start: false,
    sourceSql: rows('orders', 100) + rows('customers', 50) + rows('audit_log', 20) + rows('notes', 10),
  });
  // The selection comes from a settings file here (the restarts below override its include list by the environment).
  const settingsFile = join(mkdtempSync(join(tmpdir(), 'elt-selection-')), 'elt.yaml');
  writeFileSync(
    settingsFile,
    [
      'include_tables:',
      '  - public.orders',
      "  - 'public.cust*'",
      "  - 'public.new_*'",
      "exclude_tables: 'public.audit_*'",
    ].join('\n'),
  );
  afterAll(() => rmSync(dirname(settingsFile), { recursive: true, force: true }));

  it('copies only the selected tables; the others are excluded with the reason and their changes never arrive', async () => {
    const metricsPort = await freePort();
    await pair.start({ ELT_METRICS_PORT: String(metricsPort) }, { args: ['replicate', '--config', settingsFile] });
    expect(await published(pair.sourceUrl)).toEqual(['public.customers', 'public.orders']);
    const [comment] = await query<{ c: string }>(
      pair.sourceUrl,
      "SELECT obj_description(oid, 'pg_publication') AS c FROM pg_publication WHERE pubname = 'elt_pub'",
    );
    expect(comment!.c).toMatch(/^managed by elt/);

    await query(
      pair.sourceUrl,
      "INSERT INTO audit_log VALUES (21, 'x'); INSERT INTO notes VALUES (11, 'x'); UPDATE orders SET v = 'changed' WHERE id < 10",
    );
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['audit_log', 'notes'] })).toEqual([]);
    expect(await replicaExists(pair.destinationUrl, 'staging.audit_log')).toBe(false);
    expect(await replicaExists(pair.destinationUrl, 'staging.notes')).toBe(false);
    const tables = await tableRows(pair.destinationUrl);
    expect(tables.audit_log).toMatchObject({ state: 'excluded', selected: false });
    expect(tables.audit_log!.last_error).toBe(
      "Not selected: ELT_EXCLUDE_TABLES pattern 'public.audit_*' matches it. Remove that pattern to replicate it.",
    );
    expect(tables.notes).toMatchObject({ state: 'excluded', selected: false });
    expect(tables.notes!.last_error).toMatch(/^Not selected: no ELT_INCLUDE_TABLES pattern matches it/);
    expect(tables.orders).toMatchObject({ state: 'streaming', selected: true });

    const status = await pair.run(['status']);
    expect(status.output).toMatch(/audit_log\s+excluded.*\sno\n\s+Not selected: ELT_EXCLUDE_TABLES pattern/);
    await waitFor('the selection in the metrics', async () => {
      const [orders, audit] = await Promise.all([
        metricValue(metricsPort, 'elt_table_selected{table="public.orders"}'),
        metricValue(metricsPort, 'elt_table_selected{table="public.audit_log"}'),
      ]);
      return orders === 1 && audit === 0;
    });
    expect(await metricValue(metricsPort, 'elt_table_state{table="public.audit_log",state="excluded"}')).toBe(1);
  });

  it('copies a new matching table, with the rows written before any further change, then streams it', async () => {
    const before = (await jobs(pair.destinationUrl)).length;
    await query(pair.sourceUrl, rows('new_items', 30) + rows('other_new', 5));
    await waitFor(
      'the new table to be copied',
      async () => (await tableRows(pair.destinationUrl)).new_items?.state === 'streaming',
    );
    await pair.catchUp();
    expect(await count(pair.destinationUrl, 'staging.new_items')).toBe(30);
    expect((await jobs(pair.destinationUrl)).slice(before)).toEqual([
      expect.objectContaining({ requested_by: 'elt: newly selected', tables: ['public.new_items'] }),
    ]);
    expect(await published(pair.sourceUrl)).toEqual(['public.customers', 'public.new_items', 'public.orders']);

    await query(
      pair.sourceUrl,
      "INSERT INTO new_items VALUES (31, 'later'); UPDATE new_items SET v = 'u' WHERE id = 1",
    );
    await waitFor(
      'the unselected new table to show excluded',
      async () => (await tableRows(pair.destinationUrl)).other_new?.state === 'excluded',
    );
    await pair.catchUp();
    expect(
      await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['audit_log', 'notes', 'other_new'] }),
    ).toEqual([]);
    expect(await replicaExists(pair.destinationUrl, 'staging.other_new')).toBe(false);
  });

  it('at a restart with a changed selection copies only the newly selected table and keeps the unselected replica', async () => {
    const before = await tableRows(pair.destinationUrl);
    const jobsBefore = (await jobs(pair.destinationUrl)).length;
    const stateRow = () =>
      query(pair.destinationUrl, 'SELECT started_at::text, snapshot_lsn::text FROM elt.replication_state');
    const snapshotBefore = await stateRow();
    await pair.restart({ ELT_INCLUDE_TABLES: 'public.orders,public.notes,public.new_*' });
    await waitFor(
      'the newly selected table to be copied',
      async () => (await tableRows(pair.destinationUrl)).notes?.state === 'streaming',
    );
    await query(pair.sourceUrl, "UPDATE customers SET v = 'after' WHERE id = 1; INSERT INTO notes VALUES (12, 'n')");
    await pair.catchUp();

    // No snapshot, and the one copy is the newly selected table's.
    expect(await stateRow()).toEqual(snapshotBefore);
    expect((await jobs(pair.destinationUrl)).slice(jobsBefore)).toEqual([
      expect.objectContaining({ requested_by: 'elt: newly selected', tables: ['public.notes'] }),
    ]);
    const after = await tableRows(pair.destinationUrl);
    expect(after.orders!.snapshot_done_at).toBe(before.orders!.snapshot_done_at);
    expect(await count(pair.destinationUrl, 'staging.notes')).toBe(12);
    expect(after.customers).toMatchObject({ state: 'excluded', selected: false });
    expect(after.customers!.last_error).toMatch(/^Not selected: no ELT_INCLUDE_TABLES pattern matches it/);
    // Kept as it was: the change after the restart did not arrive.
    expect(await count(pair.destinationUrl, "staging.customers WHERE v = 'after'")).toBe(0);
    expect(await count(pair.destinationUrl, 'staging.customers')).toBe(50);
    expect(await published(pair.sourceUrl)).toEqual(['public.new_items', 'public.notes', 'public.orders']);
    expect(
      await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['audit_log', 'customers', 'other_new'] }),
    ).toEqual([]);
  });

  it('replaces the kept replica of a table selected again with a fresh copy, and streams it', async () => {
    const jobsBefore = (await jobs(pair.destinationUrl)).length;
    await pair.restart({ ELT_INCLUDE_TABLES: 'public.orders,public.notes,public.new_*,public.customers' });
    await waitFor(
      'the table selected again to be copied',
      async () => (await tableRows(pair.destinationUrl)).customers?.state === 'streaming',
    );
    await query(pair.sourceUrl, "UPDATE customers SET v = 'again' WHERE id = 2");
    await pair.catchUp();
    expect((await jobs(pair.destinationUrl)).slice(jobsBefore)).toEqual([
      expect.objectContaining({ requested_by: 'elt: newly selected', tables: ['public.customers'] }),
    ]);
    expect((await tableRows(pair.destinationUrl)).customers).toMatchObject({ selected: true, last_error: null });
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['audit_log', 'other_new'] })).toEqual(
      [],
    );
  });

  it('drops the unselected replica with ELT_DROP_UNSELECTED=true, copying nothing', async () => {
    const jobsBefore = (await jobs(pair.destinationUrl)).length;
    await pair.restart({ ELT_INCLUDE_TABLES: 'public.orders,public.notes,public.new_*', ELT_DROP_UNSELECTED: 'true' });
    await pair.catchUp();
    expect(await replicaExists(pair.destinationUrl, 'staging.customers')).toBe(false);
    expect((await tableRows(pair.destinationUrl)).customers).toMatchObject({ state: 'excluded', selected: false });
    expect(await jobs(pair.destinationUrl)).toHaveLength(jobsBefore);
  });
});

describe("a selection on the user's publication", () => {
  const pair = replicationSuite({
    start: false,
    sourceSql:
      rows('keep_a', 20) +
      rows('drop_b', 20) +
      `CREATE PUBLICATION all_pub FOR ALL TABLES WITH (publish_via_partition_root = true);
       CREATE PUBLICATION schema_pub FOR TABLES IN SCHEMA public WITH (publish_via_partition_root = true);`,
  });
  const definitions = () =>
    query(
      pair.sourceUrl,
      `SELECT p.pubname, p.puballtables, obj_description(p.oid, 'pg_publication') AS comment,
         (SELECT count(*) FROM pg_publication_rel r WHERE r.prpubid = p.oid)::int AS tables,
         (SELECT count(*) FROM pg_publication_namespace n WHERE n.pnpubid = p.oid)::int AS schemas
       FROM pg_publication p ORDER BY 1`,
    );

  it.each([
    ['FOR ALL TABLES', 'all_pub', 'staging_all'],
    ['FOR TABLES IN SCHEMA', 'schema_pub', 'staging_schema'],
  ])('%s: filtered, never altered', async (_kind, publication, target) => {
    const before = await definitions();
    const slot = `slot_${publication}`;
    await pair.start(
      {
        ELT_PUBLICATION: publication,
        ELT_SLOT: slot,
        ELT_TARGET_SCHEMA: target,
        ELT_INCLUDE_TABLES: 'public.keep_*',
      },
      { slot },
    );
    await query(
      pair.sourceUrl,
      `INSERT INTO drop_b SELECT max(id) + 1, 'x' FROM drop_b; INSERT INTO keep_a SELECT max(id) + 1, 'x' FROM keep_a;` +
        rows(`keep_${publication}`, 7) +
        rows(`skip_${publication}`, 7),
    );
    await waitFor(
      'the new selected table to be copied',
      async () =>
        (
          await query<{ state: string }>(
            pair.destinationUrl,
            'SELECT state FROM elt.tables WHERE slot_name = $1 AND source_table = $2',
            [slot, `keep_${publication}`],
          )
        )[0]?.state === 'streaming',
    );
    await pair.catchUp({ slot });
    const replicas = await query<{ t: string }>(
      pair.destinationUrl,
      "SELECT relname AS t FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind = 'r' ORDER BY 1",
      [target],
    );
    // Every keep_* table (one the other case made too), no other.
    const keep = await query<{ t: string }>(
      pair.sourceUrl,
      "SELECT relname AS t FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname LIKE 'keep\\_%' ORDER BY 1",
    );
    expect(replicas.map((r) => r.t)).toEqual(keep.map((r) => r.t));
    expect(replicas.map((r) => r.t)).toContain(`keep_${publication}`);
    expect(await count(pair.destinationUrl, `${target}.keep_${publication}`)).toBe(7);
    expect(await count(pair.destinationUrl, `${target}.keep_a`)).toBe(await count(pair.sourceUrl, 'keep_a'));
    const [dropB] = await query<{ state: string; selected: boolean; last_error: string }>(
      pair.destinationUrl,
      "SELECT state, selected, last_error FROM elt.tables WHERE slot_name = $1 AND source_table = 'drop_b'",
      [slot],
    );
    expect(dropB).toMatchObject({ state: 'excluded', selected: false });
    expect(dropB!.last_error).toMatch(/^Not selected: no ELT_INCLUDE_TABLES pattern matches it \(public\.keep_\*\)/);
    expect(await definitions()).toEqual(before);
    await pair.stop();
  });
});

describe('a selection followed by a role that may not publish a new table', () => {
  const pair = replicationSuite({
    start: false,
    // The least-privilege set-up: elt's role owns the tables it was given and may create publications,
    // but a table a migration creates later belongs to someone else.
    sourceSql: `${rows('orders', 20)} CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'pw'; ALTER TABLE orders OWNER TO replicator;`,
  });

  it('stops that table alone, in error with the statement a superuser must run, and resumes it after a resync', async () => {
    const database = (await query<{ d: string }>(pair.sourceUrl, 'SELECT current_database() AS d'))[0]!.d;
    await query(pair.sourceUrl, `GRANT CREATE ON DATABASE ${database} TO replicator`);
    const asReplicator = new URL(pair.sourceUrl);
    asReplicator.username = 'replicator';
    asReplicator.password = 'pw';
    await pair.start({ ELT_SOURCE_URL: asReplicator.toString(), ELT_INCLUDE_TABLES: 'public.orders,public.new_*' });

    await query(pair.sourceUrl, `${rows('new_things', 30)} GRANT SELECT ON new_things TO replicator;`);
    await waitFor(
      'the new table to be in error',
      async () => (await tableRows(pair.destinationUrl)).new_things?.state === 'error',
    );
    const refused = (await tableRows(pair.destinationUrl)).new_things!;
    expect(refused.last_error).toContain('ALTER PUBLICATION "elt_pub" ADD TABLE "public"."new_things"');
    expect(refused.last_error).toContain('resync the table');
    expect(await jobs(pair.destinationUrl)).toEqual([]);

    // The other table streams on; the refused one is not tried again at each heartbeat.
    await query(pair.sourceUrl, "INSERT INTO orders VALUES (21, 'after'); INSERT INTO new_things VALUES (31, 'after')");
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['new_things'] })).toEqual([]);
    expect(pair.output().match(/a newly selected table cannot be published/g)).toHaveLength(1);

    // What the error says to do: a superuser publishes it, then a resync copies it.
    await query(pair.sourceUrl, 'ALTER PUBLICATION elt_pub ADD TABLE public.new_things');
    const db = new pg.Client({ connectionString: pair.destinationUrl });
    await db.connect();
    await enqueueResync(db, 'elt_slot', [{ schema: 'public', table: 'new_things' }], 'test').finally(() => db.end());
    await waitFor(
      'the resynced table to stream',
      async () => (await tableRows(pair.destinationUrl)).new_things?.state === 'streaming',
    );
    await query(pair.sourceUrl, "UPDATE new_things SET v = 'streamed' WHERE id <= 5");
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
    await pair.stop();
  });
});
