/**
 * A snapshot interrupted by a crash or a transient failure is resumed, never started over
 * from zero: the tables it had copied (rows, indexes and state commit together) are kept,
 * streaming starts at the snapshot's consistent point, and every table not yet copied is
 * queued for an online resync (a fresh copy swapped in once the stream has caught up with it).
 * A table not yet copied may hold the committed parts of an unfinished split copy
 * (./snapshot-table.ts): it is emptied in the same transaction, so the resync starts from an
 * empty table, as if the snapshot had never reached it.
 *
 * This needs the slot the snapshot created, untouched (nothing is confirmed to it while
 * copying, so its confirmed position is still the consistent point), and the replica's
 * tables created (their elt.tables rows are written in the same transaction).
 */
import type pg from 'pg';
import type { Logger } from '../log.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { SlotInfo } from '../source/slot.js';
import { finishSnapshotState } from '../state/control.js';
import { enqueueResync } from '../state/resync-queue.js';
import { readTableRows } from '../state/control.js';
import { qualified } from '../sql.js';

/** Resume the slot's interrupted snapshot; null when it cannot be resumed and must start over. */
export async function resumeSnapshot(
  lc: Logger,
  control: pg.Client,
  slotName: string,
  slot: SlotInfo | null,
  snapshotLsn: Lsn | null,
): Promise<Lsn | null> {
  if (!slot || slot.walStatus === 'lost' || snapshotLsn === null || slot.confirmedFlushLsn !== snapshotLsn) return null;
  const rows = await readTableRows(control, slotName);
  if (rows.length === 0) return null;
  const pending = rows.filter((r) => r.state === 'snapshotting');
  await control.query('BEGIN');
  try {
    for (const table of pending) await emptyIfThere(control, table.targetSchema, table.targetTable);
    await enqueueResync(control, slotName, pending, 'elt: the snapshot was interrupted before this table was copied');
    await finishSnapshotState(control, slotName, snapshotLsn);
    await control.query('COMMIT');
  } catch (error) {
    await control.query('ROLLBACK');
    throw error;
  }
  lc.warn(
    {
      slot: slotName,
      lsn: formatLsn(snapshotLsn),
      copied: rows.length - pending.length,
      toResync: pending.map((r) => `${r.schema}.${r.table}`),
    },
    'resuming an interrupted snapshot: tables already copied are kept, the others are copied online',
  );
  return snapshotLsn;
}

/** TRUNCATE the replica table when it exists (a user may have dropped it since). */
async function emptyIfThere(control: pg.Client, schema: string, table: string): Promise<void> {
  const { rows } = await control.query<{ there: boolean }>('SELECT to_regclass($1) IS NOT NULL AS there', [
    qualified(schema, table),
  ]);
  if (rows[0]?.there) await control.query(`TRUNCATE ${qualified(schema, table)}`);
}
