/**
 * What `elt status` reports: the slot as the source sees it now, and the replication state and
 * tables as the destination records them, read through the same read model as the API
 * (./read-model.ts), so both show the same figures.
 */
import type pg from 'pg';
import { formatLsn, parseLsn } from '../lsn.js';
import { inspectSlot } from '../source/slot.js';
import { readState, readTables, type StateRow, type TableRow } from './read-model.js';

/** A table as `elt status` shows it: the same row the API's /v1/tables gives. */
export type TableStatus = TableRow;

export interface ReplicationStatus {
  slot: string;
  slot_exists: boolean;
  slot_active: boolean | null;
  wal_status: string | null;
  phase: string | null;
  status: string | null;
  confirmed_lsn: string | null;
  applied_lsn: string | null;
  source_wal_lsn: string | null;
  lag_bytes: number | null;
  lag_seconds: number | null;
  retained_wal_bytes: number | null;
  applied_commit_at: string | null;
  heartbeat_at: string | null;
  last_error: string | null;
  tables: TableStatus[];
}

/** Seconds rounded to the millisecond: what a person and a dashboard need, and no float noise. */
export function roundSeconds(seconds: number | null): number | null {
  return seconds === null ? null : Math.max(0, Math.round(seconds * 1000) / 1000);
}

/**
 * Read the destination's state for the slot (one REPEATABLE READ read-only transaction, so
 * the state row and the tables belong to one moment), then the slot on the source. The
 * source is read last: its WAL position is then at or past every LSN the destination shows.
 */
export async function readStatus(source: pg.Client | null, dest: pg.Client, slot: string): Promise<ReplicationStatus> {
  await dest.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  let state: StateRow | null = null;
  let tables: TableStatus[] = [];
  try {
    const hasControl = (await dest.query("SELECT to_regclass('elt.replication_state') IS NOT NULL AS ok")).rows[0]
      ?.ok as boolean;
    if (hasControl) {
      state = await readState(dest, slot);
      tables = await readTables(dest, slot);
    }
  } finally {
    await dest.query('COMMIT');
  }
  const info = source ? await inspectSlot(source, slot) : null;
  const appliedLsn = state?.applied_lsn ? parseLsn(state.applied_lsn) : null;
  const confirmed = info?.confirmedFlushLsn ?? null;
  const caughtUpTo =
    confirmed !== null && appliedLsn !== null
      ? confirmed > appliedLsn
        ? confirmed
        : appliedLsn
      : (confirmed ?? appliedLsn);
  return {
    slot,
    slot_exists: info !== null,
    slot_active: info?.active ?? null,
    wal_status: info?.walStatus ?? null,
    phase: state?.phase ?? null,
    status: state?.status ?? null,
    confirmed_lsn: confirmed === null ? null : formatLsn(confirmed),
    applied_lsn: state?.applied_lsn ?? null,
    source_wal_lsn: info ? formatLsn(info.currentWalLsn) : null,
    lag_bytes: info && caughtUpTo !== null ? Math.max(0, Number(info.currentWalLsn - caughtUpTo)) : null,
    lag_seconds: roundSeconds(state?.lag_seconds ?? null),
    retained_wal_bytes: info?.retainedWalBytes ?? null,
    applied_commit_at: state?.applied_commit_at ?? null,
    heartbeat_at: state?.heartbeat_at ?? null,
    last_error: state?.last_error ?? null,
    tables,
  };
}

/** The table's excluded and masked columns, as one line of `elt status`; null when it has none. */
export function describeColumnPolicy(t: Pick<TableRow, 'excluded_columns' | 'masked_columns'>): string | null {
  const parts = [
    ...(t.excluded_columns.length > 0 ? [`excluded columns: ${t.excluded_columns.join(', ')}`] : []),
    ...(t.masked_columns.length > 0
      ? [`masked columns: ${t.masked_columns.map((m) => `${m.column} (${m.method})`).join(', ')}`]
      : []),
  ];
  return parts.length > 0 ? parts.join('; ') : null;
}

export function formatStatus(s: ReplicationStatus): string {
  const lines = [
    `slot            ${s.slot} (${s.slot_exists ? (s.slot_active ? 'active' : 'inactive') : 'missing'}${s.wal_status ? `, wal ${s.wal_status}` : ''})`,
    `state           ${s.phase ?? 'not started'} / ${s.status ?? '-'}`,
    `applied lsn     ${s.applied_lsn ?? '-'}   confirmed lsn ${s.confirmed_lsn ?? '-'}   source lsn ${s.source_wal_lsn ?? '-'}`,
    `lag             ${s.lag_bytes ?? '-'} bytes, ${s.lag_seconds ?? '-'} s   retained WAL ${s.retained_wal_bytes ?? '-'} bytes`,
    `last commit     ${s.applied_commit_at ?? '-'}   heartbeat ${s.heartbeat_at ?? '-'}`,
  ];
  if (s.last_error) lines.push(`last error      ${s.last_error}`);
  lines.push(
    '',
    'table'.padEnd(32) +
      'state'.padEnd(14) +
      'copied'.padStart(10) +
      'inserts'.padStart(10) +
      'updates'.padStart(10) +
      'deletes'.padStart(10) +
      '  selected',
  );
  for (const t of s.tables) {
    lines.push(
      t.table.padEnd(32) +
        t.state.padEnd(14) +
        String(t.rows_copied).padStart(10) +
        String(t.inserts).padStart(10) +
        String(t.updates).padStart(10) +
        String(t.deletes).padStart(10) +
        (t.selected ? '  yes' : '  no'),
    );
    // Why a table is left out is what a person needs to act on it.
    if (t.state === 'excluded' && t.last_error) lines.push(`  ${t.last_error}`);
    const columns = describeColumnPolicy(t);
    if (columns) lines.push(`  ${columns}`);
  }
  return lines.join('\n');
}
