/**
 * Starting the local stack's long-running services in the background, each with the check
 * that says it is healthy: the replicator streams and serves /metrics, the API is /ready,
 * Prometheus is /-/ready, the workload's writes reach the source.
 */
import { LiveLines } from '../progress/live-lines.js';
import { SnapshotWatch } from '../progress/snapshot-watch.js';
import { join } from 'node:path';
import pg from 'pg';
import { findPrometheus, prometheusArgs, renderLocalConfig } from '../../../monitoring/prometheus.js';
import { writeFile } from 'node:fs/promises';
import { ELT_BIN, ELT_NODE_FLAGS, REPO_ROOT, type StackPaths } from './paths.js';
import { background } from './processes.js';
import { httpOk, type HealthCheck } from './health.js';
import { destinationUrl, SOURCE_DB, sourceUrl, type StackSettings } from './settings.js';
import { readReplicationState } from '../state/control.js';

const MINUTE = 60_000;

/** Work on a fresh connection (health checks run rarely). */
async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** One query on a fresh connection. */
export async function queryOnce<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  return withClient(url, async (client) => (await client.query<T>(sql)).rows);
}

export function startReplicator(paths: StackPaths, s: StackSettings): HealthCheck {
  const env = {
    ELT_SOURCE_URL: sourceUrl(s),
    ELT_DESTINATION_URL: destinationUrl(s),
    ELT_METRICS_PORT: String(s.metricsPort),
  };
  const pid = background(paths, 'replicator', process.execPath, [...ELT_NODE_FLAGS, ELT_BIN, 'replicate'], env);
  // On a terminal, a live line per table the snapshot is copying (rows, MB/s, ETA).
  const watch = process.stdout.isTTY
    ? new SnapshotWatch(destinationUrl(s), 'elt_slot', new LiveLines(process.stdout))
    : null;
  return {
    service: 'replicator',
    pid,
    what: `its snapshot done and streaming, /metrics on :${s.metricsPort}`,
    timeoutMs: 30 * MINUTE,
    check: async () => {
      await watch?.poll().catch(() => {
        // Only the progress display: the health check below decides.
      });
      const state = await withClient(destinationUrl(s), (db) => readReplicationState(db, 'elt_slot'));
      const streaming = state?.phase === 'streaming';
      if (streaming) watch?.clear();
      return streaming && (await httpOk(`http://127.0.0.1:${s.metricsPort}/metrics`)) !== null;
    },
  };
}

/** The sum of rows written to the source's tables, as its statistics count them. */
async function sourceWrites(superuserSourceUrl: string): Promise<number> {
  const [row] = await queryOnce<{ n: string }>(
    superuserSourceUrl,
    'SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) AS n FROM pg_stat_user_tables',
  );
  return Number(row!.n);
}

export async function startWorkload(
  paths: StackPaths,
  s: StackSettings,
  superuserSourceUrl: string,
): Promise<HealthCheck> {
  const before = await sourceWrites(superuserSourceUrl);
  const args = [
    '--import',
    'tsx',
    join(REPO_ROOT, 'source_db_init', 'workload.ts'),
    '--url',
    superuserSourceUrl,
    '--rate',
    String(s.demoRate),
  ];
  const pid = background(paths, 'workload', process.execPath, args, {});
  return {
    service: 'workload',
    pid,
    what: `writing to the source database ${SOURCE_DB}`,
    timeoutMs: 2 * MINUTE,
    check: async () => (await sourceWrites(superuserSourceUrl)) > before,
  };
}

export function startApi(paths: StackPaths, s: StackSettings): HealthCheck {
  const env = {
    ELT_DESTINATION_URL: destinationUrl(s),
    ELT_API_PORT: String(s.apiPort),
    ELT_API_HOST: '127.0.0.1',
    ELT_API_TOKEN: s.apiToken,
  };
  const pid = background(paths, 'api', process.execPath, [ELT_BIN, 'api'], env);
  return {
    service: 'api',
    pid,
    what: `GET http://127.0.0.1:${s.apiPort}/ready answers 200`,
    timeoutMs: 2 * MINUTE,
    check: async () => (await httpOk(`http://127.0.0.1:${s.apiPort}/ready`)) !== null,
  };
}

/** Prometheus when it is installed (Debian's prometheus package), else null. */
export async function startPrometheus(paths: StackPaths, s: StackSettings): Promise<HealthCheck | null> {
  const binaries = findPrometheus();
  if (!binaries) return null;
  const configFile = join(paths.stateDir, 'prometheus.yml');
  const listen = `127.0.0.1:${s.prometheusPort}`;
  await writeFile(
    configFile,
    await renderLocalConfig({ replicator: `127.0.0.1:${s.metricsPort}`, api: `127.0.0.1:${s.apiPort}`, self: listen }),
  );
  const args = prometheusArgs({ configFile, dataDir: join(paths.stateDir, 'prometheus'), listen });
  const pid = background(paths, 'prometheus', binaries.prometheus, args, {});
  return {
    service: 'prometheus',
    pid,
    what: `GET http://${listen}/-/ready answers 200`,
    timeoutMs: 2 * MINUTE,
    check: async () => (await httpOk(`http://${listen}/-/ready`)) !== null,
  };
}
