/**
 * The local stack's settings: every port, URL and credential `elt up` chose, in one file,
 * `.elt/stack.env`, that `elt status --local`, `elt down`, `make dbt-build` and Airflow read.
 *
 * Each setting comes from its environment variable when set, else from the stack.env of the
 * previous `elt up` (so a restart keeps its ports and token), else from its default.
 * The file is shell syntax (KEY='value'), so scripts can `set -a; . .elt/stack.env`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

export interface StackSettings {
  sourcePort: number;
  destinationPort: number;
  apiPort: number;
  metricsPort: number;
  prometheusPort: number;
  airflowPort: number;
  airflowWorkerLogPort: number;
  airflowTriggererLogPort: number;
  /** ELT_AIRFLOW=0 leaves Airflow out. */
  airflow: boolean;
  apiToken: string;
  replicatorPassword: string;
  airflowPassword: string;
  demoScale: number;
  demoRate: number;
  /** elt_dag's schedule on the local stack (more often than a deployment's @hourly, so marts move). */
  dagSchedule: string;
}

type Kind = 'port' | 'number' | 'flag' | 'text';

/** Each setting: its variable, its kind and its default. */
export const STACK_VARIABLES: Record<keyof StackSettings, { env: string; kind: Kind; fallback: () => string }> = {
  sourcePort: { env: 'ELT_SOURCE_PORT', kind: 'port', fallback: () => '5433' },
  destinationPort: { env: 'ELT_DESTINATION_PORT', kind: 'port', fallback: () => '5434' },
  apiPort: { env: 'ELT_API_PORT', kind: 'port', fallback: () => '5001' },
  metricsPort: { env: 'ELT_METRICS_PORT', kind: 'port', fallback: () => '9464' },
  prometheusPort: { env: 'ELT_PROMETHEUS_PORT', kind: 'port', fallback: () => '9090' },
  airflowPort: { env: 'ELT_AIRFLOW_PORT', kind: 'port', fallback: () => '8080' },
  airflowWorkerLogPort: { env: 'ELT_AIRFLOW_WORKER_LOG_PORT', kind: 'port', fallback: () => '8793' },
  airflowTriggererLogPort: { env: 'ELT_AIRFLOW_TRIGGERER_LOG_PORT', kind: 'port', fallback: () => '8794' },
  airflow: { env: 'ELT_AIRFLOW', kind: 'flag', fallback: () => '1' },
  apiToken: { env: 'ELT_API_TOKEN', kind: 'text', fallback: () => randomBytes(16).toString('hex') },
  replicatorPassword: { env: 'ELT_REPLICATOR_PASSWORD', kind: 'text', fallback: () => 'elt-demo' },
  airflowPassword: { env: 'ELT_AIRFLOW_PASSWORD', kind: 'text', fallback: () => 'admin123' },
  demoScale: { env: 'ELT_DEMO_SCALE', kind: 'number', fallback: () => '1' },
  demoRate: { env: 'ELT_DEMO_RATE', kind: 'number', fallback: () => '20' },
  dagSchedule: { env: 'ELT_DAG_SCHEDULE', kind: 'text', fallback: () => '*/5 * * * *' },
};

export const SOURCE_DB = 'shop';
export const DESTINATION_DB = 'analytics';
export const REPLICATOR_ROLE = 'elt_replicator';
export const DESTINATION_USER = 'postgres';

function parseValue(name: string, kind: Kind, raw: string): number | boolean | string {
  if (kind === 'text') return raw;
  if (kind === 'flag') {
    if (raw === '0' || raw === '1') return raw === '1';
    throw new ConfigError(`${name}=${raw} is not 0 or 1.`, `Set ${name}=0 to leave it out, or 1.`);
  }
  const value = Number(raw);
  if (kind === 'number' && Number.isFinite(value) && value > 0) return value;
  if (kind === 'port' && Number.isInteger(value) && value > 0 && value < 65536) return value;
  throw new ConfigError(
    `${name}=${raw} is not ${kind === 'port' ? 'a port (1-65535)' : 'a positive number'}.`,
    `Set ${name} to a valid value, or unset it for the default.`,
  );
}

/** The settings for `elt up`: environment, else the previous stack.env, else defaults. */
export function resolveSettings(env: NodeJS.ProcessEnv, previous: Record<string, string>): StackSettings {
  const settings: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(STACK_VARIABLES)) {
    const raw = env[v.env]?.trim() || previous[v.env] || v.fallback();
    settings[key] = parseValue(v.env, v.kind, raw);
  }
  return settings as unknown as StackSettings;
}

export function sourceUrl(s: StackSettings): string {
  return `postgres://${REPLICATOR_ROLE}:${encodeURIComponent(s.replicatorPassword)}@127.0.0.1:${s.sourcePort}/${SOURCE_DB}`;
}

export function destinationUrl(s: StackSettings): string {
  return `postgres://${DESTINATION_USER}@127.0.0.1:${s.destinationPort}/${DESTINATION_DB}`;
}

/** What the file holds: the settings, and what the replicator, the API, dbt and Airflow read derived from them. */
export function stackEnv(s: StackSettings): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [key, v] of Object.entries(STACK_VARIABLES)) {
    const value = s[key as keyof StackSettings];
    vars[v.env] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  }
  return {
    ...vars,
    ELT_SOURCE_URL: sourceUrl(s),
    ELT_DESTINATION_URL: destinationUrl(s),
    ELT_API_URL: `http://127.0.0.1:${s.apiPort}`,
    ELT_METRICS_URL: `http://127.0.0.1:${s.metricsPort}/metrics`,
    ELT_PROMETHEUS_URL: `http://127.0.0.1:${s.prometheusPort}`,
    ELT_AIRFLOW_URL: `http://127.0.0.1:${s.airflowPort}`,
    // custom_postgres/profiles.yml
    ELT_DBT_HOST: '127.0.0.1',
    ELT_DBT_PORT: String(s.destinationPort),
    ELT_DBT_USER: DESTINATION_USER,
    ELT_DBT_DBNAME: DESTINATION_DB,
  };
}

const shellQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

export function renderStackEnv(vars: Record<string, string>): string {
  const header = [
    '# The local stack of `elt up` (make up): every port, URL and credential it chose.',
    '# elt status --local, elt down, make dbt-build and Airflow read this file. To change a value,',
    '# set its variable for the next `make up` (e.g. ELT_API_PORT=5002 make up): it is written here again.',
  ];
  return [...header, ...Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}`)].join('\n') + '\n';
}

/** Parse what renderStackEnv wrote (KEY='value' lines; '\'' inside values). */
export function parseStackEnv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!match) continue;
    const quoted = match[2]!;
    vars[match[1]!] = quoted.startsWith("'") ? quoted.slice(1, -1).replaceAll(`'\\''`, "'") : quoted;
  }
  return vars;
}

export function readStackEnv(file: string): Record<string, string> {
  return existsSync(file) ? parseStackEnv(readFileSync(file, 'utf8')) : {};
}

/** The URLs `elt status --local` reads, from the stack.env of the last `elt up`. */
export function localStackUrls(file: string): { ELT_SOURCE_URL: string; ELT_DESTINATION_URL: string } {
  const vars = readStackEnv(file);
  if (!vars.ELT_SOURCE_URL || !vars.ELT_DESTINATION_URL) {
    throw new ConfigError(
      `There is no local stack: ${file} is missing or incomplete.`,
      'Run make up first (it writes that file).',
    );
  }
  return { ELT_SOURCE_URL: vars.ELT_SOURCE_URL, ELT_DESTINATION_URL: vars.ELT_DESTINATION_URL };
}
