/**
 * The two source datasets, each in its own database on the source cluster: pgbench's
 * TPC-B tables (`pgbench -i -s S`) and the demo shop (source_db_init at scale S). Each
 * also gets `bench_heartbeat`, the one-row table the lag and catch-up measurements write
 * (see heartbeat.ts), and the publication both consumers read.
 */
import type { PgCluster } from '../harness/pg-cluster.js';
import { query, replicatedTables } from '../harness/replication.js';
import { initDemoSource } from '../source_db_init/init.js';
import { qualified } from '../replicator/src/sql.js';
import { runCommand } from './proc.js';

export type DatasetName = 'pgbench' | 'demo';

/** One publication, read by our replicator and by the native subscription alike. */
export const PUBLICATION = 'elt_pub';

export interface Dataset {
  name: DatasetName;
  /** Database name on the source cluster (and suffix of the destination databases). */
  db: string;
  sourceUrl: string;
  /** Exact rows over every published table (partitioned tables once, via the root). */
  rows: number;
  /** pg_total_relation_size over the source tables: heap, TOAST and indexes. */
  bytes: number;
}

const HEARTBEAT_DDL = `
CREATE TABLE bench_heartbeat (id int PRIMARY KEY, seq bigint NOT NULL, at timestamptz NOT NULL);
INSERT INTO bench_heartbeat VALUES (1, 0, clock_timestamp());`;

const PUBLICATION_DDL = `
SELECT 'CREATE PUBLICATION ${PUBLICATION} FOR TABLES IN SCHEMA public WITH (publish_via_partition_root = true)'
WHERE NOT EXISTS (SELECT FROM pg_publication WHERE pubname = '${PUBLICATION}') \\gexec`;

export async function loadPgbench(source: PgCluster, scale: number): Promise<Dataset> {
  const db = 'pgbench';
  await source.psql(`CREATE DATABASE ${db}`);
  const url = source.url(db);
  await runCommand('pgbench', ['-i', '-q', '-s', String(scale), url]);
  await finishDataset(source, db);
  return describe('pgbench', db, url);
}

export async function loadDemo(source: PgCluster, scale: number): Promise<Dataset> {
  const db = 'shop';
  await source.psql(`CREATE DATABASE ${db}`);
  const url = source.url(db);
  await initDemoSource(url, { scale, replicatorPassword: 'bench' });
  await finishDataset(source, db);
  return describe('demo', db, url);
}

async function finishDataset(source: PgCluster, db: string): Promise<void> {
  await query(source.url(db), HEARTBEAT_DDL);
  await runCommand('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', source.url(db)], { input: PUBLICATION_DDL });
  await source.psql('VACUUM ANALYZE', db);
}

async function describe(name: DatasetName, db: string, url: string): Promise<Dataset> {
  let rows = 0;
  for (const table of await replicatedTables(url)) {
    const [r] = await query<{ n: string }>(url, `SELECT count(*) AS n FROM ${qualified('public', table)}`);
    rows += Number(r!.n);
  }
  const [size] = await query<{ bytes: string }>(
    url,
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r'`,
  );
  return { name, db, sourceUrl: url, rows, bytes: Number(size!.bytes) };
}
