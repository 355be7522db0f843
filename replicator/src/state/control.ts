/**
 * The `elt` control schema in the destination: where the replicator records what it has
 * applied (in the same transaction as the rows), each table's state, and its heartbeat.
 * The API and `elt status` read it; only the replicator writes it. Its tables are created and
 * upgraded by ./migrate.ts.
 */
import type { ClientBase } from 'pg';
import type { Queryable } from './replica-columns.js';
import { hostname } from 'node:os';
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import type { SlotInfo } from '../source/slot.js';

export const CONTROL_SCHEMA = 'elt';

/** The channel the API notifies after queueing a resync job (payload: the job id). */
export const RESYNC_CHANNEL = 'elt_resync';

/** The channel the API notifies after queueing a prune job (payload: the job id). */
export const PRUNE_CHANNEL = 'elt_prune';

export interface ReplicationState {
  phase: 'snapshotting' | 'streaming';
  snapshotLsn: Lsn | null;
  appliedLsn: Lsn | null;
}

export async function readReplicationState(db: ClientBase, slot: string): Promise<ReplicationState | null> {
  const { rows } = await db.query<{
    phase: ReplicationState['phase'];
    snapshot_lsn: string | null;
    applied_lsn: string | null;
  }>('SELECT phase, snapshot_lsn::text, applied_lsn::text FROM elt.replication_state WHERE slot_name = $1', [slot]);
  const row = rows[0];
  if (!row) return null;
  return {
    phase: row.phase,
    snapshotLsn: row.snapshot_lsn ? parseLsn(row.snapshot_lsn) : null,
    appliedLsn: row.applied_lsn ? parseLsn(row.applied_lsn) : null,
  };
}

/**
 * Start (or restart) a full snapshot: the slot's state and its tables start over, in one
 * transaction. With a null LSN it only says a new snapshot is coming (before the old slot is
 * dropped and the new one made), so a crash in between can never resume the old state.
 */
export async function beginSnapshotState(db: ClientBase, slot: string, snapshotLsn: Lsn | null): Promise<void> {
  await db.query('BEGIN');
  try {
    await db.query(
      `INSERT INTO elt.replication_state (slot_name, phase, snapshot_lsn, applied_lsn, status, started_at, host, pid)
       VALUES ($1, 'snapshotting', $2, NULL, 'snapshotting', now(), $3, $4)
       ON CONFLICT (slot_name) DO UPDATE SET phase = 'snapshotting', snapshot_lsn = $2, applied_lsn = NULL,
         applied_commit_at = NULL, applied_at = NULL, status = 'snapshotting', last_error = NULL, last_error_at = NULL`,
      [slot, snapshotLsn === null ? null : formatLsn(snapshotLsn), hostName(), process.pid],
    );
    await db.query('DELETE FROM elt.tables WHERE slot_name = $1', [slot]);
    await db.query('DELETE FROM elt.partition_leaves WHERE slot_name = $1', [slot]);
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {
      // The connection is gone: so is the transaction.
    });
    throw error;
  }
}

/** The snapshot is complete: streaming starts from the snapshot's consistent point. */
export async function finishSnapshotState(db: ClientBase, slot: string, snapshotLsn: Lsn): Promise<void> {
  await db.query(
    `UPDATE elt.replication_state SET phase = 'streaming', applied_lsn = $2, applied_at = now(), status = 'streaming'
     WHERE slot_name = $1`,
    [slot, formatLsn(snapshotLsn)],
  );
}

export interface TableRecord {
  sourceSchema: string;
  sourceTable: string;
  targetSchema: string;
  targetTable: string;
  state: 'snapshotting' | 'streaming' | 'resyncing' | 'error' | 'excluded';
  rowsEstimated?: number;
  lastError?: string;
  /** False for a table ELT_INCLUDE_TABLES / ELT_EXCLUDE_TABLES leave out; true unless told. */
  selected?: boolean;
}

