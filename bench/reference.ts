/**
 * The references our replicator is measured against, run on the same clusters:
 *
 * - `pg_dump | psql` and `pg_dump -Fd -j N` + `pg_restore -j N` into a fresh database;
 * - native logical replication: the source schema (pg_dump --schema-only) in a fresh
 *   database on the `native` cluster, then CREATE SUBSCRIPTION ... WITH (copy_data) on the
 *   same publication our replicator reads, with its own slot.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PgCluster } from '../harness/pg-cluster.js';
import { query } from '../harness/replication.js';
import { ident, literal } from '../replicator/src/sql.js';
import { PUBLICATION } from './datasets.js';
import { runCommand } from './proc.js';
import { waitSlotActive } from './slots.js';
import { poll } from './wait.js';

/** What neither reference should copy: owners and grants of roles the destination lacks, publications. */
const DUMP_FLAGS = ['--no-owner', '--no-privileges', '--no-publications', '--no-subscriptions'];

/** `pg_dump | psql` into a new database `db` on `destination`; resolves with the pipeline's seconds. */
export async function dumpPipePsql(sourceUrl: string, destination: PgCluster, db: string): Promise<number> {
  await destination.psql(`CREATE DATABASE ${ident(db)}`);
  const { seconds } = await runCommand(
    'bash',
    [
      '-o',
      'pipefail',
      '-c',
      `pg_dump ${DUMP_FLAGS.join(' ')} -d "$SRC" | psql -X -q -v ON_ERROR_STOP=1 -d "$DST" >/dev/null`,
    ],
    {
      env: { ...process.env, SRC: sourceUrl, DST: destination.url(db) },
    },
  );
  return seconds;
}

/**
 * `pg_dump -Fd -j N -Z 0` then `pg_restore -j N` into a new database; resolves with both
 * steps' seconds. Uncompressed: on a local copy gzip only costs CPU the other methods do not spend.
 */
export async function dumpRestoreParallel(
  sourceUrl: string,
  destination: PgCluster,
  db: string,
  jobs: number,
): Promise<number> {
  await destination.psql(`CREATE DATABASE ${ident(db)}`);
  const dir = await mkdtemp(join(tmpdir(), 'elt-bench-dump-'));
  try {
    const dump = await runCommand('pg_dump', [
      ...DUMP_FLAGS,
      '-Fd',
      '-Z',
      '0',
      '-j',
      String(jobs),
      '-f',
      join(dir, 'd'),
      '-d',
      sourceUrl,
    ]);
    const restore = await runCommand('pg_restore', [
      '--no-owner',
      '--no-privileges',
      '-j',
      String(jobs),
      '-d',
      destination.url(db),
      join(dir, 'd'),
    ]);
    return dump.seconds + restore.seconds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function dropDatabase(cluster: PgCluster, db: string): Promise<void> {
  await cluster.psql(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`);
}

export interface NativeSubscription {
  name: string;
  /** The subscriber database (tables in `public`). */
  destinationUrl: string;
  sourceUrl: string;
}

/** A subscriber database with the source's schema and no rows, ready for CREATE SUBSCRIPTION. */
export async function prepareSubscriber(sourceUrl: string, destination: PgCluster, db: string): Promise<string> {
  await destination.psql(`CREATE DATABASE ${ident(db)}`);
  await runCommand(
    'bash',
    [
      '-o',
      'pipefail',
      '-c',
      `pg_dump --schema-only ${DUMP_FLAGS.join(' ')} -d "$SRC" | psql -X -q -v ON_ERROR_STOP=1 -d "$DST" >/dev/null`,
    ],
    {
      env: { ...process.env, SRC: sourceUrl, DST: destination.url(db) },
    },
  );
  return destination.url(db);
}

/**
 * CREATE SUBSCRIPTION with copy_data; resolves once every table is in state 'r' (ready:
 * copied and caught up with the stream), with the seconds that took.
 */
export async function createSubscription(sub: NativeSubscription, timeoutMs: number): Promise<number> {
  const started = performance.now();
  await query(
    sub.destinationUrl,
    `CREATE SUBSCRIPTION ${ident(sub.name)} CONNECTION ${literal(sub.sourceUrl)} PUBLICATION ${ident(PUBLICATION)}
     WITH (copy_data = true, slot_name = ${literal(sub.name)})`,
  );
  await poll(
    `subscription ${sub.name} to copy every table`,
    async () => {
      const [row] = await query<{ pending: string; n: string }>(
        sub.destinationUrl,
        `SELECT count(*) FILTER (WHERE r.srsubstate <> 'r') AS pending, count(*) AS n
         FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = $1`,
        [sub.name],
      );
      return Number(row!.n) > 0 && Number(row!.pending) === 0;
    },
    timeoutMs,
  );
  return (performance.now() - started) / 1000;
}

/** DISABLE (and wait for the source to see the slot released) or ENABLE the subscription. */
export async function setSubscriptionEnabled(sub: NativeSubscription, enabled: boolean): Promise<void> {
  await query(sub.destinationUrl, `ALTER SUBSCRIPTION ${ident(sub.name)} ${enabled ? 'ENABLE' : 'DISABLE'}`);
  if (!enabled) await waitSlotActive(sub.sourceUrl, sub.name, false);
}

/** DROP SUBSCRIPTION, which also drops its slot on the source. */
export async function dropSubscription(sub: NativeSubscription): Promise<void> {
  await query(sub.destinationUrl, `DROP SUBSCRIPTION IF EXISTS ${ident(sub.name)}`);
}
