/**
 * Bounded memory: one source transaction that updates every row of a large table, and one
 * that inserts large text values, are applied with the replicator's peak resident memory
 * under 300 MB (read from /proc, the kernel's own high-water mark), and the replica equals
 * the source afterwards.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { query } from '../../harness/replication.js';

const MEMORY_BOUND_BYTES = 300 * 1024 * 1024;

/** The process's peak resident set size (VmHWM) in bytes. */
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

describe('huge transactions', () => {
  const pair = replicationSuite({
    settings: { logical_decoding_work_mem: '64MB' },
    sourceSql: `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint, filler text);
       INSERT INTO accounts SELECT i, 0, repeat('f', 80) FROM generate_series(1, 300000) i;
       CREATE TABLE blobs (id int PRIMARY KEY, body text);`,
  });

  it('applies a 300k-row UPDATE and 200 MB of text in single transactions with bounded memory', async () => {
    await query(pair.sourceUrl, 'UPDATE accounts SET balance = id * 3');
    // 100 values of 2 MB each, in one transaction (md5 hex so it does not compress away).
    await query(
      pair.sourceUrl,
      `INSERT INTO blobs SELECT i, (SELECT string_agg(md5(i::text || g), '') FROM generate_series(1, 65536) g) FROM generate_series(1, 100) i`,
    );
    await pair.catchUp({ timeoutMs: 600_000 });
    const peak = peakRss(pair.replicator.child.pid!);
    expect(peak).toBeLessThan(MEMORY_BOUND_BYTES);
    await pair.expectEqual();
    console.info(`peak RSS of the replicator: ${(peak / 1024 / 1024).toFixed(0)} MB`);
  }, 600_000);
});
