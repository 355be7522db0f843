/**
 * What the replication tests, bench/ and `make up` share: a source and a destination
 * cluster, the replicator as a real child process, waiting for a condition, and comparing
 * the replica with the source table by table.
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startCluster, type PgCluster } from './pg-cluster.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ELT_BIN = join(REPO_ROOT, 'bin', 'elt.js');

/**
 * Node flags the replicator runs with everywhere (bin/elt.js's shebang, the Dockerfile, make up):
 * its live data is bounded by design, and a capped heap makes V8 collect garbage before it grows.
 */
export const ELT_NODE_FLAGS = ['--max-old-space-size=160'];

export interface ClusterPair extends AsyncDisposable {
  source: PgCluster;
  destination: PgCluster;
  /** The source database (superuser). */
  sourceUrl: string;
  /** The destination database (superuser). */
  destinationUrl: string;
}

export async function startPair(
  options: { sourceDb?: string; destinationDb?: string; settings?: Record<string, string | number> } = {},
): Promise<ClusterPair> {
  const sourceDb = options.sourceDb ?? 'shop';
  const destinationDb = options.destinationDb ?? 'analytics';
  const [source, destination] = await Promise.all([
    startCluster({ name: 'source', settings: options.settings }),
    startCluster({ name: 'destination', settings: options.settings }),
  ]);
  await source.psql(`CREATE DATABASE ${sourceDb}`);
  await destination.psql(`CREATE DATABASE ${destinationDb}`);
  return {
    source,
    destination,
    sourceUrl: source.url(sourceDb),
    destinationUrl: destination.url(destinationDb),
    async [Symbol.asyncDispose]() {
      await Promise.all([source.destroy(), destination.destroy()]);
    },
  };
}

