/**
 * `make up` (and `elt up`, for its exit codes) as a newcomer runs it, with real processes (each case on its own free ports and
 * state directory, Airflow left out: airflow/tests/test_e2e.py covers the DAG):
 * - a taken port: make up fails before starting anything, naming the service, the port and
 *   the variable to set;
 * - a service that never becomes healthy: make up names it with the tail of its log, fails,
 *   and leaves nothing running;
 * - the happy path: rows in marts when it returns, a banner whose URLs answer, make status and
 *   make dbt-build reading .elt/stack.env, marts that follow the workload, make down stopping all.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, isRunning } from '../src/local-stack/pg-cluster.js';
import { portFree } from '../src/local-stack/ports.js';
import { alive } from '../src/local-stack/processes.js';
import { ELT_BIN, REPO_ROOT, query, waitFor } from '../../harness/replication.js';

const run = promisify(execFile);

interface Make {
  code: number;
  stdout: string;
  stderr: string;
}

/** make's own exit code is 2 whenever a recipe fails: the exit codes of elt are asserted on `elt` itself. */
async function make(target: string, env: NodeJS.ProcessEnv): Promise<Make> {
  return runCommand('make', ['-s', target], env);
}

async function elt(command: string, env: NodeJS.ProcessEnv): Promise<Make> {
  return runCommand(process.execPath, [ELT_BIN, command], env);
}

