/**
 * A queued resync whose table the stream renames while the resync runner is taking the job:
 * the stream's rename (in its apply transaction) and the runner's claim of the table meet on
 * the same elt.resync_job_tables row. The runner must copy the table under the name it has
 * once the rename commits, not the name it read before: otherwise it copies a table that no
 * longer exists, the job fails, and the resync the renamed table needed is lost without a
 * trace (seen in the randomized migrations: a table swapped with a copy, then rewritten).
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query, waitFor } from '../../harness/replication.js';
import { RESYNC_CHANNEL } from '../src/state/control.js';

describe('a resync queued under a name the stream renames while the runner takes it', () => {
  const pair = replicationSuite({
    sourceSql: `CREATE TABLE b (id int PRIMARY KEY, v text); INSERT INTO b SELECT i, 'row ' || i FROM generate_series(1, 200) i;`,
  });

  it('copies the table under its new name and the replica ends equal', async () => {
    // A replica row lost behind elt's back: only the resync brings it back.
    await query(pair.destinationUrl, 'DELETE FROM staging.b WHERE id <= 10');
    // The job, queued under the old name `a`, held back from the runner (cancel_requested) until the rename is under way.
    const [job] = await query<{ id: string }>(
      pair.destinationUrl,
      "INSERT INTO elt.resync_jobs (slot_name, requested_by, cancel_requested) VALUES ('elt_slot', 'test', true) RETURNING id",
    );
    const jobId = Number(job!.id);
    await query(
      pair.destinationUrl,
      "INSERT INTO elt.resync_job_tables (job_id, slot_name, source_schema, source_table) VALUES ($1, 'elt_slot', 'public', 'a')",
      [jobId],
    );
    // The stream's side: the rename follows the queued job, in a transaction not yet committed.
    const stream = new pg.Client({ connectionString: pair.destinationUrl });
    await stream.connect();
    try {
      await stream.query('BEGIN');
      await stream.query(
        "UPDATE elt.resync_job_tables SET source_table = 'b' WHERE job_id = $1 AND source_table = 'a' AND state = 'queued'",
        [jobId],
      );
      await query(pair.destinationUrl, `UPDATE elt.resync_jobs SET cancel_requested = false WHERE id = $1`, [jobId]);
      await query(pair.destinationUrl, `SELECT pg_notify('${RESYNC_CHANNEL}', $1)`, [String(jobId)]);
      await waitFor('the runner to wait for the uncommitted rename', async () => {
        const rows = await query(
          pair.destinationUrl,
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'elt-resync-queue' AND wait_event_type = 'Lock'",
        );
        return rows.length > 0;
      });
      await stream.query('COMMIT');
    } finally {
      await stream.end();
    }

    await waitFor('the job to finish', async () => {
      const [row] = await query<{ state: string }>(
        pair.destinationUrl,
        'SELECT state FROM elt.resync_jobs WHERE id = $1',
        [jobId],
      );
      return row!.state !== 'queued' && row!.state !== 'running';
    });
    const tables = await query<{ table: string; state: string; error: string | null }>(
      pair.destinationUrl,
      'SELECT source_table AS table, state, error FROM elt.resync_job_tables WHERE job_id = $1',
      [jobId],
    );
    expect(tables).toEqual([{ table: 'b', state: 'succeeded', error: null }]);
    await pair.catchUp();
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
  });
});
