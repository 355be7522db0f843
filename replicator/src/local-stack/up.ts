/**
 * `elt up` (make up): the whole local pipeline, without Docker. Two PostgreSQL clusters (the
 * demo shop on the source), the replicator, the demo workload, the API, Prometheus when it is
 * installed, a first dbt build so the marts exist, and Airflow with elt_dag unpaused (ELT_AIRFLOW=0
 * leaves it out). Every service is checked healthy before the next step; one that is not is
 * named with the tail of its log, everything started is stopped again, and `elt up` fails.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { airflowInstalled, startAirflow, unpauseEltDag } from './airflow.js';
import { banner } from './banner.js';
import { dbtBinary, firstDbtBuild } from './dbt.js';
import { down } from './down.js';
import { waitHealthy, type HealthCheck } from './health.js';
import { stackPaths, type StackPaths } from './paths.js';
import { isRunning, startCluster, type PgCluster } from './pg-cluster.js';
import { checkPorts, type PortUse } from './ports.js';
import { alive, readPids, writePids, type Pids } from './processes.js';
import { startApi, startPrometheus, startReplicator, startWorkload } from './services.js';
import {
  DESTINATION_DB,
  readStackEnv,
  renderStackEnv,
  resolveSettings,
  SOURCE_DB,
  stackEnv,
  STACK_VARIABLES as V,
  type StackSettings,
} from './settings.js';
import { findPrometheus } from '../../../monitoring/prometheus.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

/** The ports `elt up` is about to listen on (a cluster already running from its data directory keeps its own). */
async function portsToCheck(paths: StackPaths, s: StackSettings): Promise<PortUse[]> {
  const uses: PortUse[] = [];
  const use = (service: string, key: keyof StackSettings) =>
    uses.push({ service, port: s[key] as number, variable: V[key].env });
  if (!(await isRunning(join(paths.stateDir, 'pg', 'source')))) use('source PostgreSQL', 'sourcePort');
  if (!(await isRunning(join(paths.stateDir, 'pg', 'destination')))) use('destination PostgreSQL', 'destinationPort');
  use('replicator metrics', 'metricsPort');
  use('API', 'apiPort');
  if (findPrometheus()) use('Prometheus', 'prometheusPort');
  if (s.airflow) {
    use('Airflow api-server', 'airflowPort');
    use('Airflow worker log server', 'airflowWorkerLogPort');
    use('Airflow triggerer log server', 'airflowTriggererLogPort');
  }
  return uses;
}

async function startDatabases(paths: StackPaths, s: StackSettings): Promise<PgCluster> {
  say(
    `Starting PostgreSQL: source on 127.0.0.1:${s.sourcePort}, destination on 127.0.0.1:${s.destinationPort} (data in ${paths.stateDir}/pg)`,
  );
  const source = await startCluster({
    name: 'source',
    port: s.sourcePort,
    dataDir: join(paths.stateDir, 'pg', 'source'),
  });
  const destination = await startCluster({
    name: 'destination',
    port: s.destinationPort,
    dataDir: join(paths.stateDir, 'pg', 'destination'),
  });
  const exists = async (c: PgCluster, db: string) =>
    (await c.psql(`SELECT 1 FROM pg_database WHERE datname = '${db}'`)) === '1';
  if (!(await exists(source, SOURCE_DB))) {
    say(`Seeding the demo shop at scale ${s.demoScale} (about ${Math.round(s.demoScale * 100)}k rows)...`);
    await source.psql(`CREATE DATABASE ${SOURCE_DB}`);
    const { initDemoSource } = await import('../../../source_db_init/init.js');
    await initDemoSource(source.url(SOURCE_DB), { scale: s.demoScale, replicatorPassword: s.replicatorPassword });
  }
  if (!(await exists(destination, DESTINATION_DB))) await destination.psql(`CREATE DATABASE ${DESTINATION_DB}`);
  return source;
}

/** Start one service, record its pid, wait until it is healthy. */
async function bringUp(
  paths: StackPaths,
  pids: Pids,
  start: () => HealthCheck | Promise<HealthCheck>,
): Promise<HealthCheck> {
  const check = await start();
  pids[check.service] = check.pid;
  await writePids(paths, pids);
  say(`Waiting for the ${check.service}: ${check.what}...`);
  await waitHealthy(paths, check);
  return check;
}

async function startEverything(paths: StackPaths, s: StackSettings, env: Record<string, string>): Promise<string> {
  const source = await startDatabases(paths, s);
  const pids: Pids = {};
  await bringUp(paths, pids, () => startReplicator(paths, s));
  await bringUp(paths, pids, () => startWorkload(paths, s, source.url(SOURCE_DB)));
  await bringUp(paths, pids, () => startApi(paths, s));
  const prometheus = await startPrometheus(paths, s);
  if (prometheus) await bringUp(paths, pids, () => prometheus);
  say('Building the marts and testing them (dbt build, log in logs/dbt.log)...');
  const martRows = await firstDbtBuild(paths, s, env);
  if (s.airflow) {
    const airflow = await bringUp(paths, pids, () => startAirflow(paths, s));
    await bringUp(paths, pids, () => unpauseEltDag(s, airflow.pid));
  }
  return banner({
    settings: s,
    settingsFile: paths.settingsFile,
    logDir: paths.logDir,
    superuserSourceUrl: source.url(SOURCE_DB),
    prometheus: prometheus !== null,
    martRows,
  });
}

export async function up(): Promise<number> {
  const paths = stackPaths();
  await mkdir(paths.logDir, { recursive: true });
  const running = Object.entries(await readPids(paths)).filter(([, pid]) => alive(pid));
  if (running.length > 0) {
    say(
      `The stack is already up (${running.map(([name, pid]) => `${name} pid ${pid}`).join(', ')}); its settings are in ${paths.settingsFile}. Run make down first to restart it.`,
    );
    return 0;
  }
  const settings = resolveSettings(process.env, readStackEnv(paths.settingsFile));
  dbtBinary();
  if (settings.airflow) airflowInstalled();
  await checkPorts(await portsToCheck(paths, settings));
  const env = stackEnv(settings);
  await writeFile(paths.settingsFile, renderStackEnv(env), { mode: 0o600 });
  try {
    say(await startEverything(paths, settings, env));
    return 0;
  } catch (error) {
    say('elt up failed: stopping what it started.');
    await down({ clean: false });
    throw error;
  }
}
