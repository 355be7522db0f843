/**
 * Prometheus and promtool as child processes, for the monitoring tests and `make up`:
 * where the binaries are, a config for a given set of targets, and one Prometheus server
 * with its own config, data directory and port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

export const MONITORING_DIR = dirname(fileURLToPath(import.meta.url));
export const ALERTS_FILE = join(MONITORING_DIR, 'alerts.yml');
export const ALERTS_TEST_FILE = join(MONITORING_DIR, 'alerts.test.yml');
/** docker-compose: targets are service names. */
export const COMPOSE_CONFIG_FILE = join(MONITORING_DIR, 'prometheus.yml');
/** `make up`: the same jobs on 127.0.0.1. */
export const LOCAL_CONFIG_FILE = join(MONITORING_DIR, 'prometheus.local.yml');
export const DASHBOARD_FILE = join(MONITORING_DIR, 'grafana', 'dashboards', 'elt.json');
export const DATASOURCES_FILE = join(MONITORING_DIR, 'grafana', 'provisioning', 'datasources', 'prometheus.yml');

export const REPLICATOR_JOB = 'elt-replicator';
export const API_JOB = 'elt-api';

const STARTUP_TIMEOUT_MS = 30_000;

export interface PrometheusBinaries {
  prometheus: string;
  promtool: string;
}

/**
 * The prometheus and promtool binaries: in ELT_PROMETHEUS_BIN (a directory) when set, else
 * in /usr/bin (Debian's prometheus package), /usr/local/bin or the PATH. Throws one sentence saying what to install.
 */
export function prometheusBinaries(): PrometheusBinaries {
  const dirs = process.env.ELT_PROMETHEUS_BIN
    ? [process.env.ELT_PROMETHEUS_BIN]
    : ['/usr/bin', '/usr/local/bin', ...(process.env.PATH ?? '').split(':').filter(Boolean)];
  const find = (name: string) => dirs.map((d) => join(d, name)).find((path) => existsSync(path));
  const prometheus = find('prometheus');
  const promtool = find('promtool');
  if (!prometheus || !promtool) {
    const missing = [prometheus ? null : 'prometheus', promtool ? null : 'promtool'].filter(Boolean).join(' and ');
    throw new Error(
      `${missing} not found: run \`apt-get install prometheus\` (Debian's package has both; \`make monitoring-deps\` does it), or set ELT_PROMETHEUS_BIN to the directory that holds them.`,
    );
  }
  return { prometheus, promtool };
}

/** Like prometheusBinaries(), but null when they are not installed (`make up` then skips Prometheus). */
export function findPrometheus(): PrometheusBinaries | null {
  try {
    return prometheusBinaries();
  } catch {
    return null;
  }
}

export interface LocalConfigOptions {
  /** host:port of the replicator's /metrics. */
  replicator: string;
  /** host:port of the API's /metrics. */
  api: string;
  /** host:port this Prometheus listens on (its self-scrape). */
  self: string;
  /** Scrape and rule evaluation interval, e.g. '1s'; default: the file's. */
  interval?: string;
}

/**
 * prometheus.local.yml with other targets (and interval): what a test or a non-default
 * port needs. The rule files become absolute, so the result can live anywhere.
 */
export async function renderLocalConfig(options: LocalConfigOptions): Promise<string> {
  const config = parse(await readFile(LOCAL_CONFIG_FILE, 'utf8')) as PrometheusConfig;
  if (options.interval) {
    config.global.scrape_interval = options.interval;
    config.global.evaluation_interval = options.interval;
  }
  config.rule_files = config.rule_files.map((file) => join(MONITORING_DIR, file));
  const targets: Record<string, string> = {
    [REPLICATOR_JOB]: options.replicator,
    [API_JOB]: options.api,
    prometheus: options.self,
  };
  for (const job of config.scrape_configs) {
    const target = targets[job.job_name];
    if (!target) throw new Error(`prometheus.local.yml has a job ${job.job_name} that renderLocalConfig does not know`);
    job.static_configs = [{ targets: [target] }];
  }
  return stringify(config);
}

/** The parts of a Prometheus config file the tests and renderLocalConfig read. */
export interface PrometheusConfig {
  global: { scrape_interval: string; evaluation_interval: string; external_labels?: Record<string, string> };
  rule_files: string[];
  scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
}

/** The command line of a Prometheus server (for a foreground child or a detached `make up` process). */
export function prometheusArgs(options: {
  configFile: string;
  dataDir: string;
  listen: string;
  retention?: string;
}): string[] {
  return [
    `--config.file=${options.configFile}`,
    `--storage.tsdb.path=${options.dataDir}`,
    `--storage.tsdb.retention.time=${options.retention ?? '7d'}`,
    `--web.listen-address=${options.listen}`,
    '--log.level=warn',
  ];
}

export interface RunningPrometheus extends AsyncDisposable {
  /** e.g. http://127.0.0.1:9090 */
  readonly url: string;
  readonly child: ChildProcess;
  /** What the server logged so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Start a Prometheus server and wait until it is ready (/-/ready). */
export async function startPrometheus(options: {
  configFile: string;
  dataDir: string;
  port: number;
}): Promise<RunningPrometheus> {
  const { prometheus } = prometheusBinaries();
  const listen = `127.0.0.1:${options.port}`;
  const child = spawn(
    prometheus,
    prometheusArgs({ configFile: options.configFile, dataDir: options.dataDir, listen }),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const chunks: string[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c.toString()));
  child.stderr.on('data', (c: Buffer) => chunks.push(c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://${listen}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with code ${child.exitCode}: ${chunks.join('')}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not get ready on ${listen} within ${STARTUP_TIMEOUT_MS} ms: ${chunks.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, child, output: () => chunks.join(''), stop, [Symbol.asyncDispose]: stop };
}

/** Run promtool; resolves with its exit code and output (never rejects on a non-zero exit). */
export async function runPromtool(args: string[], cwd = MONITORING_DIR): Promise<{ code: number; output: string }> {
  const { promtool } = prometheusBinaries();
  const child = spawn(promtool, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c.toString()));
  child.stderr.on('data', (c: Buffer) => chunks.push(c.toString()));
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c ?? 1));
  });
  return { code, output: chunks.join('') };
}