export async function upsertTable(db: ClientBase, slot: string, t: TableRecord): Promise<void> {
  await db.query(
    `INSERT INTO elt.tables (slot_name, source_schema, source_table, target_schema, target_table, state, rows_estimated,
       snapshot_started_at, last_error, last_error_at, selected)
     VALUES ($1, $2, $3, $4, $5, $6::text, $7::bigint, CASE WHEN $6::text = 'snapshotting' THEN now() END, $8::text,
       CASE WHEN $8::text IS NOT NULL THEN now() END, $9::boolean)
     ON CONFLICT (slot_name, source_schema, source_table) DO UPDATE SET target_schema = $4, target_table = $5, state = $6,
       rows_estimated = coalesce($7::bigint, elt.tables.rows_estimated), last_error = $8::text, selected = $9::boolean,
       last_error_at = CASE WHEN $8::text IS NOT NULL THEN now() ELSE elt.tables.last_error_at END`,
    [
      slot,
      t.sourceSchema,
      t.sourceTable,
      t.targetSchema,
      t.targetTable,
      t.state,
      t.rowsEstimated ?? null,
      t.lastError ?? null,
      t.selected ?? true,
    ],
  );
}

/** A table's copy (the snapshot's, or a whole-table resync's) counted `rowsCopied`; `done`: it streams from here. */
export async function recordSnapshotProgress(
  db: Queryable,
  slot: string,
  schema: string,
  table: string,
  rowsCopied: number,
  done: boolean,
): Promise<void> {
  await db.query(
    `UPDATE elt.tables SET rows_copied = $4::bigint, state = CASE WHEN $5::boolean THEN 'streaming' ELSE state END,
       snapshot_done_at = CASE WHEN $5::boolean THEN now() ELSE snapshot_done_at END
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3`,
    [slot, schema, table, rowsCopied, done],
  );
}

export interface AppliedCommit {
  lsn: Lsn;
  /** Source commit time (ms since the Unix epoch); null when unknown (nothing newer was applied). */
  commitTime: number | null;
}

/**
 * Written inside the apply transaction: this is what makes apply exactly-once. Never moves the
 * applied LSN back: a transaction that applies no new source commit (a resync's swap, a table
 * stopped between commits) records the last one again, and recordCaughtUp may already have
 * moved the LSN past it.
 */
export async function recordApplied(db: ClientBase, slot: string, applied: AppliedCommit): Promise<void> {
  const result = await db.query(
    `UPDATE elt.replication_state SET applied_lsn = greatest(applied_lsn, $2::pg_lsn), applied_commit_at = coalesce(to_timestamp($3::float8 / 1000.0), applied_commit_at), applied_at = now()
     WHERE slot_name = $1 AND phase = 'streaming'`,
    [slot, formatLsn(applied.lsn), applied.commitTime],
  );
  if (result.rowCount !== 1) throw new Error(`elt.replication_state has no streaming row for slot ${slot}`);
}

/**
 * Everything the source wrote up to `lsn` is applied although no transaction of ours ends there
 * (a keepalive past the last commit, or a transaction with nothing to apply): the applied LSN
 * moves there, never back, so the destination says how far it has caught up. Outside the apply
 * transaction; safe beside it because it only moves forward.
 */
export async function recordCaughtUp(db: ClientBase, slot: string, lsn: Lsn): Promise<void> {
  await db.query(
    `UPDATE elt.replication_state SET applied_lsn = $2::pg_lsn WHERE slot_name = $1 AND phase = 'streaming' AND applied_lsn < $2::pg_lsn`,
    [slot, formatLsn(lsn)],
  );
}

export interface TableCounts {
  schema: string;
  table: string;
  inserts: number;
  updates: number;
  deletes: number;
  truncates: number;
  lastLsn: Lsn;
}

export async function recordTableCounts(db: ClientBase, slot: string, counts: TableCounts[]): Promise<void> {
  if (counts.length === 0) return;
  await db.query(
    `UPDATE elt.tables t SET inserts = t.inserts + c.inserts, updates = t.updates + c.updates, deletes = t.deletes + c.deletes,
       truncates = t.truncates + c.truncates, last_change_lsn = c.lsn::pg_lsn, last_change_at = now()
     FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[])
       AS c(schema, tbl, inserts, updates, deletes, truncates, lsn)
     WHERE t.slot_name = $1 AND t.source_schema = c.schema AND t.source_table = c.tbl`,
    [
      slot,
      counts.map((c) => c.schema),
      counts.map((c) => c.table),
      counts.map((c) => c.inserts),
      counts.map((c) => c.updates),
      counts.map((c) => c.deletes),
      counts.map((c) => c.truncates),
      counts.map((c) => formatLsn(c.lastLsn)),
    ],
  );
}

