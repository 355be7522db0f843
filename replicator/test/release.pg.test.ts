/**
 * The release as a user installs it: `npm pack` (which builds dist/ first), then
 * `npm install --omit=dev` of the tarball into an empty prefix outside this checkout, with
 * an empty npm cache and --offline, so nothing can come from the registry or from this
 * tree's node_modules. The installed `elt` then replicates between two real clusters.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/pg-cluster.js';
import { replicationSuite } from '../../harness/fixture.js';
import { REPO_ROOT, query, StopWaiting, waitFor } from '../../harness/replication.js';

const run = promisify(execFile);

/** Packages of the source tree's development dependencies that must not reach an install. */
const DEV_ONLY = ['tsx', 'esbuild', 'typescript', 'vitest', 'pino-pretty'];

/** Build and pack this checkout into `dir`; returns the tarball's path. */
async function pack(dir: string, cache: string): Promise<string> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir, '--cache', cache], {
    cwd: REPO_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [result] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[];
  return join(dir, result!.filename);
}

/** What a production install of the tarball puts in `prefix`; returns the installed `elt`. */
async function install(tarball: string, prefix: string, cache: string): Promise<string> {
  await run(
    'npm',
    ['install', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--cache', cache, '--prefix', prefix, tarball],
    { cwd: prefix },
  );
  return join(prefix, 'node_modules', '.bin', 'elt');
}

/** The names of the packages installed anywhere under `prefix` (node_modules/<name>/package.json). */
async function installedPackages(prefix: string): Promise<Set<string>> {
  const files = await readdir(prefix, { recursive: true });
  const names = files.map((f) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/@]+)\/package\.json$/.exec(f)?.[1]);
  return new Set(names.filter((name) => name !== undefined));
}

describe('the installed package', () => {
  let work: string;
  let prefix: string;
  let elt: string;
  const pair = replicationSuite({
    start: false,
    sourceSql: `CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT i, 'before ' || i FROM generate_series(1, 500) i;`,
  });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'elt-release-'));
    prefix = join(work, 'prefix');
    const cache = join(work, 'empty-npm-cache');
    const tarball = await pack(work, cache);
    await run('mkdir', [prefix]);
    elt = await install(tarball, prefix, cache);
    // npm pack compiles the whole tree first: minutes on a loaded 2-core machine.
  }, 600_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('holds compiled JavaScript and production dependencies only', async () => {
    const own = await readdir(join(prefix, 'node_modules', 'elt'), { recursive: true });
    const ownFiles = own.filter((f) => !f.startsWith('node_modules'));
    expect(ownFiles).toContain(join('dist', 'replicator', 'src', 'main.js'));
    expect(ownFiles.filter((f) => f.endsWith('.ts'))).toEqual([]);
    const installed = await installedPackages(prefix);
    expect(installed).toContain('pg');
    expect(DEV_ONLY.filter((name) => installed.has(name))).toEqual([]);
  });

  it('elt --version prints the version of package.json, and elt --help lists the commands', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await run(elt, ['--version'], { cwd: work })).stdout.trim()).toBe(version);
    const help = (await run(elt, ['--help'], { cwd: work })).stdout;
    for (const command of ['replicate', 'status', 'teardown', 'api']) expect(help).toContain(command);
  });

  it('elt replicate copies and then streams into staging (ELT_LOG_PRETTY=1 without pino-pretty logs JSON)', async () => {
    const replicator = await pair.start({ ELT_LOG_PRETTY: '1' }, { command: { file: elt, cwd: work } });
    await query(
      pair.sourceUrl,
      `INSERT INTO orders SELECT i, 'after ' || i FROM generate_series(501, 600) i; UPDATE orders SET note = 'changed' WHERE id = 1;`,
    );
    await pair.catchUp();
    const rows = await query<{ n: string; changed: string }>(
      pair.destinationUrl,
      `SELECT count(*) AS n, count(*) FILTER (WHERE note = 'changed') AS changed FROM staging.orders`,
    );
    expect(rows[0]).toEqual({ n: '600', changed: '1' });
    expect(replicator.output()).toContain('ELT_LOG_PRETTY=1 needs the pino-pretty package');
  });

  it('elt status reports the slot streaming', async () => {
    const { stdout } = await run(elt, ['status', '--json'], { cwd: work, env: { ...process.env, ...pair.env() } });
    const report = JSON.parse(stdout) as { phase: string; slot_exists: boolean; tables: { table: string }[] };
    expect(report.phase).toBe('streaming');
    expect(report.slot_exists).toBe(true);
    expect(report.tables.map((t) => t.table)).toContain('public.orders');
  });

  it('elt api serves the OpenAPI document with the package version', async () => {
    const port = await freePort();
    await using api = pair.spawn(
      ['api'],
      { ELT_API_PORT: String(port), ELT_API_TOKEN: 'release-test-token' },
      { file: elt, cwd: work },
    );
    const document = await waitFor('the API to answer', async () => {
      if (api.child.exitCode !== null) throw new StopWaiting(`elt api exited: ${api.output()}`);
      const response = await fetch(`http://127.0.0.1:${port}/openapi.json`);
      return response.ok ? ((await response.json()) as { info: { version: string } }) : null;
    });
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(document.info.version).toBe(version);
  });
});
