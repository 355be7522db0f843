/**
 * Soft-delete mode (ELT_DELETE_MODE=soft): a deleted row stays in the replica marked
 * `_deleted`, and what is live equals the source. A row deleted and then inserted again
 * with the same values is a new live row: later changes go to it, never to the deleted one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareReplica,
  query,
  startElt,
  startPair,
  waitForCatchUp,
  waitForStreaming,
  type ClusterPair,
  type ReplicatorProcess,
} from '../../harness/replication.js';

describe('soft-delete mode', () => {
  let pair: ClusterPair;
  let replicator: ReplicatorProcess;

  beforeAll(async () => {
    pair = await startPair();
    await query(pair.sourceUrl, 'CREATE TABLE pairs (n int, v text); ALTER TABLE pairs REPLICA IDENTITY FULL;');
    replicator = startElt(['replicate'], {
      ELT_SOURCE_URL: pair.sourceUrl,
      ELT_DESTINATION_URL: pair.destinationUrl,
      ELT_DELETE_MODE: 'soft',
    });
    await waitForStreaming(pair.destinationUrl, replicator);
  });

  afterAll(async () => {
    await replicator?.kill();
    await pair?.[Symbol.asyncDispose]();
  });

  it('updates the live row of a table without a key, not a deleted one with the same values', async () => {
    for (const statement of [
      "INSERT INTO pairs VALUES (1, 'a')",
      'DELETE FROM pairs',
      "INSERT INTO pairs VALUES (1, 'a')",
      "UPDATE pairs SET v = 'b'",
    ]) {
      await query(pair.sourceUrl, statement);
    }
    await query(
      pair.sourceUrl,
      "BEGIN; DELETE FROM pairs; INSERT INTO pairs VALUES (1, 'b'); DELETE FROM pairs; INSERT INTO pairs VALUES (1, 'b'), (1, 'b'); UPDATE pairs SET v = 'c' WHERE ctid = (SELECT min(ctid) FROM pairs); COMMIT;",
    );
    await waitForCatchUp(pair, replicator);
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl, { softDeleted: true })).toEqual([]);
    const rows = await query<{ v: string; deleted: boolean }>(
      pair.destinationUrl,
      'SELECT v, _deleted AS deleted FROM staging.pairs ORDER BY _deleted, v',
    );
    expect(rows).toEqual([
      { v: 'b', deleted: false },
      { v: 'c', deleted: false },
      { v: 'a', deleted: true },
      { v: 'b', deleted: true },
      { v: 'b', deleted: true },
    ]);
  });
});
