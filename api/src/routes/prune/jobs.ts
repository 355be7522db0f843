/**
 * Prune jobs as the API sees them: it queues one (with pg_notify(elt_prune) in the same
 * statement, so the replicator hears of it when it is visible) and reads them, through the
 * replicator's statements (state/prune-jobs.ts, state/read-model.ts). The replicator alone runs
 * them and deletes rows.
 */
import type { Pool } from 'pg';
import { formatDuration, parseDuration } from '../../../../replicator/src/prune/duration.js';
import { queuePruneJob } from '../../../../replicator/src/state/prune-jobs.js';
import { readPruneJob, readPruneJobs, type PruneJobRow } from '../../../../replicator/src/state/read-model.js';
import type { PruneJob } from '../../schemas/prune.js';

type PruneState = PruneJob['state'];

const toJob = (row: PruneJobRow): PruneJob => ({
  ...row,
  state: row.state as PruneState,
  older_than: formatDuration(row.older_than_seconds),
});

/** Queue a job and notify the replicator; returns it as queued. */
export async function queuePrune(pool: Pool, slot: string, olderThan: string, requestedBy: string): Promise<PruneJob> {
  return toJob(await queuePruneJob(pool, slot, parseDuration(olderThan)!, requestedBy));
}

export async function listPrunes(pool: Pool, slot: string, limit: number, state?: PruneState): Promise<PruneJob[]> {
  return (await readPruneJobs(pool, slot, limit, state)).map(toJob);
}

export async function getPrune(pool: Pool, slot: string, id: string): Promise<PruneJob | null> {
  const row = await readPruneJob(pool, slot, id);
  return row ? toJob(row) : null;
}
