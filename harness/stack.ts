/**
 * The local stack behind `make up` / `make down`, without Docker: a source PostgreSQL on
 * :5433 seeded with the demo shop, a destination on :5434, the demo workload and the
 * replicator as background processes. State lives in .elt/ and survives `make down`;
 * `make clean` removes it.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, stopClusterAt, type PgCluster } from './pg-cluster.js';
import { ELT_BIN, ELT_NODE_FLAGS, REPO_ROOT, query, waitFor } from './replication.js';
import { findPrometheus, prometheusArgs, renderLocalConfig } from '../monitoring/prometheus.js';
import { LiveLines } from '../replicator/src/progress/live-lines.js';
import { SnapshotWatch } from '../replicator/src/progress/snapshot-watch.js';

const STATE_DIR = process.env.ELT_STATE_DIR ?? join(REPO_ROOT, '.elt');
const PIDS_FILE = join(STATE_DIR, 'pids.json');
const LOG_DIR = join(STATE_DIR, 'logs');

const SOURCE_PORT = Number(process.env.ELT_SOURCE_PORT ?? 5433);
const DESTINATION_PORT = Number(process.env.ELT_DESTINATION_PORT ?? 5434);
const SOURCE_DB = 'shop';
const DESTINATION_DB = 'analytics';
const REPLICATOR_ROLE = 'elt_replicator';
const REPLICATOR_PASSWORD = process.env.ELT_REPLICATOR_PASSWORD ?? 'elt-demo';
const DEMO_SCALE = Number(process.env.ELT_DEMO_SCALE ?? 1);
const WORKLOAD_RATE = Number(process.env.ELT_DEMO_RATE ?? 20);
const METRICS_PORT = process.env.ELT_METRICS_PORT ?? '9464';
const API_PORT = process.env.ELT_API_PORT ?? '5001';
const API_TOKEN = process.env.ELT_API_TOKEN ?? 'elt-local-token-change-me';
const PROMETHEUS_PORT = process.env.ELT_PROMETHEUS_PORT ?? '9090';

type Pids = Record<string, number>;

/** The environment a command needs to talk to the local stack (used by `make status`). */
export function localStackEnv(): { ELT_SOURCE_URL: string; ELT_DESTINATION_URL: string } {
  return {
    ELT_SOURCE_URL: `postgres://${REPLICATOR_ROLE}:${REPLICATOR_PASSWORD}@127.0.0.1:${SOURCE_PORT}/${SOURCE_DB}`,
    ELT_DESTINATION_URL: `postgres://postgres@127.0.0.1:${DESTINATION_PORT}/${DESTINATION_DB}`,
  };
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function readPids(): Promise<Pids> {
  if (!existsSync(PIDS_FILE)) return {};
  return JSON.parse(await readFile(PIDS_FILE, 'utf8')) as Pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Start a long-running command in the background, detached, its output in .elt/logs/<name>.log. */
function background(name: string, args: string[], env: Record<string, string>, command = process.execPath): number {
  const log = openSync(join(LOG_DIR, `${name}.log`), 'a');
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
    detached: true,
  });
  child.unref();
  return child.pid!;
}

async function databaseExists(cluster: PgCluster, name: string): Promise<boolean> {
  return (await cluster.psql(`SELECT 1 FROM pg_database WHERE datname = '${name}'`)) === '1';
}

