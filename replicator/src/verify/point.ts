/**
 * A verification point: the source read inside an exported snapshot at LSN L (a temporary
 * logical slot's, as a resync takes), the replica read once its applied LSN has reached L, in
 * one REPEATABLE READ transaction. Everything committed on the source before L is in both;
 * replica rows written at or after L (their _lsn) are left out by the caller.
 *
 * The source transaction stays open only while one small group of chunks is compared: before
 * the snapshot is taken the replica is first brought close (applied up to the source's WAL
 * position of that moment), so the wait inside the snapshot is short; if it is not, the point
 * is given up and the caller takes another.
 */
import type pg from 'pg';
import { EltError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatLsn, lastRecordEnd, parseLsn, type Lsn } from '../lsn.js';
import { createSlotWithSnapshot } from '../source/slot.js';
import { literal } from '../sql.js';
import { readReplicationState } from '../state/control.js';
import { readReadiness } from '../state/read-model.js';

/** How long the replica may take to apply the source's WAL position before a snapshot is taken. */
const CATCH_UP_WAIT_MS = 300_000;
/** How long a snapshot's source transaction may wait for the replica to reach its LSN. */
const IN_SNAPSHOT_WAIT_MS = 30_000;
const POLL_MS = 100;

export interface PointContext {
  lc: Logger;
  sourceUrl: string;
  slot: string;
  /** A plain source connection, not in a transaction, that the point may use. */
  source: pg.Client;
  /** A destination connection, not in a transaction. */
  replica: pg.Client;
  signal?: AbortSignal | undefined;
}

export interface Point {
  lsn: Lsn;
  /** End both transactions (read only: nothing to keep). */
  close(): Promise<void>;
}

/** The replicator does not apply: nothing can be compared. */
export class ReplicaNotApplying extends EltError {
  override readonly name = 'ReplicaNotApplying';
}

/** A heartbeat older than this: the replicator is not running. */
const HEARTBEAT_MAX_AGE_S = 60;

/** Before verifying: the slot's replicator streams and its heartbeat is fresh; otherwise no point would ever be reached. */
export async function checkReplicatorStreaming(replica: pg.Client, slot: string): Promise<void> {
  const row = await readReadiness(replica, slot).catch((error: { code?: string }) => {
    if (error.code === '42P01') return null;
    throw error;
  });
  const hint = 'Start elt replicate for this slot (or set ELT_SLOT to the slot it uses), then verify again.';
  if (!row)
    throw new ReplicaNotApplying(
      `The destination has no replication state for slot ${slot}: nothing replicates there to verify.`,
      hint,
    );
  if (row.phase !== 'streaming')
    throw new ReplicaNotApplying(
      `The replicator for slot ${slot} is still ${row.phase}: verification needs it streaming.`,
      'Wait until its snapshot is done (elt status), then verify again.',
    );
  if (row.age === null || row.age > HEARTBEAT_MAX_AGE_S) {
    throw new ReplicaNotApplying(
      `The replicator for slot ${slot} is not running: its last heartbeat was ${row.age === null ? 'never' : `${Math.round(row.age)} s ago`}, and verification compares the source with what it has applied.`,
      hint,
    );
  }
}

let pointCounter = 0;

export async function openPoint(ctx: PointContext): Promise<Point> {
  const { rows } = await ctx.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  await waitApplied(ctx, lastRecordEnd(parseLsn(rows[0]!.lsn)), CATCH_UP_WAIT_MS);
  const name = `elt_verify_${process.pid}_${++pointCounter}`;
  const snapshot = await createSlotWithSnapshot(ctx.lc, ctx.sourceUrl, name, ctx.source, { temporary: true });
  let sourceOpen = false;
  try {
    await ctx.source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    sourceOpen = true;
    await ctx.source.query(`SET TRANSACTION SNAPSHOT ${literal(snapshot.snapshotName)}`);
    await snapshot.release();
    await waitApplied(ctx, snapshot.consistentPoint, IN_SNAPSHOT_WAIT_MS);
    await ctx.replica.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The replica's snapshot is taken by its first statement: check that it holds L.
    const applied = (await readReplicationState(ctx.replica, ctx.slot))?.appliedLsn ?? null;
    if (applied === null || applied < snapshot.consistentPoint)
      throw new Error('the replica went back before the verification point (a new full snapshot?)');
  } catch (error) {
    // Cleanup after the error thrown below: a connection that is gone has nothing to release or roll back.
    await snapshot.release().catch(() => undefined);
    if (sourceOpen) await ctx.source.query('ROLLBACK').catch(() => undefined);
    await ctx.replica.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return {
    lsn: snapshot.consistentPoint,
    close: async () => {
      // Read-only transactions: a connection that is gone has nothing left to roll back.
      await ctx.source.query('ROLLBACK').catch(() => undefined);
      await ctx.replica.query('ROLLBACK').catch(() => undefined);
    },
  };
}

async function waitApplied(ctx: PointContext, lsn: Lsn, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no replication state';
  for (;;) {
    const state = await readReplicationState(ctx.replica, ctx.slot);
    if (state?.phase === 'streaming' && state.appliedLsn !== null && state.appliedLsn >= lsn) return;
    if (state) last = `phase ${state.phase}, applied ${state.appliedLsn === null ? '-' : formatLsn(state.appliedLsn)}`;
    if (ctx.signal?.aborted) throw new Error('verification stopped');
    if (Date.now() > deadline) {
      throw new ReplicaNotApplying(
        `The replica has not applied the source's changes up to ${formatLsn(lsn)} within ${Math.round(timeoutMs / 1000)} s (${last}): verification compares both at one point, so it needs the replicator streaming.`,
        'Start elt replicate for this slot (or wait until it has caught up), then verify again.',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
