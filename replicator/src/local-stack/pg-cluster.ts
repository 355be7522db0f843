/**
 * Fresh PostgreSQL clusters from the system's binaries, for `elt up` (make up), the tests and bench/.
 *
 * Each cluster is its own `initdb` data directory on its own port (127.0.0.1 only, trust
 * auth, `wal_level=logical`). `initdb` refuses to run as root, so when we are root the
 * server runs as an unprivileged system user (`elt-pg`) that this module creates once.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CLUSTER_USER = 'elt-pg';
const SUPERUSER = 'postgres';

export interface ClusterOptions {
  /** Shown in logs and used in the temp directory name. */
  name: string;
  /** A fixed port; default: a free one. */
  port?: number;
  /** A fixed data directory (kept on stop); default: a temp directory removed on stop. */
  dataDir?: string;
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string | number>;
}

export interface PgCluster extends AsyncDisposable {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  /** A libpq URL for `database` (default `postgres`) as the superuser. */
  url(database?: string, user?: string): string;
  /** Run SQL through psql as the superuser; returns stdout. */
  psql(sql: string, database?: string): Promise<string>;
  start(): Promise<void>;
  /** Fast shutdown (clients disconnected, clean checkpoint). */
  stop(): Promise<void>;
  /** Immediate shutdown: what a crash looks like to clients. */
  crash(): Promise<void>;
  restart(): Promise<void>;
  /** Stop and, for a temp cluster, delete the data directory. */
  destroy(): Promise<void>;
}

/** The PostgreSQL binaries: ELT_PG_BIN, else `pg_config --bindir`, else the Debian path. */
export function pgBinDir(): string {
  if (process.env.ELT_PG_BIN) return process.env.ELT_PG_BIN;
  for (const candidate of ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin']) {
    if (existsSync(join(candidate, 'initdb'))) return candidate;
  }
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('PostgreSQL server binaries not found: install postgresql (initdb, pg_ctl) or set ELT_PG_BIN.');
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let clusterUser: Promise<{ uid: number; gid: number }> | undefined;

/**
 * As root, make sure the unprivileged cluster user exists and return its ids. One lookup per
 * process: clusters started at the same time share it (concurrent useradd calls raced).
 */
function ensureClusterUser(): Promise<{ uid: number; gid: number }> {
  clusterUser ??= ensureSystemUser(CLUSTER_USER).catch((error: unknown) => {
    clusterUser = undefined;
    throw error;
  });
  return clusterUser;
}

/**
 * Create system user `name` unless it exists; its uid and gid. useradd does not serialize
 * itself: concurrent calls created the user twice with different uids (the last one wins in
 * /etc/passwd), and a data directory chowned to the other uid was out of the server's reach.
 * flock(1) orders the check and the useradd, across processes too.
 */
export async function ensureSystemUser(name: string): Promise<{ uid: number; gid: number }> {
  const create = `id -u ${name} >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin ${name}`;
  await run('flock', [join(tmpdir(), 'elt-useradd.lock'), 'sh', '-c', create]);
  const uid = Number((await run('id', ['-u', name])).stdout.trim());
  const gid = Number((await run('id', ['-g', name])).stdout.trim());
  return { uid, gid };
}

/** Run a PostgreSQL binary, as the cluster user when we are root. */
async function runPg(binary: string, args: string[]): Promise<string> {
  const path = join(pgBinDir(), binary);
  const [file, argv] = isRoot() ? ['runuser', ['-u', CLUSTER_USER, '--', path, ...args]] : [path, args];
  try {
    const { stdout } = await run(file, argv, { maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${binary} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

async function prepareDirectory(dir: string): Promise<void> {
  // Parents stay traversable by the cluster user; only the data directory itself is private.
  await mkdir(dirname(dir), { recursive: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (isRoot()) {
    const { uid, gid } = await ensureClusterUser();
    await chown(dir, uid, gid);
  }
}

function confLines(port: number, dataDir: string, settings: Record<string, string | number>): string {
  const all: Record<string, string | number> = {
    port,
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${dataDir}'`,
    wal_level: 'logical',
    max_wal_senders: 20,
    max_replication_slots: 20,
    max_connections: 200,
    logging_collector: 'off',
    log_min_messages: 'warning',
    ...settings,
  };
  return Object.entries(all)
    .map(([key, value]) => `${key} = ${value}`)
    .join('\n');
}

/**
 * Start a cluster: initdb on first use of its data directory, then pg_ctl start.
 * A fixed data directory that already holds a cluster is started as it is.
 */
export async function startCluster(options: ClusterOptions): Promise<PgCluster> {
  const temporary = !options.dataDir;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), `elt-pg-${options.name}-`)));
  await prepareDirectory(dataDir);
  const confPath = join(dataDir, 'postgresql.auto.conf');
  let port = options.port;

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await runPg('initdb', ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    port ??= await freePort();
    await writeFile(confPath, confLines(port, dataDir, options.settings ?? {}) + '\n');
    if (isRoot()) {
      const { uid, gid } = await ensureClusterUser();
      await chown(confPath, uid, gid);
    }
  } else {
    const existing = /^port = (\d+)$/m.exec(await readFile(confPath, 'utf8'));
    port ??= existing ? Number(existing[1]) : await freePort();
  }
  const logFile = join(dataDir, 'server.log');

  const cluster: PgCluster = {
    name: options.name,
    port,
    dataDir,
    url(database = 'postgres', user = SUPERUSER) {
      return `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    },
    async psql(sql, database = 'postgres') {
      const { stdout } = await run(
        'psql',
        ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', cluster.url(database), '-c', sql],
        { maxBuffer: 256 * 1024 * 1024 },
      );
      return stdout.trim();
    },
    async start() {
      await runPg('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${port}`, 'start']);
    },
    async stop() {
      await runPg('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']).catch((error: Error) => {
        if (!/Is server running\?|PID file .* does not exist/.test(error.message)) throw error;
      });
    },
    async crash() {
      await runPg('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    },
    async restart() {
      await cluster.stop();
      await cluster.start();
    },
    async destroy() {
      await cluster.stop();
      if (temporary) await rm(dataDir, { recursive: true, force: true });
    },
    async [Symbol.asyncDispose]() {
      await cluster.destroy();
    },
  };

  if (!(await isRunning(dataDir))) await cluster.start();
  return cluster;
}

/** Stop the cluster in dataDir if it runs (fast shutdown); leaves its data alone. */
export async function stopClusterAt(dataDir: string): Promise<boolean> {
  if (!(await isRunning(dataDir))) return false;
  await runPg('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
  return true;
}

/** Whether a server runs from dataDir (pg_ctl status). */
export async function isRunning(dataDir: string): Promise<boolean> {
  try {
    await runPg('pg_ctl', ['-D', dataDir, 'status']);
    return true;
  } catch {
    return false;
  }
}
