/**
 * A real Prometheus (its own process, config, data directory and port; scrape interval 1 s)
 * scrapes a running replicator and API while the demo workload writes to the source, and
 * the source is restarted once, so that errors and reconnects have series too. Then every
 * dashboard query and every alert expression goes through Prometheus's HTTP API:
 *
 * - a dashboard query must return data;
 * - an alert expression must be valid, and each of its operands with the threshold taken
 *   off (queries.ts alertProbes: `x > 300` → `x`, `absent(x)` → `x`) must return data —
 *   on a healthy stack the alerts themselves return nothing.
 *
 * A query reading a metric the replicator does not export yet must be one of
 * PROPOSED_METRICS; it is then only checked to be valid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/pg-cluster.js';
import { replicationSuite } from '../../harness/fixture.js';
import { REPO_ROOT, waitFor, waitForStreaming } from '../../harness/replication.js';
import { initDemoSource } from '../../source_db_init/init.js';
import { startWorkload, type Workload } from '../../source_db_init/workload.js';
import {
  DASHBOARD_FILE,
  prometheusBinaries,
  renderLocalConfig,
  startPrometheus,
  type RunningPrometheus,
} from '../prometheus.js';
import { PROPOSED_METRICS, SITUATIONAL_METRICS } from '../proposed-metrics.js';
import {
  alertProbes,
  dashboardQueries,
  declaredSampleNames,
  exposedSampleNames,
  metricNames,
  substituteVariables,
  type Dashboard,
} from '../queries.js';

const DEMO_SCALE = 0.05;
const WORKLOAD_RATE = 30;
/** What the dashboard's variables stand for in the test: "All", and a rate window of a minute. */
const VARIABLES = { instance: '.*', table: '.*', __rate_interval: '1m', __interval: '15s', __range: '5m' };
/** Series every Prometheus has without the targets exporting them. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

interface RulesResponse {
  data: {
    groups: {
      name: string;
      rules: { type: string; name: string; query: string; health: string; lastError?: string; state?: string }[];
    }[];
  };
}

describe('Prometheus scraping the replicator under the demo workload', () => {
  const pair = replicationSuite({ start: false });
  let api: ChildProcess | undefined;
  let apiOutput = '';
  let prometheus: RunningPrometheus | undefined;
  let workload: Workload | undefined;
  let dataDir: string;
  let metricsUrl: string;
  let apiUrl: string;

  async function promQuery(expr: string): Promise<QueryResponse> {
    const response = await fetch(`${prometheus!.url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: expr }),
    });
    return (await response.json()) as QueryResponse;
  }

  async function hasData(expr: string): Promise<boolean> {
    const r = await promQuery(expr);
    return r.status === 'success' && (r.data?.result.length ?? 0) > 0;
  }

  interface Exposition {
    /** Sample names with series right now. */
    exposed: Set<string>;
    /** Sample names declared (# TYPE), with or without series. */
    declared: Set<string>;
  }

  /** What the replicator and the API export right now. */
  async function exposition(): Promise<Exposition> {
    const texts = await Promise.all([metricsUrl, apiUrl].map((url) => fetch(url).then((r) => r.text())));
    return {
      exposed: new Set([...PROMETHEUS_SERIES, ...texts.flatMap((t) => [...exposedSampleNames(t)])]),
      declared: new Set([...PROMETHEUS_SERIES, ...texts.flatMap((t) => [...declaredSampleNames(t)])]),
    };
  }

  /**
   * Evaluate a query: it must be valid; it must return data unless it reads a metric that
   * is proposed or situational. Returns what is wrong, or null.
   */
  async function check(expr: string, names: Exposition): Promise<string | null> {
    const read = metricNames(expr);
    const undeclared = read.filter((name) => !names.declared.has(name) && !(name in PROPOSED_METRICS));
    if (undeclared.length > 0)
      return `reads ${undeclared.join(', ')}, which nothing exports (nor is it in PROPOSED_METRICS)`;
    const r = await promQuery(expr);
    if (r.status !== 'success') return `${r.error}`;
    if ((r.data?.result.length ?? 0) > 0) return null;
    const excused = read.filter((name) => name in PROPOSED_METRICS || name in SITUATIONAL_METRICS);
    if (excused.length > 0) return null;
    const empty = read.filter((name) => !names.exposed.has(name));
    return `no data${empty.length > 0 ? ` (${empty.join(', ')} declared but without series)` : ''}`;
  }

  /** A failed wait, with what Prometheus scrapes and what the processes said. */
  async function diagnose(error: Error): Promise<string> {
    const up = await promQuery('up').catch((e: Error) => ({ error: e.message }));
    return [
      error.message,
      `--- up ---\n${JSON.stringify(up)}`,
      `--- prometheus ---\n${prometheus?.output().slice(-3000)}`,
      `--- elt replicate ---\n${pair.replicator.output().slice(-5000)}`,
      `--- api ---\n${apiOutput.slice(-2000)}`,
    ].join('\n');
  }

  beforeAll(async () => {
    prometheusBinaries(); // fails first, with what to install
    await initDemoSource(pair.sourceUrl, { scale: DEMO_SCALE, replicatorPassword: 'elt-monitoring-test' });
    const [metricsPort, apiPort, prometheusPort] = [await freePort(), await freePort(), await freePort()];
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    apiUrl = `http://127.0.0.1:${apiPort}/metrics`;

    dataDir = await mkdtemp(join(tmpdir(), 'elt-prometheus-'));
    const configFile = join(dataDir, 'prometheus.yml');
    await writeFile(
      configFile,
      await renderLocalConfig({
        replicator: `127.0.0.1:${metricsPort}`,
        api: `127.0.0.1:${apiPort}`,
        self: `127.0.0.1:${prometheusPort}`,
        interval: '1s',
      }),
    );
    prometheus = await startPrometheus({ configFile, dataDir: join(dataDir, 'data'), port: prometheusPort });

    const replicator = pair.launch({
      ELT_SOURCE_URL: pair.source.url('shop', 'elt_replicator'),
      ELT_METRICS_PORT: String(metricsPort),
    });
    api = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'api', 'src', 'server.ts')], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ELT_API_PORT: String(apiPort),
        ELT_API_HOST: '127.0.0.1',
        ELT_DESTINATION_URL: pair.destinationUrl,
        ELT_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    api.stdout!.on('data', (c: Buffer) => (apiOutput += c.toString()));
    api.stderr!.on('data', (c: Buffer) => (apiOutput += c.toString()));

    await waitForStreaming(pair.destinationUrl, replicator);
    workload = startWorkload({ url: pair.sourceUrl, ratePerSecond: WORKLOAD_RATE });
    await waitFor(
      'Prometheus to see changes applied',
      () => hasData('rate(elt_applied_transactions_total[1m]) > 0'),
      60_000,
      500,
    ).catch(async (error: Error) => {
      throw new Error(await diagnose(error));
    });

    // One outage of the source: the replicator records an error, reconnects and streams on.
    // The workload pauses meanwhile (its busy connections would die with the server).
    await workload.stop();
    await pair.source.restart();
    workload = startWorkload({ url: pair.sourceUrl, ratePerSecond: WORKLOAD_RATE });
    await waitFor(
      'Prometheus to see the replicator error and reconnect',
      () => hasData('elt_errors_total and on () elt_reconnects_total > 0'),
      90_000,
      500,
    )
      .then(() =>
        waitFor(
          'the replicator to stream again',
          () => hasData('elt_replicator_state{state="streaming"} == 1'),
          90_000,
          500,
        ),
      )
      .then(() =>
        waitFor(
          'changes applied after the restart',
          () => hasData('increase(elt_applied_transactions_total[10s]) > 0'),
          60_000,
          500,
        ),
      )
      .catch(async (error: Error) => {
        throw new Error(await diagnose(error));
      });
    // The API answers a few requests besides the scrapes; then every rule must have run.
    for (const path of ['/health', '/status', '/nope']) await fetch(apiUrl.replace('/metrics', path)).catch(() => null);
    await waitFor('every rule to be evaluated', async () => {
      const rules = (await (await fetch(`${prometheus!.url}/api/v1/rules`)).json()) as RulesResponse;
      return rules.data.groups.every((g) => g.rules.every((r) => r.health !== 'unknown'));
    });
    // Three more scrapes of every target after that (not three seconds: a loaded machine scrapes late), so the
    // windows of rate() and increase() hold samples from after the restart.
    const evaluatedAt = Date.now() / 1000;
    await waitFor(
      'three more scrapes of every target',
      async () => {
        const r = await promQuery('min(timestamp(up))');
        return Number(r.data?.result[0]?.value[1] ?? 0) >= evaluatedAt + 3;
      },
      60_000,
      250,
    ).catch(async (error: Error) => {
      throw new Error(await diagnose(error));
    });
    if (process.env.ELT_MONITORING_SAMPLE)
      await writeFile(process.env.ELT_MONITORING_SAMPLE, await (await fetch(metricsUrl)).text());
  });

  afterAll(async () => {
    await workload?.stop().catch(() => undefined); // cleanup: the test has its outcome already
    if (api && api.exitCode === null) {
      api.kill('SIGTERM');
      await once(api, 'exit');
    }
    await prometheus?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('scrapes both targets', async () => {
    const r = await promQuery('up');
    const up = Object.fromEntries((r.data?.result ?? []).map((s) => [s.metric.job, s.value[1]]));
    expect(up, apiOutput).toMatchObject({ 'elt-replicator': '1', 'elt-api': '1' });
  });

  it('keeps the lists of metrics without data honest', async () => {
    const names = await exposition();
    const proposedButExported = Object.keys(PROPOSED_METRICS).filter((name) => names.declared.has(name));
    expect(
      proposedButExported,
      'exported now: remove them from PROPOSED_METRICS in monitoring/proposed-metrics.ts',
    ).toEqual([]);
    const situationalButMissing = Object.keys(SITUATIONAL_METRICS).filter((name) => !names.declared.has(name));
    expect(situationalButMissing, 'not declared by the replicator: move them to PROPOSED_METRICS').toEqual([]);
  });

  it('returns data for every dashboard query', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD_FILE, 'utf8')) as Dashboard;
    const names = await exposition();
    const failures: string[] = [];
    for (const q of dashboardQueries(dashboard)) {
      const expr = substituteVariables(q.expr, VARIABLES);
      const problem = await check(expr, names);
      if (problem) failures.push(`panel "${q.panel}" ${q.refId}: ${expr}: ${problem}`);
    }
    expect(failures).toEqual([]);
  });

  it('evaluates every alert, and every alert without its threshold returns data', async () => {
    const rules = (await (await fetch(`${prometheus!.url}/api/v1/rules`)).json()) as RulesResponse;
    const alerts = rules.data.groups.flatMap((g) => g.rules).filter((r) => r.type === 'alerting');
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    const names = await exposition();
    const failures: string[] = [];
    for (const alert of alerts) {
      if (alert.health !== 'ok') failures.push(`${alert.name}: health ${alert.health} ${alert.lastError ?? ''}`);
      if (alert.state === 'firing') failures.push(`${alert.name}: firing on a healthy stack`);
      const whole = await promQuery(alert.query);
      if (whole.status !== 'success') failures.push(`${alert.name}: ${whole.error}`);
      for (const probe of alertProbes(alert.query)) {
        const problem = await check(probe, names);
        if (problem) failures.push(`${alert.name} probe ${probe}: ${problem}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
