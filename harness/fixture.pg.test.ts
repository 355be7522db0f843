/** The replication fixture: what it starts is running while it is held, and gone once it is disposed of. */
import { expect, it } from 'vitest';
import { replicationFixture } from './fixture.js';
import { query, type ReplicatorProcess } from './replication.js';

it('replicates across a restart, then stops every elt it started and destroys both clusters when disposed of', async () => {
  const started: ReplicatorProcess[] = [];
  const urls: string[] = [];
  {
    await using pair = await replicationFixture({
      sourceSql: 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)',
    });
    started.push(await pair.start());
    await query(pair.sourceUrl, 'INSERT INTO t VALUES (2)');
    await pair.catchUp();
    started.push(await pair.restart());
    expect(started[0]!.child.exitCode ?? started[0]!.child.signalCode).not.toBeNull();
    await query(pair.sourceUrl, 'INSERT INTO t VALUES (3)');
    await pair.catchUp();
    await pair.expectEqual();
    expect(await query(pair.destinationUrl, 'SELECT id FROM staging.t ORDER BY id')).toEqual([
      { id: 1 },
      { id: 2 },
      { id: 3 },
    ]);
    expect(started[1]!.child.exitCode).toBeNull();
    urls.push(pair.sourceUrl, pair.destinationUrl);
  }
  expect(started[1]!.child.exitCode ?? started[1]!.child.signalCode).not.toBeNull();
  for (const url of urls) await expect(query(url, 'SELECT 1')).rejects.toThrow();
});
