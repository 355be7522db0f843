/**
 * A quiet source: a change shows in the replica as soon as it is applied, not when the batch
 * timer comes. The destination transaction commits at a source commit when nothing more has
 * arrived from the slot; ELT_BATCH_MAX_MS only bounds how long a batch grows under load.
 */
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query, waitFor } from '../../harness/replication.js';

describe('a quiet source', () => {
  const pair = replicationSuite({
    start: false,
    sourceSql: `CREATE TABLE t (id int PRIMARY KEY, v text)`,
  });

  it('sees each change in the replica long before a one-minute batch timer', async () => {
    await pair.start({ ELT_BATCH_MAX_MS: '60000' });
    await pair.catchUp();
    for (let id = 1; id <= 3; id++) {
      await query(pair.sourceUrl, `INSERT INTO t VALUES (${id}, 'row ${id}')`);
      // Half a minute at most: the batch timer would take one or more.
      await waitFor(
        `row ${id} in the replica`,
        async () => (await query(pair.destinationUrl, `SELECT 1 FROM staging.t WHERE id = ${id}`)).length === 1,
        30_000,
      );
    }
    await query(pair.sourceUrl, `UPDATE t SET v = 'changed' WHERE id = 2; DELETE FROM t WHERE id = 3`);
    await waitFor(
      'the update and the delete in the replica',
      async () => (await compareReplica(pair.sourceUrl, pair.destinationUrl)).length === 0,
      30_000,
    );
    expect(await compareReplica(pair.sourceUrl, pair.destinationUrl)).toEqual([]);
  });
});
