/**
 * Airflow on the local stack: airflow/scripts/airflow-up.sh (`airflow standalone`: api-server,
 * scheduler, dag-processor, triggerer) with its home in <state>/airflow and the connections of
 * stack.env. Healthy when /api/v2/monitor/health reports the metadata database, the scheduler
 * and the DAG processor healthy; then elt_dag is unpaused through the REST API, which also
 * proves the DAG was parsed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { httpOk, type HealthCheck } from './health.js';
import { REPO_ROOT, type StackPaths } from './paths.js';
import { background } from './processes.js';
import type { StackSettings } from './settings.js';
import { airflowVenv, dbtVenv } from './venvs.js';

const MINUTE = 60_000;
export const AIRFLOW_USER = 'airflow';

export function airflowInstalled(): string {
  const venv = airflowVenv();
  if (!existsSync(join(venv, 'bin', 'airflow'))) {
    throw new ConfigError(
      `Airflow is not installed (${venv}/bin/airflow is missing).`,
      'Run make up (it installs Airflow on first use), or make airflow-deps; ELT_AIRFLOW=0 leaves Airflow out.',
    );
  }
  return venv;
}

interface AirflowHealth {
  metadatabase?: { status?: string };
  scheduler?: { status?: string };
  dag_processor?: { status?: string | null };
}

export function startAirflow(paths: StackPaths, s: StackSettings): HealthCheck {
  const env = {
    ELT_STATE_DIR: paths.stateDir,
    AIRFLOW_HOME: join(paths.stateDir, 'airflow'),
    ELT_AIRFLOW_VENV: airflowInstalled(),
    ELT_DBT_VENV: dbtVenv(),
  };
  const pid = background(paths, 'airflow', '/bin/bash', [join(REPO_ROOT, 'airflow', 'scripts', 'airflow-up.sh')], env);
  const url = `http://127.0.0.1:${s.airflowPort}/api/v2/monitor/health`;
  return {
    service: 'airflow',
    pid,
    what: `GET ${url} reports the metadata database, scheduler and DAG processor healthy`,
    timeoutMs: 10 * MINUTE,
    check: async () => {
      const body = await httpOk(url);
      if (!body) return false;
      const health = JSON.parse(body) as AirflowHealth;
      return [health.metadatabase?.status, health.scheduler?.status, health.dag_processor?.status].every(
        (status) => status === 'healthy',
      );
    },
  };
}

/** A check that unpauses elt_dag: false until Airflow has parsed it. */
export function unpauseEltDag(s: StackSettings, pid: number): HealthCheck {
  const base = `http://127.0.0.1:${s.airflowPort}`;
  return {
    service: 'airflow',
    pid,
    what: 'elt_dag parsed and unpaused (PATCH /api/v2/dags/elt_dag)',
    timeoutMs: 5 * MINUTE,
    check: async () => {
      const login = await fetch(`${base}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: AIRFLOW_USER, password: s.airflowPassword }),
      });
      if (login.status !== 201) throw new Error(`POST /auth/token answered ${login.status}`);
      const { access_token: token } = (await login.json()) as { access_token: string };
      const patch = await fetch(`${base}/api/v2/dags/elt_dag`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ is_paused: false }),
      });
      if (patch.status === 404) return false; // not parsed yet
      if (patch.status !== 200)
        throw new Error(`PATCH /api/v2/dags/elt_dag answered ${patch.status}: ${(await patch.text()).slice(0, 200)}`);
      return ((await patch.json()) as { is_paused: boolean }).is_paused === false;
    },
  };
}
