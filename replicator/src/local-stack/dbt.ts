/**
 * The first dbt build of `elt up` (models and their tests), so the marts exist when it
 * returns; Airflow's elt_dag keeps them fresh afterwards. dbt comes from its virtualenv (make dbt-deps) and
 * reads the destination from the ELT_DBT_* variables of stack.env (custom_postgres/profiles.yml).
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { ServiceFailedError } from './health.js';
import { REPO_ROOT, type StackPaths } from './paths.js';
import { logFile, logTail } from './processes.js';
import { queryOnce } from './services.js';
import { destinationUrl, type StackSettings } from './settings.js';
import { dbtVenv } from './venvs.js';

export function dbtBinary(): string {
  const dbt = join(dbtVenv(), 'bin', 'dbt');
  if (!existsSync(dbt)) {
    throw new ConfigError(
      `dbt is not installed (${dbt} is missing).`,
      'Run make up (it installs dbt first), or make dbt-deps.',
    );
  }
  return dbt;
}

/** `dbt build` of every model and test on the destination; throws with the tail of logs/dbt.log when it fails. */
export async function firstDbtBuild(
  paths: StackPaths,
  s: StackSettings,
  dbtEnv: Record<string, string>,
): Promise<number> {
  const project = join(REPO_ROOT, 'custom_postgres');
  const args = [
    'build',
    '--project-dir',
    project,
    '--profiles-dir',
    project,
    '--target-path',
    join(paths.stateDir, 'dbt', 'target'),
    '--log-path',
    join(paths.stateDir, 'dbt', 'logs'),
  ];
  const log = openSync(logFile(paths, 'dbt'), 'a');
  const child = spawn(dbtBinary(), args, {
    cwd: project,
    env: { ...process.env, ...dbtEnv, DBT_SEND_ANONYMOUS_USAGE_STATS: 'false' },
    stdio: ['ignore', log, log],
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0)
    throw new ServiceFailedError(
      `The first dbt build failed (exit ${code}).\n${logTail(paths, 'dbt')}`,
      'Fix what its log says, then make dbt-build (or make down && make up).',
    );
  const [row] = await queryOnce<{ n: string }>(destinationUrl(s), 'SELECT count(*) AS n FROM marts.fct_orders');
  return Number(row!.n);
}
