/**
 * Test helper: queue a resync job the way the API does (rows in elt.resync_jobs and
 * elt.resync_job_tables, then NOTIFY), and wait for it to finish.
 */
import { query, StopWaiting, waitFor } from '../../harness/replication.js';

export async function queueResync(destinationUrl: string, tables: string[], slot = 'elt_slot'): Promise<number> {
  const [job] = await query<{ id: string }>(
    destinationUrl,
    "INSERT INTO elt.resync_jobs (slot_name, requested_by) VALUES ($1, 'test') RETURNING id",
    [slot],
  );
  for (const name of tables) {
    const [schema, table] = name.split('.') as [string, string];
    await query(
      destinationUrl,
      'INSERT INTO elt.resync_job_tables (job_id, slot_name, source_schema, source_table) VALUES ($1, $2, $3, $4)',
      [job!.id, slot, schema, table],
    );
  }
  await query(destinationUrl, "SELECT pg_notify('elt_resync', $1)", [job!.id]);
  return Number(job!.id);
}

/** Wait for the job to succeed; a failed job fails the wait with its error. */
export async function waitForResync(destinationUrl: string, jobId: number, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    `resync job ${jobId}`,
    async () => {
      const [job] = await query<{ state: string; error: string | null }>(
        destinationUrl,
        'SELECT state, error FROM elt.resync_jobs WHERE id = $1',
        [jobId],
      );
      // Ends the wait at once: a failed job does not succeed later.
      if (job?.state === 'failed' || job?.state === 'cancelled')
        throw new StopWaiting(`resync job ${jobId} ${job.state}: ${job.error}`);
      return job?.state === 'succeeded';
    },
    timeoutMs,
  );
}
