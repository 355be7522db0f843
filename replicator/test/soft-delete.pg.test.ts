/**
 * Soft-delete mode (ELT_DELETE_MODE=soft): a deleted row stays in the replica marked
 * `_deleted`, and what is live equals the source. A row deleted and then inserted again
 * with the same values is a new live row: later changes go to it, never to the deleted one.
 */
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query } from '../../harness/replication.js';

describe('soft-delete mode', () => {
  const pair = replicationSuite({
    sourceSql: 'CREATE TABLE pairs (n int, v text); ALTER TABLE pairs REPLICA IDENTITY FULL;',
    env: { ELT_DELETE_MODE: 'soft' },
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
    await pair.catchUp();
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