async function runCommand(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Make> {
  try {
    const { stdout, stderr } = await run(file, args, {
      cwd: REPO_ROOT,
      env,
      timeout: 600_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface Stack {
  stateDir: string;
  env: NodeJS.ProcessEnv;
  ports: Record<'source' | 'destination' | 'api' | 'metrics' | 'prometheus', number>;
}

const stacks: Stack[] = [];

async function newStack(extra: Record<string, string> = {}): Promise<Stack> {
  const stateDir = await mkdtemp(join(tmpdir(), 'elt-local-stack-'));
  await chmod(stateDir, 0o755); // the clusters run as an unprivileged user, who must reach their data
  const [source, destination, api, metrics, prometheus] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const ports = { source, destination, api, metrics, prometheus };
  const env = {
    ...process.env,
    ELT_STATE_DIR: stateDir,
    ELT_SOURCE_PORT: String(source),
    ELT_DESTINATION_PORT: String(destination),
    ELT_API_PORT: String(api),
    ELT_METRICS_PORT: String(metrics),
    ELT_PROMETHEUS_PORT: String(prometheus),
    ELT_DEMO_SCALE: '0.05',
    ELT_AIRFLOW: '0',
    ...extra,
  };
  const stack = { stateDir, env, ports };
  stacks.push(stack);
  return stack;
}

/** The processes whose environment names this stack's state directory (what elt up started inherits it). */
function processesOf(stack: Stack): string[] {
  const marker = `ELT_STATE_DIR=${stack.stateDir}\0`;
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').includes(marker);
      } catch {
        return false; // gone, or not ours to read
      }
    })
    .map((pid) => `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').slice(0, 200)}`);
}

/** No process of the stack is left, both clusters are stopped, every port is free. */
async function expectNothingRunning(stack: Stack): Promise<void> {
  expect(processesOf(stack)).toEqual([]);
  for (const name of ['source', 'destination']) expect(await isRunning(join(stack.stateDir, 'pg', name))).toBe(false);
  for (const [name, port] of Object.entries(stack.ports))
    expect({ name, free: await portFree(port) }).toEqual({ name, free: true });
}

const pidsOf = (stack: Stack): Record<string, number> => {
  const file = join(stack.stateDir, 'pids.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>) : {};
};

afterEach(async () => {
  for (const stack of stacks.splice(0)) {
    await make('down', stack.env);
    await rm(stack.stateDir, { recursive: true, force: true });
  }
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('make up / elt up', () => {
  it.each([
    ['API', 'api', 'ELT_API_PORT'],
    ['destination PostgreSQL', 'destination', 'ELT_DESTINATION_PORT'],
  ] as const)(
    'fails before starting anything when the %s port is taken, naming it and its variable',
    async (service, key, variable) => {
      const stack = await newStack();
      const port = stack.ports[key];
      const squatter = await listen(port);
      try {
        const up = await elt('up', stack.env);
        expect(up.code).toBe(2); // nothing was done
        expect(up.stderr).toContain(`The ${service} cannot listen on 127.0.0.1:${port}: the port is in use`);
        expect(up.stderr).toContain(`set ${variable} to a free port`);
        expect(up.stdout).not.toMatch(/elt is up/);
        expect(existsSync(join(stack.stateDir, 'pg'))).toBe(false);
        expect(pidsOf(stack)).toEqual({});
      } finally {
        await new Promise((resolve) => squatter.close(resolve));
      }
      await expectNothingRunning(stack);
    },
  );

  it('names a service that never becomes healthy with the tail of its log, fails, and stops everything', async () => {
    // The API refuses a token shorter than 16 characters and exits.
    const stack = await newStack({ ELT_API_TOKEN: 'short' });
    const up = await elt('up', stack.env);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain('The api exited before it was healthy');
    expect(up.stderr).toContain(`last lines of ${join(stack.stateDir, 'logs', 'api.log')}`);
    expect(up.stderr).toMatch(/ELT_API_TOKEN.*at least 16 characters/);
    expect(up.stdout).toMatch(/stopped replicator[\s\S]*stopped PostgreSQL destination/);
    expect(up.stdout).not.toMatch(/elt is up/);
    expect(pidsOf(stack)).toEqual({});
    await expectNothingRunning(stack);
  });

  it('brings up the pipeline with marts built, a banner whose URLs answer, and make down stops it all', async () => {
    const stack = await newStack();
    const { ports } = stack;
    const up = await make('up', stack.env);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(/elt is up/);

    const destinationUrl = `postgres://postgres@127.0.0.1:${ports.destination}/analytics`;
    const martRows = async () =>
      Number((await query<{ n: string }>(destinationUrl, 'SELECT count(*) AS n FROM marts.fct_orders'))[0]!.n);
    const built = await martRows();
    expect(built).toBeGreaterThan(0);

    // Every URL the banner prints answers.
    const url = (label: string) => new RegExp(`^  ${label} +(\\S+)`, 'm').exec(up.stdout)?.[1];
    expect(url('api')).toBe(`http://127.0.0.1:${ports.api}`);
    expect(url('metrics')).toBe(`http://127.0.0.1:${ports.metrics}/metrics`);
    expect(url('destination')).toBe(destinationUrl);
    expect((await fetch(`${url('api')}/ready`)).status).toBe(200);
    expect((await fetch(url('metrics')!)).status).toBe(200);
    if (url('prometheus')?.startsWith('http')) expect((await fetch(`${url('prometheus')}/-/ready`)).status).toBe(200);
    expect(up.stdout).not.toMatch(/NOT ANSWERING/);

    // The settings file holds what was chosen, and make status reads it.
    const settings = readFileSync(join(stack.stateDir, 'stack.env'), 'utf8');
    expect(settings).toContain(`ELT_DBT_PORT='${ports.destination}'`);
    expect(settings).toContain(`ELT_API_URL='http://127.0.0.1:${ports.api}'`);
    const status = await make('status', stack.env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/state\s+streaming/);

    // The workload keeps ordering; make dbt-build (reading stack.env's port) brings the new orders into the mart.
    await waitFor(
      'new orders in staging',
      async () =>
        Number((await query<{ n: string }>(destinationUrl, 'SELECT count(*) AS n FROM staging.orders'))[0]!.n) > built,
      120_000,
    );
    const dbt = await make('dbt-build', stack.env);
    expect(dbt.code, dbt.stdout.slice(-3000)).toBe(0);
    expect(await martRows()).toBeGreaterThan(built);

    const pids = pidsOf(stack);
    expect(processesOf(stack).length).toBeGreaterThan(0); // the check below sees the stack's processes
    expect(Object.keys(pids).sort()).toEqual(expect.arrayContaining(['api', 'replicator', 'workload']));
    const down = await make('down', stack.env);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/stopped replicator[\s\S]*stopped PostgreSQL destination/);
    expect(Object.entries(pids).filter(([, pid]) => alive(-pid))).toEqual([]);
    await expectNothingRunning(stack);
  }, 900_000);
});