/** A running `elt` command; disposing of it stops it (SIGTERM, then SIGKILL if it lingers) and waits for its exit. */
export interface ReplicatorProcess extends AsyncDisposable {
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Start `elt <args>` as a child process with the given environment added. */
export function startElt(args: string[], env: Record<string, string>): ReplicatorProcess {
  return startEltCommand(process.execPath, [...ELT_NODE_FLAGS, ELT_BIN, ...args], env, REPO_ROOT);
}

/** Start an `elt` command (this checkout's or an installed one) as a child process, as startElt does. */
export function startEltCommand(
  file: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
): ReplicatorProcess {
  const child = spawn(file, args, {
    cwd,
    env: { ...process.env, ELT_METRICS_PORT: '0', ELT_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return eltProcess(child);
}

/** A spawned `elt` (stdout and stderr piped) as a ReplicatorProcess that collects its output. */
export function eltProcess(child: ChildProcessByStdio<null, Readable, Readable>): ReplicatorProcess {
  const chunks: string[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c.toString()));
  child.stderr.on('data', (c: Buffer) => chunks.push(c.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  return {
    child,
    output: () => chunks.join(''),
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    async [Symbol.asyncDispose]() {
      await stopProcess(child, exited);
    },
  };
}

/** How long a stopped `elt` may take to shut down cleanly before it is killed. */
const SHUTDOWN_GRACE_MS = 30_000;

/** SIGTERM, then SIGKILL if the process has not exited within the grace period; resolves on exit. */
async function stopProcess(child: ChildProcess, exited: Promise<number | string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const grace = setTimeout(() => child.kill('SIGKILL'), SHUTDOWN_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(grace);
  }
}

/** Run `elt <args>` to completion. */
export async function runElt(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | string; output: string }> {
  const process = startElt(args, env);
  const code = await process.exited;
  return { code, output: process.output() };
}

/** Thrown by a waitFor check when waiting longer is pointless (the process it waits on exited): waitFor rethrows it at once. */
export class StopWaiting extends Error {
  override readonly name = 'StopWaiting';
}

/**
 * Poll `check` until it returns a truthy value. Other errors count as "not yet" (a server that
 * is restarting); the last one is shown on a timeout.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | false | null | undefined>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const result = await check();
      if (result) return result;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- an error (or whatever was thrown), as String() shows it
      const reason = lastError ? `: ${String(lastError)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function query<T extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, options: '-c timezone=UTC -c extra_float_digits=3' });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export interface TableFingerprint {
  rows: number;
  /** md5 of all rows' text, in a fixed order: equal fingerprints mean equal contents. */
  checksum: string;
}

/**
 * Row count and checksum of a table's source columns (the replica's metadata columns are
 * left out), in a stable order, so that source and replica compare exactly.
 */
export async function fingerprint(
  url: string,
  schema: string,
  table: string,
  columns: string[],
  where = 'true',
): Promise<TableFingerprint> {
  const list = columns.map((c) => `"${c}"`).join(', ');
  const rows = await query<{ n: string; checksum: string | null }>(
    url,
    `SELECT count(*) AS n, md5(string_agg(r::text, E'\\n' ORDER BY r::text)) AS checksum
     FROM (SELECT ${list} FROM "${schema}"."${table}" WHERE ${where}) r`,
  );
  return { rows: Number(rows[0]!.n), checksum: rows[0]!.checksum ?? 'empty' };
}

/** The user columns of a source table, in order. */
export async function sourceColumns(url: string, schema: string, table: string): Promise<string[]> {
  const rows = await query<{ attname: string }>(
    url,
    `SELECT attname FROM pg_attribute WHERE attrelid = format('%I.%I', $1::text, $2::text)::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    [schema, table],
  );
  return rows.map((r) => r.attname);
}

/** Tables of a schema that are not partitions (what the replica has, one per root). */
export async function replicatedTables(url: string, schema = 'public'): Promise<string[]> {
  const rows = await query<{ relname: string }>(
    url,
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
    [schema],
  );
  return rows.map((r) => r.relname);
}

export interface ReplicaDifference {
  table: string;
  source: TableFingerprint;
  replica: TableFingerprint;
}

/** Compare every table of the source schema with its replica; returns the tables that differ. */
export async function compareReplica(
  sourceUrl: string,
  destinationUrl: string,
  options: { sourceSchema?: string; targetSchema?: string; softDeleted?: boolean; except?: string[] } = {},
): Promise<ReplicaDifference[]> {
  const sourceSchema = options.sourceSchema ?? 'public';
  const targetSchema = options.targetSchema ?? 'staging';
  const differences: ReplicaDifference[] = [];
  for (const table of await replicatedTables(sourceUrl, sourceSchema)) {
    if (options.except?.includes(table)) continue;
    const columns = await sourceColumns(sourceUrl, sourceSchema, table);
    const [source, replica] = await Promise.all([
      fingerprint(sourceUrl, sourceSchema, table, columns),
      fingerprint(destinationUrl, targetSchema, table, columns, options.softDeleted ? 'NOT _deleted' : 'true'),
    ]);
    if (source.rows !== replica.rows || source.checksum !== replica.checksum)
      differences.push({ table, source, replica });
  }
  return differences;
}

/**
 * The replicator has finished its snapshot and streams (elt.replication_state says so);
 * fails at once, with its output, if the process exits first.
 */
export async function waitForStreaming(
  destinationUrl: string,
  replicator: ReplicatorProcess,
  slot = 'elt_slot',
  timeoutMs = 120_000,
): Promise<void> {
  await waitFor(
    `slot ${slot} to stream`,
    async () => {
      if (replicator.child.exitCode !== null || replicator.child.signalCode !== null)
        throw new StopWaiting(`elt exited: ${replicator.output()}`);
      const rows = await query<{ phase: string }>(
        destinationUrl,
        'SELECT phase FROM elt.replication_state WHERE slot_name = $1',
        [slot],
      ).catch(() => []);
      return rows[0]?.phase === 'streaming';
    },
    timeoutMs,
  );
}

/**
 * The source's WAL insert position, as text: the target a test waits for after its writes. Not
 * pg_current_wal_lsn(), the write position: with synchronous_commit = off it can be behind
 * commits still in the WAL buffers.
 */
export async function walInsertLsn(sourceUrl: string): Promise<string> {
  return (await query<{ lsn: string }>(sourceUrl, 'SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn;
}

/**
 * The slot has confirmed `lsn` to the source. Says nothing about the replica (a new slot of the
 * same name confirms while its snapshot is still being copied): use it only to show that the
 * source still keeps a transaction. Throws when there is no such slot.
 */
export async function slotConfirmed(sourceUrl: string, slot: string, lsn: string): Promise<boolean> {
  const rows = await query<{ ok: boolean }>(
    sourceUrl,
    'SELECT confirmed_flush_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1',
    [slot, lsn],
  );
  if (rows.length === 0) throw new Error(`the source has no slot ${slot}`);
  return rows[0]!.ok === true;
}

export interface CatchUp {
  /** Everything is applied up to the target. */
  ok: boolean;
  /** What the source and the destination say, for a message. */
  state: string;
}

/**
 * Whether the replica has applied everything the source wrote up to `lsn`, as both ends say it:
 * the slot is active and has confirmed `lsn`, and the destination's elt.replication_state is
 * streaming (phase and status) with an applied LSN at or past `lsn`, and no table is still being
 * copied (snapshotting, resyncing, or queued for a resync: an interrupted snapshot resumes
 * online, table by table). The slot alone is not enough: after a lost slot the replicator makes a new one of the same name, which confirms
 * while the new snapshot is still being copied.
 */
export async function caughtUpTo(
  sourceUrl: string,
  destinationUrl: string,
  slot: string,
  lsn: string,
): Promise<CatchUp> {
  const [source] = await query<{ active: boolean; confirmed: string | null; ok: boolean | null }>(
    sourceUrl,
    'SELECT active, confirmed_flush_lsn::text AS confirmed, confirmed_flush_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1',
    [slot, lsn],
  );
  const [replica] = await query<{ phase: string; status: string; applied: string | null; ok: boolean | null }>(
    destinationUrl,
    `SELECT phase, status, applied_lsn::text AS applied, applied_lsn >= $2::pg_lsn AS ok FROM elt.replication_state WHERE slot_name = $1`,
    [slot, lsn],
  ).catch((error: Error) => [{ phase: `unreadable (${error.message})`, status: '-', applied: null, ok: false }]);
  // Tables still being copied (an interrupted snapshot resumes online) are not caught up either.
  const [copying] = await query<{ tables: string[] | null }>(
    destinationUrl,
    `SELECT array_agg(source_schema || '.' || source_table || ' ' || state ORDER BY 1) AS tables FROM (
       SELECT source_schema, source_table, state FROM elt.tables WHERE slot_name = $1 AND state IN ('snapshotting', 'resyncing')
       UNION SELECT source_schema, source_table, 'queued for a resync' FROM elt.resync_job_tables WHERE slot_name = $1 AND state IN ('queued', 'running')) t`,
    [slot],
  ).catch((error: Error) => [{ tables: [`unreadable (${error.message})`] }]);
  const ok =
    source?.active === true &&
    source.ok === true &&
    replica?.phase === 'streaming' &&
    replica.status === 'streaming' &&
    replica.ok === true &&
    !copying?.tables;
  const state =
    `target ${lsn}; source slot ${slot}: ${source ? `${source.active ? 'active' : 'inactive'}, confirmed ${source.confirmed ?? '-'}` : 'missing'}; ` +
    `destination: ${replica ? `phase ${replica.phase}, status ${replica.status}, applied ${replica.applied ?? '-'}` : 'no replication_state row'}` +
    (copying?.tables ? `; still copying: ${copying.tables.join(', ')}` : '');
  return { ok, state };
}

/** The last lines of the replicator's output, to show beside a failure. */
export function outputTail(replicator: ReplicatorProcess, chars = 6_000): string {
  const output = replicator.output();
  return `--- elt output${output.length > chars ? ' (tail)' : ''} ---\n${output.slice(-chars)}`;
}

/** What the replicator's `table copied` log line says of one table the snapshot copied. */
export interface TableCopied {
  table: string;
  rows: number;
  parts: number;
  format: 'text' | 'binary';
}

/** The snapshot's `table copied` log lines in the replicator's output, by schema-qualified table. */
export function tablesCopied(output: string): Map<string, TableCopied> {
  const copied = new Map<string, TableCopied>();
  for (const line of output.split('\n')) {
    if (!line.includes('"msg":"table copied"')) continue;
    const entry = JSON.parse(line) as TableCopied;
    copied.set(entry.table, entry);
  }
  return copied;
}

/**
 * Wait until the replica has applied everything the source had written when this was called
 * (caughtUpTo). Fails at once, with the replicator's output, if the replicator exits; on a
 * timeout it says what each end reported. Returns the target LSN.
 */
export async function waitForCatchUp(
  pair: { sourceUrl: string; destinationUrl: string },
  replicator: ReplicatorProcess,
  options: { slot?: string; timeoutMs?: number; target?: string } = {},
): Promise<string> {
  const slot = options.slot ?? 'elt_slot';
  const target = options.target ?? (await walInsertLsn(pair.sourceUrl));
  let last = '';
  await waitFor(
    `the replica to apply up to ${target}`,
    async () => {
      if (replicator.child.exitCode !== null || replicator.child.signalCode !== null) {
        throw new StopWaiting(`elt exited (${replicator.child.exitCode ?? replicator.child.signalCode})`);
      }
      const state = await caughtUpTo(pair.sourceUrl, pair.destinationUrl, slot, target);
      last = state.state;
      return state.ok;
    },
    options.timeoutMs ?? 120_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${last}\n${outputTail(replicator)}`);
  });
  return target;
}

/**
 * The replica equals the source, table by table (compareReplica); otherwise throws with the
 * tables that differ and the replicator's output, so that a failure in CI can be diagnosed.
 */
export async function expectReplicaEqual(
  pair: { sourceUrl: string; destinationUrl: string },
  replicator: ReplicatorProcess,
  options: Parameters<typeof compareReplica>[2] & { what?: string } = {},
): Promise<void> {
  const differences = await compareReplica(pair.sourceUrl, pair.destinationUrl, options);
  if (differences.length === 0) return;
  throw new Error(
    `the replica differs from the source${options.what ? ` (${options.what})` : ''}:\n${JSON.stringify(differences, null, 2)}\n${outputTail(replicator)}`,
  );
}
