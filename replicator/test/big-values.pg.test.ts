/**
 * Values of hundreds of megabytes: they replicate through the stream, an update that leaves
 * them unchanged and a resync, with the replicator's resident memory a small multiple of the
 * value (values stay bytes end to end; elt's heap is capped at 160 MB). A value the replicator
 * cannot hold (one changing while its table is copied again, bigger than the resync's side
 * store takes) fails that resync with a reason, and the table streams on.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { replicationFixture } from '../../harness/fixture.js';
import { query, waitFor } from '../../harness/replication.js';
import { enqueueResync } from '../src/state/resync-queue.js';

const MB = 1024 * 1024;
/** 8 bytes, three of which COPY text format escapes. */
const PATTERN = String.raw`E'ab\\c\td\ne'`;

/** SQL for a text value of `bytes` bytes (a multiple of 8) made of PATTERN, ending with `tag`. */
function bigText(bytes: number, tag: string): string {
  return `repeat(${PATTERN}, ${bytes / 8}) || '${tag}'`;
}

/** The process's resident memory now and at its peak, in bytes (Linux /proc). */
async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(/(\d+) kB/.exec(status.split('\n').find((line) => line.startsWith(field))!)![1]) * 1024;
  return { rss: kb('VmRSS:'), peak: kb('VmHWM:') };
}

/** Length and md5 of each row's body, by id. */
async function bodies(
  url: string,
  table: string,
): Promise<{ id: number; length: number; md5: string; note: string }[]> {
  return query(url, `SELECT id, octet_length(body) AS length, md5(body) AS md5, note FROM ${table} ORDER BY id`);
}

describe('big values', () => {
  it('replicates a 256 MB value through inserts, updates and a resync with memory bounded by a small multiple of it', async () => {
    const size = 256 * MB;
    await using pair = await replicationFixture({
      sourceSql: `CREATE TABLE docs (id int PRIMARY KEY, note text, body text); INSERT INTO docs VALUES (1, 'small', 'tiny')`,
    });
    await pair.start();
    const pid = pair.replicator.child.pid!;
    const before = await memory(pid);

    await query(pair.sourceUrl, `INSERT INTO docs VALUES (2, 'big', ${bigText(size, 'first')})`);
    await pair.catchUp({ timeoutMs: 300_000 });
    await query(pair.sourceUrl, `UPDATE docs SET note = 'body unchanged' WHERE id = 2`);
    await pair.catchUp({ timeoutMs: 300_000 });
    await query(pair.sourceUrl, `UPDATE docs SET body = ${bigText(size, 'second')} WHERE id = 2`);
    await pair.catchUp({ timeoutMs: 300_000 });
    expect(await bodies(pair.destinationUrl, 'staging.docs')).toEqual(await bodies(pair.sourceUrl, 'docs'));
    const streamed = await memory(pid);

    const db = new pg.Client({ connectionString: pair.destinationUrl });
    await db.connect();
    const jobId = await enqueueResync(db, 'elt_slot', [{ schema: 'public', table: 'docs' }], 'test');
    await db.end();
    await waitFor(
      'the resync to finish',
      async () =>
        (
          await query<{ state: string }>(pair.destinationUrl, 'SELECT state FROM elt.resync_jobs WHERE id = $1', [
            jobId,
          ])
        )[0]?.state === 'succeeded',
      300_000,
    );
    await pair.catchUp({ timeoutMs: 300_000 });
    expect(await bodies(pair.destinationUrl, 'staging.docs')).toEqual(await bodies(pair.sourceUrl, 'docs'));
    const after = await memory(pid);

    const growth = after.peak - before.rss;
    console.log(
      `256 MB value: resident ${(before.rss / MB).toFixed(0)} MB streaming, peak ${(streamed.peak / MB).toFixed(0)} MB after the stream, ` +
        `${(after.peak / MB).toFixed(0)} MB after the resync: ${(growth / size).toFixed(2)} × the value`,
    );
    expect(growth).toBeLessThan(4 * size);
    expect(pair.replicator.output()).not.toMatch(/heap out of memory/i);
  }, 900_000);

  it('fails a resync, with the reason, when its table changes a value too big to hold aside during the copy; the table streams on', async () => {
    await using pair = await replicationFixture({
      sourceSql: `CREATE TABLE docs (id int PRIMARY KEY, note text, body text); INSERT INTO docs VALUES (1, 'small', 'tiny')`,
    });
    await pair.start();

    // A transaction open on the table holds up the resync's snapshot (a new slot waits for running transactions):
    // its change reaches the apply loop while the resync has started to hold the table's changes aside.
    const writer = new pg.Client({ connectionString: pair.sourceUrl });
    await writer.connect();
    await writer.query('BEGIN');
    await writer.query(`UPDATE docs SET note = 'big', body = ${bigText(24 * MB, 'during')} WHERE id = 1`);
    const db = new pg.Client({ connectionString: pair.destinationUrl });
    await db.connect();
    const jobId = await enqueueResync(db, 'elt_slot', [{ schema: 'public', table: 'docs' }], 'test');
    await db.end();
    await waitFor('the resync to wait for the open transaction', async () => {
      const waiting = await query(pair.sourceUrl, `SELECT 1 FROM pg_stat_activity WHERE wait_event = 'transactionid'`);
      return waiting.length > 0;
    });
    await writer.query('COMMIT');
    await writer.end();

    const [job] = await waitFor('the resync to fail', async () => {
      const rows = await query<{ state: string; error: string | null }>(
        pair.destinationUrl,
        'SELECT state, error FROM elt.resync_job_tables WHERE job_id = $1',
        [jobId],
      );
      return rows[0]?.state === 'failed' ? rows : null;
    });
    expect(job!.error).toContain('carried a value of 24 MB while the table was being copied again');
    await pair.catchUp();
    expect(await bodies(pair.destinationUrl, 'staging.docs')).toEqual(await bodies(pair.sourceUrl, 'docs'));
    expect(await query(pair.destinationUrl, `SELECT state FROM elt.tables WHERE source_table = 'docs'`)).toEqual([
      { state: 'streaming' },
    ]);
  }, 300_000);
});
