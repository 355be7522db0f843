/**
 * Smoke test of the README's quick start: `make up` in the background (on free ports, with
 * its state in a temp directory, Airflow left out), /ready answers, a new order flows from
 * the source through staging into the orders mart (dbt), and `make down` stops it all.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './pg-cluster.js';
import { REPO_ROOT, query, waitFor } from './replication.js';
import { dbtVenv } from './venvs.js';

const run = promisify(execFile);

describe('make up', () => {
  let env: NodeJS.ProcessEnv;
  let stateDir: string;

  afterAll(async () => {
    // Cleanup after the test's own outcome: a stack that did not start has nothing to stop.
    if (env) await run('make', ['-s', 'down'], { cwd: REPO_ROOT, env }).catch(() => undefined);
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('starts the stack, replicates the demo into staging and a mart, and stops', async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'elt-stack-'));
    await chmod(stateDir, 0o755); // the clusters run as an unprivileged user, who must reach their data
    const [source, destination, api, metrics, prometheus] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    env = {
      ...process.env,
      ELT_STATE_DIR: stateDir,
      ELT_SOURCE_PORT: String(source),
      ELT_DESTINATION_PORT: String(destination),
      ELT_API_PORT: String(api),
      ELT_METRICS_PORT: String(metrics),
      ELT_PROMETHEUS_PORT: String(prometheus),
      ELT_DEMO_SCALE: '0.05',
      ELT_AIRFLOW_VENV: '',
    };
    const up = await run('make', ['-s', 'up'], { cwd: REPO_ROOT, env, timeout: 300_000 });
    expect(up.stdout).toMatch(/elt is up: the demo shop is replicating continuously into staging/);

    await waitFor('/ready', async () => (await fetch(`http://127.0.0.1:${api}/ready`).catch(() => null))?.status === 200, 60_000);
    const sourceUrl = `postgres://postgres@127.0.0.1:${source}/shop`;
    const destinationUrl = `postgres://postgres@127.0.0.1:${destination}/analytics`;
    const [order] = await query<{ order_id: string }>(
      sourceUrl,
      `INSERT INTO orders (order_number, customer_id, subtotal, total, notes)
       SELECT gen_random_uuid(), min(customer_id), 10, 10, 'smoke test' FROM customers RETURNING order_id::text`,
    );
    await waitFor('the order in staging', async () => (await query(destinationUrl, 'SELECT 1 FROM staging.orders WHERE order_id = $1', [order!.order_id])).length === 1, 60_000);

    const dbt = join(dbtVenv(), 'bin', 'dbt');
    // Models only: the mart's data tests judge the demo's business rules, not the pipe.
    await run(dbt, ['run', '--select', '+fct_orders', '--project-dir', 'custom_postgres', '--profiles-dir', 'custom_postgres'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ELT_DBT_PORT: String(destination), DBT_SEND_ANONYMOUS_USAGE_STATS: 'false' },
      timeout: 300_000,
    });
    const [mart] = await query<{ n: string }>(destinationUrl, 'SELECT count(*) AS n FROM marts.fct_orders WHERE order_id = $1', [order!.order_id]);
    expect(mart!.n).toBe('1');

    const down = await run('make', ['-s', 'down'], { cwd: REPO_ROOT, env });
    expect(down.stdout).toMatch(/stopped replicator[\s\S]*stopped PostgreSQL destination/);
    expect((await fetch(`http://127.0.0.1:${api}/health`).catch(() => null))?.status).toBeUndefined();
  }, 600_000);
});
