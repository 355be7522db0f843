/**
 * Test helpers: a real destination cluster with the elt control schema, rows in elt.* that
 * stand for what a replicator would have written, and the app built on it for `inject`.
 */
import pg from 'pg';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { freePort, startCluster, type PgCluster } from '../../harness/pg-cluster.js';
import { migrateControlSchema } from '../../replicator/src/state/migrate.js';
import { buildApp, type App, type AppOptions } from '../src/app.js';

export const SLOT = 'elt_slot';
export const TOKEN = 'test-token-0123456789abcdef';
export const bearer = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

export interface Destination extends AsyncDisposable {
  cluster: PgCluster;
  url: string;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** A fresh cluster with a `dest` database holding the elt control schema. */
export async function startDestination(name: string): Promise<Destination> {
  const cluster = await startCluster({ name });
  await cluster.psql('CREATE DATABASE dest');
  const url = cluster.url('dest');
  const client = new pg.Client(url);
  await client.connect();
  try {
    await migrateControlSchema(client);
  } finally {
    await client.end();
  }
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => undefined); // an idle client's error: the next query reports it
  const close = async () => {
    await pool.end();
    await cluster.destroy();
  };
  return { cluster, url, pool, close, [Symbol.asyncDispose]: close };
}

/** A URL on which nothing listens: the database is "down". */
export async function deadDatabaseUrl(): Promise<string> {
  return `postgres://postgres@127.0.0.1:${await freePort()}/dest`;
}

export interface Fixture {
  schema: string;
  table: string;
  state: 'snapshotting' | 'streaming' | 'resyncing' | 'error' | 'excluded';
  rowsEstimated?: number | null;
  rowsCopied?: number;
  lastError?: string | null;
  /** False for a table ELT_INCLUDE_TABLES / ELT_EXCLUDE_TABLES leave out (default true). */
  selected?: boolean;
}

export const TABLES: Fixture[] = [
  { schema: 'public', table: 'customers', state: 'streaming', rowsEstimated: 500, rowsCopied: 500 },
  { schema: 'public', table: 'orders', state: 'streaming', rowsEstimated: 1000, rowsCopied: 1000 },
  {
    schema: 'public',
    table: 'payments',
    state: 'error',
    rowsEstimated: null,
    rowsCopied: 10,
    lastError: 'relation staging.payments: column "amount" is of type numeric',
  },
  {
    schema: 'public',
    table: 'audit_log',
    state: 'excluded',
    selected: false,
    lastError:
      "Not selected: ELT_EXCLUDE_TABLES pattern 'public.audit_*' matches it. Remove that pattern to replicate it.",
  },
  { schema: 'sales', table: 'line items', state: 'snapshotting', rowsEstimated: 200, rowsCopied: 50 },
];

/**
 * Reset elt.* to what a streaming replicator of `slot` would have written: its state row
 * (heartbeat now) and the fixture tables; no resync jobs. A second slot's rows are there
 * too, to show that every answer is about one slot only.
 */
export async function seed(pool: pg.Pool, slot = SLOT): Promise<void> {
  await pool.query(
    'TRUNCATE elt.resync_delta, elt.resync_job_tables, elt.resync_jobs, elt.table_columns, elt.tables, elt.replication_state RESTART IDENTITY',
  );
  for (const s of [slot, 'other_slot']) {
    await pool.query(
      `INSERT INTO elt.replication_state (slot_name, phase, snapshot_lsn, applied_lsn, applied_commit_at, applied_at, received_lsn,
         confirmed_lsn, source_wal_lsn, lag_bytes, lag_seconds, retained_wal_bytes, slot_active, wal_status, heartbeat_at, status,
         started_at, host, pid)
       VALUES ($1, 'streaming', '0/1500000', '0/16B3748', now() - interval '2 seconds', now() - interval '1 second', '0/16B4000',
         '0/16B3748', '0/16B5000', 6328, 1.5, 1048576, true, 'reserved', now(), 'streaming', now() - interval '1 hour', 'replica-host', 4242)`,
      [s],
    );
  }
  for (const t of TABLES) {
    await pool.query(
      `INSERT INTO elt.tables (slot_name, source_schema, source_table, target_schema, target_table, state, rows_estimated, rows_copied,
         inserts, updates, deletes, last_change_lsn, last_change_at, last_error, last_error_at, selected)
       VALUES ($1, $2, $3, 'staging', $3, $4, $5, $6, 7, 3, 1, '0/16B3700', now(), $7::text, CASE WHEN $7::text IS NOT NULL THEN now() END, $8)`,
      [
        slot,
        t.schema,
        t.table,
        t.state,
        t.rowsEstimated ?? null,
        t.rowsCopied ?? 0,
        t.lastError ?? null,
        t.selected ?? true,
      ],
    );
  }
  await pool.query(
    `INSERT INTO elt.tables (slot_name, source_schema, source_table, target_schema, target_table, state)
     VALUES ('other_slot', 'public', 'only_in_other_slot', 'staging', 'only_in_other_slot', 'streaming')`,
  );
}

export async function testApp(pool: pg.Pool | string, options: Partial<AppOptions> = {}): Promise<App> {
  const app = await buildApp({ database: pool, token: TOKEN, slot: SLOT, ...options });
  await app.ready();
  return app;
}

/**
 * The destination and the app shared by the tests of a describe block: started in beforeAll,
 * elt.* reset to the seed before each test, closed in afterAll.
 */
export function apiSuite(
  name: string,
  options: Partial<AppOptions> = {},
): { readonly dest: Destination; readonly app: App } {
  let dest: Destination | undefined;
  let app: App | undefined;
  beforeAll(async () => {
    dest = await startDestination(name);
    app = await testApp(dest.pool, options);
  });
  afterAll(async () => {
    await app?.close();
    await dest?.close();
  });
  beforeEach(async () => {
    if (dest) await seed(dest.pool);
  });
  const opened = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the API suite is not open yet (use it inside a test or a hook)');
    return value;
  };
  return {
    get dest() {
      return opened(dest);
    },
    get app() {
      return opened(app);
    },
  };
}

/** Every row of the resync tables, as text: what a refused request must leave exactly as it was. */
export async function resyncSnapshot(pool: pg.Pool): Promise<{ jobs: number; tables: number; rows: string }> {
  const { rows } = await pool.query<{ jobs: number; tables: number; rows: string }>(
    `SELECT (SELECT count(*)::int FROM elt.resync_jobs) AS jobs, (SELECT count(*)::int FROM elt.resync_job_tables) AS tables,
       (SELECT coalesce(json_agg(j ORDER BY j.id), '[]')::text FROM elt.resync_jobs j) ||
       (SELECT coalesce(json_agg(t ORDER BY t.job_id, t.source_schema, t.source_table), '[]')::text FROM elt.resync_job_tables t) AS rows`,
  );
  return rows[0]!;
}
