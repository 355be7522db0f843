/**
 * What PostgreSQL never sends for a partitioned table published via its root: a TRUNCATE
 * or DETACH of one partition, the rows of a table ATTACHed as a partition. The replicator
 * sees them in the catalog and resyncs the table online; the replica ends equal to the source.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query, waitFor } from '../../harness/replication.js';

describe('partitions changed behind the stream', () => {
  const pair = replicationSuite({
    sourceSql: `CREATE TABLE notes (id int PRIMARY KEY);
       CREATE TABLE readings (id int, taken date, v text, PRIMARY KEY (id, taken)) PARTITION BY RANGE (taken);
       CREATE TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
       CREATE TABLE readings_2026 PARTITION OF readings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       INSERT INTO readings SELECT i, date '2025-06-01' + (i % 2) * 365, 'v' || i FROM generate_series(1, 100) i;`,
  });

  /** The root's replica equals the source, then the resync the change needed has finished. */
  const waitForEqual = (what: string) =>
    waitFor(
      what,
      async () => {
        const differences = await compareReplica(pair.sourceUrl, pair.destinationUrl, { except: ['detached'] });
        const [busy] = await query<{ n: string }>(
          pair.destinationUrl,
          "SELECT count(*) AS n FROM elt.resync_jobs WHERE state IN ('queued', 'running')",
        );
        return differences.length === 0 && busy!.n === '0';
      },
      120_000,
    );

  beforeAll(async () => {
    // The replicator has seen the partitions once (its first heartbeat).
    await waitFor(
      'the partitions to be watched',
      async () => (await query(pair.destinationUrl, 'SELECT 1 FROM elt.partition_leaves')).length > 0,
      30_000,
    );
  });

  it('empties the rows of a truncated partition', async () => {
    await query(pair.sourceUrl, 'TRUNCATE readings_2025');
    await waitForEqual('the truncated partition to be empty in the replica');
    const [replica] = await query<{ n: string }>(pair.destinationUrl, 'SELECT count(*) AS n FROM staging.readings');
    expect(replica!.n).toBe('50');
  });

  it('drops the rows of a detached partition and lands those of an attached table', async () => {
    await query(
      pair.sourceUrl,
      `ALTER TABLE readings DETACH PARTITION readings_2026;
       ALTER TABLE readings_2026 RENAME TO detached;
       CREATE TABLE readings_2027 (LIKE readings);
       INSERT INTO readings_2027 SELECT i, date '2027-03-01', 'attached' FROM generate_series(1, 7) i;
       ALTER TABLE readings ATTACH PARTITION readings_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');`,
    );
    await waitForEqual('the replica to follow the detach and the attach');
    const [replica] = await query<{ n: string }>(pair.destinationUrl, 'SELECT count(*) AS n FROM staging.readings');
    expect(replica!.n).toBe('7');
    expect(pair.replicator.output()).toMatch(/detached or dropped/);
  });
});
