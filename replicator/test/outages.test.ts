/**
 * Outages: the source restarts, the network to the source is cut in the middle of a large
 * transaction, and the slot loses its WAL while the replicator is down. Each time the
 * replicator recovers by itself and the replica ends equal to the source.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../../harness/tcp-proxy.js';
import { waitForStreaming, compareReplica, query, startElt, startPair, waitFor, waitForCatchUp, type ClusterPair, type ReplicatorProcess } from '../../harness/replication.js';

const SCHEMA = `
CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, note text);
INSERT INTO accounts SELECT i, 100, 'initial' FROM generate_series(1, 200000) i;
CREATE TABLE audit (at timestamptz DEFAULT clock_timestamp(), what text);
ALTER TABLE audit REPLICA IDENTITY FULL;
`;

describe('outages', () => {
  let pair: ClusterPair;
  let replicator: ReplicatorProcess | null = null;
  let proxy: TcpProxy | null = null;

  beforeEach(async () => {
    pair = await startPair({ settings: { max_slot_wal_keep_size: '32MB', wal_keep_size: 0, max_wal_size: '64MB', min_wal_size: '32MB' } });
    await query(pair.sourceUrl, SCHEMA);
  });

  afterEach(async () => {
    await replicator?.kill('SIGKILL');
    await proxy?.close();
    await pair?.[Symbol.asyncDispose]();
  });

  it('survives a restart of the source while streaming', async () => {
    replicator = startElt(['replicate'], { ELT_SOURCE_URL: pair.sourceUrl, ELT_DESTINATION_URL: pair.destinationUrl });
    await waitForStreaming(pair.destinationUrl, replicator);
    await query(pair.sourceUrl, "UPDATE accounts SET balance = balance + 1 WHERE id <= 1000; INSERT INTO audit (what) VALUES ('before restart')");
    await pair.source.restart();
    await query(pair.sourceUrl, "UPDATE accounts SET balance = balance + 1 WHERE id > 199000; INSERT INTO audit (what) VALUES ('after restart')");
    await waitForCatchUp(pair.sourceUrl, pair.destinationUrl, 'elt_slot', 120_000);
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
    expect(replicator.child.exitCode).toBeNull();
    expect(replicator.output()).toMatch(/replication attempt failed; retrying/);
  });

  it('survives the network to the source being cut in the middle of a large transaction', async () => {
    proxy = await startTcpProxy(pair.source.port);
    const viaProxy = pair.sourceUrl.replace(`:${pair.source.port}/`, `:${proxy.port}/`);
    replicator = startElt(['replicate'], { ELT_SOURCE_URL: viaProxy, ELT_DESTINATION_URL: pair.destinationUrl, ELT_LOG_LEVEL: 'debug' });
    await waitForStreaming(pair.destinationUrl, replicator);
    // 200k updated rows in one transaction take a while to send and apply: cut while they flow.
    const [{ lsn: before }] = (await query<{ lsn: string }>(pair.sourceUrl, 'SELECT pg_current_wal_lsn()::text AS lsn')) as [{ lsn: string }];
    await query(pair.sourceUrl, "BEGIN; UPDATE accounts SET balance = balance * 2, note = 'doubled'; INSERT INTO audit (what) VALUES ('doubled'); COMMIT;");
    const [{ lsn: committed }] = (await query<{ lsn: string }>(pair.sourceUrl, 'SELECT pg_current_wal_lsn()::text AS lsn')) as [{ lsn: string }];
    await waitFor(
      'the big transaction to be on the wire',
      async () => (await query<{ ok: boolean }>(pair.sourceUrl, 'SELECT sent_lsn > $1::pg_lsn AS ok FROM pg_stat_replication', [before]))[0]?.ok,
      30_000,
      10,
    );
    const [{ applied }] = (await query<{ applied: boolean }>(pair.sourceUrl, "SELECT confirmed_flush_lsn >= $1::pg_lsn AS applied FROM pg_replication_slots WHERE slot_name = 'elt_slot'", [committed])) as [{ applied: boolean }];
    expect(applied).toBe(false);
    const cut = proxy.cut();
    expect(cut).toBeGreaterThan(0);
    await query(pair.sourceUrl, "INSERT INTO audit (what) VALUES ('after the cut')");
    await waitForCatchUp(pair.sourceUrl, pair.destinationUrl, 'elt_slot', 120_000);
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
    const [doubled] = await query<{ n: string }>(pair.destinationUrl, "SELECT count(*) AS n FROM staging.accounts WHERE note = 'doubled' AND balance = 200");
    expect(doubled!.n).toBe('200000');
    expect(replicator.child.exitCode).toBeNull();
  });

  it('turns a slot that lost its WAL into a full resync, loudly', async () => {
    replicator = startElt(['replicate'], { ELT_SOURCE_URL: pair.sourceUrl, ELT_DESTINATION_URL: pair.destinationUrl });
    await waitForStreaming(pair.destinationUrl, replicator);
    await replicator.kill('SIGKILL');
    // While the replicator is down, write more WAL than max_slot_wal_keep_size lets the slot keep.
    await query(pair.sourceUrl, "INSERT INTO audit (what) SELECT repeat('w', 200) FROM generate_series(1, 400000)");
    await query(pair.sourceUrl, "DELETE FROM accounts WHERE id % 2 = 0; CHECKPOINT; SELECT pg_switch_wal(); CHECKPOINT;");
    await waitFor('the slot to lose its WAL', async () => {
      await query(pair.sourceUrl, 'CHECKPOINT');
      const [slot] = await query<{ wal_status: string }>(pair.sourceUrl, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'elt_slot'");
      return slot?.wal_status === 'lost';
    }, 60_000);
    replicator = startElt(['replicate'], { ELT_SOURCE_URL: pair.sourceUrl, ELT_DESTINATION_URL: pair.destinationUrl });
    await waitFor('the full resync', async () => /the replication slot is gone or lost its WAL/.test(replicator!.output()) && /snapshot complete/.test(replicator!.output()), 120_000);
    await waitForCatchUp(pair.sourceUrl, pair.destinationUrl, 'elt_slot', 120_000);
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
  });
});