export interface Heartbeat {
  status: string;
  receivedLsn: Lsn | null;
  lagSeconds: number;
  /** The slot as the source sees it (the API reads it here: it never connects to the source). */
  slot: SlotInfo | null;
}

export async function recordHeartbeat(db: ClientBase, slot: string, beat: Heartbeat): Promise<void> {
  const info = beat.slot;
  const lagBytes =
    info?.confirmedFlushLsn != null ? Math.max(0, Number(info.currentWalLsn - info.confirmedFlushLsn)) : null;
  await db.query(
    `UPDATE elt.replication_state SET heartbeat_at = now(), status = $2, received_lsn = $3::pg_lsn, lag_seconds = $4::float8,
       host = $5, pid = $6, confirmed_lsn = $7::pg_lsn, source_wal_lsn = $8::pg_lsn, lag_bytes = $9::bigint,
       retained_wal_bytes = $10::bigint, slot_active = $11::boolean, wal_status = $12::text
     WHERE slot_name = $1`,
    [
      slot,
      beat.status,
      beat.receivedLsn === null ? null : formatLsn(beat.receivedLsn),
      beat.lagSeconds,
      hostName(),
      process.pid,
      info?.confirmedFlushLsn != null ? formatLsn(info.confirmedFlushLsn) : null,
      info ? formatLsn(info.currentWalLsn) : null,
      lagBytes,
      info?.retainedWalBytes ?? null,
      info?.active ?? null,
      info?.walStatus ?? null,
    ],
  );
}

/** A table stopped: its state becomes `error` with the reason (in the caller's transaction). */
export async function recordTableError(
  db: ClientBase,
  slot: string,
  schema: string,
  table: string,
  reason: string,
): Promise<void> {
  await db.query(
    `UPDATE elt.tables SET state = 'error', last_error = $4, last_error_at = now() WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3`,
    [slot, schema, table, reason],
  );
}

export async function recordError(db: ClientBase, slot: string, message: string): Promise<void> {
  await db.query(
    `UPDATE elt.replication_state SET last_error = $2, last_error_at = now(), status = 'error' WHERE slot_name = $1`,
    [slot, message],
  );
}

function hostName(): string {
  return hostname();
}

/** Each table's state, by schema and name (the metrics; what an interrupted snapshot resumes from). */
export async function readTableRows(
  db: ClientBase,
  slot: string,
): Promise<
  { schema: string; table: string; state: string; targetSchema: string; targetTable: string; selected: boolean }[]
> {
  const { rows } = await db.query<{
    schema: string;
    table: string;
    state: string;
    targetSchema: string;
    targetTable: string;
    selected: boolean;
  }>(
    'SELECT source_schema AS schema, source_table AS table, state, target_schema AS "targetSchema", target_table AS "targetTable", selected FROM elt.tables WHERE slot_name = $1',
    [slot],
  );
  return rows;
}

/** The slot's tables that are replicated (every state but `excluded`), by schema and name. */
export async function readReplicatedTables(db: ClientBase, slot: string): Promise<{ schema: string; table: string }[]> {
  const { rows } = await db.query<{ schema: string; table: string }>(
    `SELECT source_schema AS schema, source_table AS table FROM elt.tables WHERE slot_name = $1 AND state <> 'excluded' ORDER BY 1, 2`,
    [slot],
  );
  return rows;
}

/** One table's state, or null when elt.tables has no row for it. */
export async function readTableState(
  db: ClientBase,
  slot: string,
  schema: string,
  table: string,
): Promise<string | null> {
  const { rows } = await db.query<{ state: string }>(
    'SELECT state FROM elt.tables WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3',
    [slot, schema, table],
  );
  return rows[0]?.state ?? null;
}

/**
 * The tables stopped (error) or left out (excluded), with why; and those a previous run was
 * resyncing: whether they were stopped before is not recorded, so their changes wait for
 * their resync to copy them again.
 */
