/**
 * Waiting, without sleeping, until the replica holds everything the source has committed
 * and no resync is pending: what a schema-change test compares after each step.
 */
import { outputTail, query, StopWaiting, waitFor, type ReplicatorProcess } from '../../harness/replication.js';

const MARKER = 'elt_test_marker';
const TARGET_SCHEMA = 'staging';

/**
 * Everything committed on the source before this call is applied in the destination, and the
 * replicator streams. Fails at once, with its output, if the replicator exits; on a timeout the
 * failure shows its output too. A marker row is written after reading the source's insert position, so
 * the replicator has a transaction of ours to apply (DDL alone moves no applied LSN): the wait
 * ends when applied_lsn has passed that position and the marker's new value is in the replica.
 */
export async function waitForApplied(
  sourceUrl: string,
  destinationUrl: string,
  replicator: ReplicatorProcess,
  slot = 'elt_slot',
  timeoutMs = 120_000,
): Promise<void> {
  await query(sourceUrl, `CREATE TABLE IF NOT EXISTS ${MARKER} (id int PRIMARY KEY, n bigint NOT NULL)`);
  const [{ lsn }] = (await query<{ lsn: string }>(sourceUrl, 'SELECT pg_current_wal_insert_lsn()::text AS lsn')) as [
    { lsn: string },
  ];
  const [{ n }] = (await query<{ n: string }>(
    sourceUrl,
    `INSERT INTO ${MARKER} VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = ${MARKER}.n + 1 RETURNING n`,
  )) as [{ n: string }];
  await waitFor(
    `the replica to apply up to ${lsn} and marker ${n}`,
    async () => {
      if (replicator.child.exitCode !== null || replicator.child.signalCode !== null) {
        throw new StopWaiting(
          `elt exited (${replicator.child.exitCode ?? replicator.child.signalCode})\n${outputTail(replicator)}`,
        );
      }
      const rows = await query<{ ok: boolean }>(
        destinationUrl,
        `SELECT applied_lsn >= $2::pg_lsn AND status = 'streaming'
           AND (SELECT n FROM ${TARGET_SCHEMA}.${MARKER} WHERE id = 1) >= $3::bigint AS ok
         FROM elt.replication_state WHERE slot_name = $1`,
        [slot, lsn, n],
      );
      return rows[0]?.ok === true;
    },
    timeoutMs,
  ).catch((error: Error) => {
    if (error instanceof StopWaiting) throw error;
    throw new Error(`${error.message}\n${outputTail(replicator)}`);
  });
}

/** No resync job is queued or running; a failed job fails the wait with its error unless `failedOk`. */
export async function waitForResyncs(
  destinationUrl: string,
  options: { failedOk?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  await waitFor(
    'resync jobs to finish',
    async () => {
      const rows = await query<{ active: string; failed: string | null }>(
        destinationUrl,
        `SELECT count(*) FILTER (WHERE state IN ('queued', 'running')) AS active,
                string_agg(error, '; ') FILTER (WHERE state = 'failed') AS failed FROM elt.resync_jobs`,
      );
      if (rows[0]!.failed && !options.failedOk) throw new Error(`a resync failed: ${rows[0]!.failed}`);
      return rows[0]!.active === '0';
    },
    options.timeoutMs ?? 120_000,
  );
}

/** Applied up to now, resyncs done, and applied again past what the resyncs waited for. */
export async function waitForSettled(
  sourceUrl: string,
  destinationUrl: string,
  replicator: ReplicatorProcess,
  slot = 'elt_slot',
): Promise<void> {
  await waitForApplied(sourceUrl, destinationUrl, replicator, slot);
  await waitForResyncs(destinationUrl);
  await waitForApplied(sourceUrl, destinationUrl, replicator, slot);
}
