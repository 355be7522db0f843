/**
 * The logical replication slot: created on a replication connection with an exported
 * snapshot (the snapshot lives only as long as that connection), inspected for lag and
 * retained WAL, dropped on teardown.
 */
import pg from 'pg';
import type { ClientBase } from 'pg';
import type { Logger } from '../log.js';
import { AlreadyRunningError, connectionError } from '../errors.js';
import { parseLsn, type Lsn } from '../lsn.js';
import { ident } from '../sql.js';
import { sourceClientConfig } from './source-db.js';

const SLOW_SLOT_CREATION_WARN_MS = 10_000;

export interface SlotInfo {
  active: boolean;
  activePid: number | null;
  confirmedFlushLsn: Lsn | null;
  restartLsn: Lsn | null;
  /** reserved | extended | unreserved | lost */
  walStatus: string | null;
  currentWalLsn: Lsn;
  retainedWalBytes: number | null;
}

export async function inspectSlot(db: ClientBase, slot: string): Promise<SlotInfo | null> {
  const { rows } = await db.query<{
    active: boolean;
    active_pid: number | null;
    confirmed_flush_lsn: string | null;
    restart_lsn: string | null;
    wal_status: string | null;
    current_wal_lsn: string;
    retained: string | null;
  }>(
    `SELECT active, active_pid, confirmed_flush_lsn::text, restart_lsn::text, wal_status,
       pg_current_wal_lsn()::text AS current_wal_lsn, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained
     FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`,
    [slot],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    active: row.active,
    activePid: row.active_pid,
    confirmedFlushLsn: row.confirmed_flush_lsn ? parseLsn(row.confirmed_flush_lsn) : null,
    restartLsn: row.restart_lsn ? parseLsn(row.restart_lsn) : null,
    walStatus: row.wal_status,
    currentWalLsn: parseLsn(row.current_wal_lsn),
    retainedWalBytes: row.retained === null ? null : Number(row.retained),
  };
}

export async function dropSlot(db: ClientBase, slot: string): Promise<boolean> {
  const info = await inspectSlot(db, slot);
  if (!info) return false;
  if (info.active) throw slotInUse(slot, info.activePid);
  await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
  return true;
}

export function slotInUse(slot: string, pid: number | null): AlreadyRunningError {
  return new AlreadyRunningError(
    `The replication slot ${slot} is in use by another connection (source backend pid ${pid}).`,
    'Another replicator is streaming from this slot: stop it first, or give this one its own ELT_SLOT.',
  );
}

export interface ExportedSnapshot extends AsyncDisposable {
  consistentPoint: Lsn;
  snapshotName: string;
  /** Close the replication connection; the snapshot is gone after this. */
  release(): Promise<void>;
}

/**
 * Create the slot with an exported snapshot. Everything committed before the consistent
 * point is in the snapshot; everything after it arrives through the slot. The returned
 * handle keeps the replication connection open: release it only after the copy is done.
 *
 * CREATE_REPLICATION_SLOT waits for every transaction already open on the source; while it
 * waits we log which sessions hold it up. A temporary slot (for a resync's snapshot) is
 * dropped by the server when the connection closes.
 */
export async function createSlotWithSnapshot(
  lc: Logger,
  url: string,
  slot: string,
  catalog: ClientBase,
  options: { temporary?: boolean } = {},
): Promise<ExportedSnapshot> {
  const client = new pg.Client({
    ...sourceClientConfig(url, 'elt-snapshot'),
    replication: 'database',
  } as pg.ClientConfig);
  try {
    await client.connect();
  } catch (error) {
    throw connectionError('source', url, error);
  }
  client.on('error', (error) => lc.warn({ err: error }, 'snapshot connection error'));
  const started = Date.now();
  const watcher = setInterval(() => {
    void reportBlockers(lc, catalog, Date.now() - started);
  }, SLOW_SLOT_CREATION_WARN_MS);
  try {
    const result = await client.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${ident(slot)}${options.temporary ? ' TEMPORARY' : ''} LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    const row = result.rows[0]!;
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await client.end();
    };
    return {
      consistentPoint: parseLsn(row.consistent_point),
      snapshotName: row.snapshot_name,
      release,
      [Symbol.asyncDispose]: release,
    };
  } catch (error) {
    await client.end().catch(() => undefined); // the error below is the one to report
    if ((error as { code?: string }).code === '42710') {
      throw new AlreadyRunningError(
        `The replication slot ${slot} already exists.`,
        'Run elt teardown to drop it, or choose another ELT_SLOT.',
        { cause: error },
      );
    }
    throw error;
  } finally {
    clearInterval(watcher);
  }
}

async function reportBlockers(lc: Logger, db: ClientBase, waitedMs: number): Promise<void> {
  try {
    const { rows } = await db.query(
      `SELECT 'session' AS kind, pid, usename AS owner, application_name, state, xact_start AS since, left(query, 200) AS query
       FROM pg_stat_activity
       WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND backend_type = 'client backend'
       UNION ALL
       SELECT 'prepared transaction', NULL, owner, NULL, format('PREPARE TRANSACTION %L in database %s', gid, database), prepared, NULL
       FROM pg_prepared_xacts
       ORDER BY since LIMIT 5`,
    );
    lc.warn(
      { waitedSeconds: Math.round(waitedMs / 1000), blockers: rows },
      'creating the replication slot waits for transactions that were open on the source when it started; end or commit them (a forgotten prepared transaction: COMMIT PREPARED or ROLLBACK PREPARED its gid)',
    );
  } catch {
    // Only a diagnostic.
  }
}