export async function up(): Promise<number> {
  await mkdir(LOG_DIR, { recursive: true });
  const pids = await readPids();
  const running = Object.entries(pids).filter(([, pid]) => alive(pid));
  if (running.length > 0) {
    say(`The stack is already up (${running.map(([name, pid]) => `${name} pid ${pid}`).join(', ')}). Run make down first to restart it.`);
    return 0;
  }

  say(`Starting PostgreSQL: source on 127.0.0.1:${SOURCE_PORT}, destination on 127.0.0.1:${DESTINATION_PORT} (data in ${STATE_DIR}/pg)`);
  const source = await startCluster({ name: 'source', port: SOURCE_PORT, dataDir: join(STATE_DIR, 'pg', 'source') });
  const destination = await startCluster({ name: 'destination', port: DESTINATION_PORT, dataDir: join(STATE_DIR, 'pg', 'destination') });

  if (!(await databaseExists(source, SOURCE_DB))) {
    say(`Seeding the demo shop at scale ${DEMO_SCALE} (about ${Math.round(DEMO_SCALE * 100)}k rows)...`);
    await source.psql(`CREATE DATABASE ${SOURCE_DB}`);
    const { initDemoSource } = await import('../source_db_init/init.js');
    await initDemoSource(source.url(SOURCE_DB), { scale: DEMO_SCALE, replicatorPassword: REPLICATOR_PASSWORD });
  }
  if (!(await databaseExists(destination, DESTINATION_DB))) await destination.psql(`CREATE DATABASE ${DESTINATION_DB}`);

  const env = { ...localStackEnv(), ELT_METRICS_PORT: METRICS_PORT };
  const started: Pids = {};
  started.replicator = background('replicator', [...ELT_NODE_FLAGS, ELT_BIN, 'replicate'], env);
  started.workload = background('workload', ['--import', 'tsx', join(REPO_ROOT, 'source_db_init', 'workload.ts'), '--url', source.url(SOURCE_DB), '--rate', String(WORKLOAD_RATE)], {});
  started.api = background('api', [ELT_BIN, 'api'], { ELT_DESTINATION_URL: env.ELT_DESTINATION_URL, ELT_API_PORT: API_PORT, ELT_API_TOKEN: API_TOKEN });
  const prometheus = findPrometheus();
  if (prometheus) {
    const configFile = join(STATE_DIR, 'prometheus.yml');
    const listen = `127.0.0.1:${PROMETHEUS_PORT}`;
    await writeFile(configFile, await renderLocalConfig({ replicator: `127.0.0.1:${METRICS_PORT}`, api: `127.0.0.1:${API_PORT}`, self: listen }));
    started.prometheus = background('prometheus', prometheusArgs({ configFile, dataDir: join(STATE_DIR, 'prometheus'), listen }), {}, prometheus.prometheus);
  }
  const airflowVenv = process.env.ELT_AIRFLOW_VENV;
  const airflow = Boolean(airflowVenv && existsSync(join(airflowVenv, 'bin', 'airflow')));
  if (airflow) {
    started.airflow = background('airflow', [join(REPO_ROOT, 'airflow', 'scripts', 'airflow-up.sh')], { ELT_API_TOKEN: API_TOKEN, ELT_API_PORT: API_PORT }, '/bin/bash');
  }
  await writeFile(PIDS_FILE, JSON.stringify(started, null, 2));

  say('Waiting for the replicator to finish its snapshot...');
  // On a terminal, a live line per table being copied (rows, MB/s, ETA).
  const watch = process.stdout.isTTY ? new SnapshotWatch(env.ELT_DESTINATION_URL, 'elt_slot', new LiveLines(process.stdout)) : null;
  await waitFor(
    'the replicator to stream (see .elt/logs/replicator.log)',
    async () => {
      if (!alive(started.replicator!)) throw new Error('the replicator exited: see .elt/logs/replicator.log');
      const rows = await query<{ phase: string }>(env.ELT_DESTINATION_URL, "SELECT phase FROM elt.replication_state WHERE slot_name = 'elt_slot'").catch(() => []);
      await watch?.poll().catch(() => {});
      return rows[0]?.phase === 'streaming';
    },
    15 * 60_000,
    500,
  ).finally(() => watch?.clear());

  say(`
elt is up: the demo shop is replicating continuously into staging.

  source       ${source.url(SOURCE_DB)}   (replication role ${REPLICATOR_ROLE} / ${REPLICATOR_PASSWORD})
  destination  ${destination.url(DESTINATION_DB)}   (schemas staging, elt)
  api          http://127.0.0.1:${API_PORT}   (docs at /docs; token for POST/DELETE: ${API_TOKEN})
  metrics      http://127.0.0.1:${METRICS_PORT}/metrics
  prometheus   ${prometheus ? `http://127.0.0.1:${PROMETHEUS_PORT}   (alerts at /alerts)` : 'not installed: apt-get install prometheus, then make down && make up'}
  airflow      ${airflow ? `http://127.0.0.1:8080   (user airflow, password ${process.env.ELT_AIRFLOW_PASSWORD ?? 'admin123'}; starts in about a minute)` : 'not installed: make airflow-deps, then make down && make up'}
  workload     ${WORKLOAD_RATE} transactions/s on the source
  logs         ${LOG_DIR}/

  make status                 slot, lag and per-table counts
  psql ${destination.url(DESTINATION_DB)} -c 'select count(*) from staging.orders'
  make down                   stop everything (data is kept)
  make clean                  stop and delete all local state
`);
  return 0;
}

export async function down(options: { clean: boolean }): Promise<number> {
  const pids = await readPids();
  for (const [name, pid] of Object.entries(pids)) {
    if (!alive(pid)) continue;
    // Each was started detached, as the leader of its own process group: stop the group (Airflow has children).
    process.kill(-pid, 'SIGTERM');
    await waitFor(`${name} to stop`, async () => !alive(pid), 30_000).catch(() => process.kill(-pid, 'SIGKILL'));
    say(`stopped ${name} (pid ${pid})`);
  }
  await rm(PIDS_FILE, { force: true });
  for (const name of ['source', 'destination']) {
    const dataDir = join(STATE_DIR, 'pg', name);
    if (existsSync(join(dataDir, 'PG_VERSION')) && (await stopClusterAt(dataDir))) say(`stopped PostgreSQL ${name}`);
  }
  if (options.clean) {
    await rm(STATE_DIR, { recursive: true, force: true });
    say(`removed ${STATE_DIR}`);
  }
  return 0;
}
