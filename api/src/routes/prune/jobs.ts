/**
 * Prune jobs in elt.prune_jobs as the API sees them: it queues one (with pg_notify(elt_prune)
 * in the same transaction, so the replicator hears of it when it is visible) and reads them.
 * The replicator alone runs them and deletes rows.
 */
import type { Pool } from 'pg';
import { formatDuration, parseDuration } from '../../../../replicator/src/prune/duration.js';
import { PRUNE_CHANNEL } from '../../../../replicator/src/state/control.js';
import type { PruneJob } from '../../schemas/prune.js';

type PruneState = PruneJob['state'];

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${column}`;

const COLUMNS = `id::float8 AS id, slot_name AS slot, state, older_than_seconds::float8 AS older_than_seconds, ${iso('cutoff')},
  ${iso('requested_at')}, requested_by, ${iso('started_at')}, ${iso('finished_at')}, rows_pruned::float8 AS rows_pruned, tables, error`;

type Row = Omit<PruneJob, 'older_than'>;

const toJob = (row: Row): PruneJob => ({ ...row, older_than: formatDuration(row.older_than_seconds) });

/** Queue a job and notify the replicator, in one statement (one transaction); returns it. */
export async function queuePrune(pool: Pool, slot: string, olderThan: string, requestedBy: string): Promise<PruneJob> {
  const { rows } = await pool.query<Row>(
    `WITH job AS (INSERT INTO elt.prune_jobs (slot_name, older_than_seconds, requested_by) VALUES ($1, $2, $3) RETURNING *),
     notified AS (SELECT pg_notify($4, id::text) FROM job)
     SELECT ${COLUMNS} FROM job, notified`,
    [slot, parseDuration(olderThan), requestedBy, PRUNE_CHANNEL],
  );
  return toJob(rows[0]!);
}

export async function listPrunes(pool: Pool, slot: string, limit: number, state?: PruneState): Promise<PruneJob[]> {
  const { rows } = await pool.query<Row>(
    `SELECT ${COLUMNS} FROM elt.prune_jobs WHERE slot_name = $1 AND ($2::text IS NULL OR state = $2) ORDER BY id DESC LIMIT $3`,
    [slot, state ?? null, limit],
  );
  return rows.map(toJob);
}

export async function getPrune(pool: Pool, slot: string, id: string): Promise<PruneJob | null> {
  const { rows } = await pool.query<Row>(
    `SELECT ${COLUMNS} FROM elt.prune_jobs WHERE id = $1::bigint AND slot_name = $2`,
    [id, slot],
  );
  return rows[0] ? toJob(rows[0]) : null;
}