export async function readStoppedTables(
  db: ClientBase,
  slot: string,
): Promise<{ schema: string; table: string; reason: string | null }[]> {
  const { rows } = await db.query<{ schema: string; table: string; reason: string | null }>(
    `SELECT source_schema AS schema, source_table AS table,
            CASE WHEN state = 'resyncing' THEN 'its resync was interrupted by a restart' ELSE last_error END AS reason
       FROM elt.tables WHERE slot_name = $1 AND state IN ('error', 'excluded', 'resyncing')`,
    [slot],
  );
  return rows;
}

/** A table created in the replica while streaming: it streams from here (an existing row is set streaming). */
export async function insertStreamingTable(
  db: Queryable,
  slot: string,
  schema: string,
  table: string,
  targetSchema: string,
): Promise<void> {
  await db.query(
    `INSERT INTO elt.tables (slot_name, source_schema, source_table, target_schema, target_table, state, snapshot_done_at)
     VALUES ($1, $2, $3, $4, $3, 'streaming', now()) ON CONFLICT (slot_name, source_schema, source_table) DO UPDATE SET state = 'streaming'`,
    [slot, schema, table, targetSchema],
  );
}

/** A row for a table that has none yet (a new or renamed table), in state error: recordTableError says why. */
export async function ensureErrorTableRow(
  db: Queryable,
  slot: string,
  schema: string,
  table: string,
  targetSchema: string,
): Promise<void> {
  await db.query(
    `INSERT INTO elt.tables (slot_name, source_schema, source_table, target_schema, target_table, state) VALUES ($1, $2, $3, $4, $3, 'error')
     ON CONFLICT (slot_name, source_schema, source_table) DO NOTHING`,
    [slot, schema, table, targetSchema],
  );
}

/** What elt.tables and the resync queue know of a source table, for the selection watch. */
export interface SelectionState {
  /** elt.tables has a row for it. */
  row: boolean;
  selected: boolean;
  /** A resync of it is queued or running. */
  active: boolean;
  /** Its row's source table is gone (../schema/gone-tables.ts): a table under its name now is a new one. */
  gone: boolean;
}

/** By JSON.stringify([schema, table]): whether elt.tables has a row (its selected flag, whether its source table is gone) and whether a resync is queued or running. */
export async function readSelectionStates(db: ClientBase, slot: string): Promise<Map<string, SelectionState>> {
  const { rows } = await db.query<{ schema: string; table: string } & SelectionState>(
    `SELECT k.schema, k.table, bool_or(k.row) AS row, bool_or(k.selected) AS selected, bool_or(k.active) AS active,
       bool_or(k.gone) AS gone FROM (
       SELECT source_schema AS schema, source_table AS table, true AS row, selected, false AS active,
         source_gone_at IS NOT NULL AS gone FROM elt.tables WHERE slot_name = $1
       UNION ALL
       SELECT source_schema, source_table, false, false, true, false FROM elt.resync_job_tables WHERE slot_name = $1 AND state IN ('queued', 'running')
     ) k GROUP BY 1, 2`,
    [slot],
  );
  return new Map(rows.map((r) => [JSON.stringify([r.schema, r.table]), r]));
}

/**
 * The qualified name of the replica elt made for a source table, if it exists: one it replicated, or kept
 * when the selection left it out before, or kept when its source table went; never one whose row says it was
 * never replicated (excluded while selected, for another reason).
 */
export async function readDroppableReplica(
  db: ClientBase,
  slot: string,
  schema: string,
  table: string,
): Promise<string | null> {
  const { rows } = await db.query<{ target: string }>(
    `SELECT format('%I.%I', target_schema, target_table) AS target FROM elt.tables
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3
       AND NOT (state = 'excluded' AND selected AND source_gone_at IS NULL)
       AND to_regclass(format('%I.%I', target_schema, target_table)) IS NOT NULL`,
    [slot, schema, table],
  );
  return rows[0]?.target ?? null;
}

/** Record that a table's replica now lives in `targetSchema` (ELT_TARGET_SCHEMA_MAP changed), in the caller's transaction. */
export async function recordTargetSchema(
  db: ClientBase,
  slot: string,
  schema: string,
  table: string,
  targetSchema: string,
): Promise<void> {
  await db.query(
    'UPDATE elt.tables SET target_schema = $4 WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3',
    [slot, schema, table, targetSchema],
  );
}
