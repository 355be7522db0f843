/**
 * Replica identity: tables keyed by their primary key, by REPLICA IDENTITY USING INDEX, or
 * by the full row (duplicates included) replicate updates and deletes; a table with no
 * usable identity is never allowed to break the source application.
 */
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { query, waitForStreaming } from '../../harness/replication.js';

const SCHEMA = `
CREATE TABLE by_key (id int PRIMARY KEY, v text);
CREATE TABLE by_index (code text NOT NULL, v text);
CREATE UNIQUE INDEX by_index_code ON by_index (code);
ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_code;
CREATE TABLE by_row (v text, n int);
ALTER TABLE by_row REPLICA IDENTITY FULL;
CREATE TABLE no_identity (v text);
INSERT INTO by_key SELECT i, 'k' || i FROM generate_series(1, 100) i;
INSERT INTO by_index SELECT 'c' || i, 'v' || i FROM generate_series(1, 100) i;
INSERT INTO by_row SELECT 'same', 1 FROM generate_series(1, 3);
INSERT INTO by_row VALUES ('other', 2);
INSERT INTO no_identity VALUES ('a'), ('b');
`;

describe('replica identity', () => {
  const pair = replicationSuite({ sourceSql: SCHEMA });

  it('leaves a table without identity out, so the source keeps accepting UPDATE and DELETE on it', async () => {
    await query(
      pair.sourceUrl,
      "UPDATE no_identity SET v = 'changed' WHERE v = 'a'; DELETE FROM no_identity WHERE v = 'b'",
    );
    const [table] = await query<{ state: string; last_error: string }>(
      pair.destinationUrl,
      "SELECT state, last_error FROM elt.tables WHERE source_table = 'no_identity'",
    );
    expect(table?.state).toBe('excluded');
    expect(table?.last_error).toMatch(/no primary key or replica identity\. Set REPLICA IDENTITY FULL/);
    expect(pair.replicator.output()).toMatch(/table left out of the publication/);
  });

  it('applies updates and deletes by primary key, by identity index and by full row with duplicates', async () => {
    await query(
      pair.sourceUrl,
      `UPDATE by_key SET v = 'changed' WHERE id <= 10; DELETE FROM by_key WHERE id > 90;
       UPDATE by_index SET v = 'changed', code = 'renamed-' || code WHERE code IN ('c1', 'c2'); DELETE FROM by_index WHERE code = 'c3';
       DELETE FROM by_row WHERE ctid = (SELECT min(ctid) FROM by_row WHERE v = 'same');
       UPDATE by_row SET n = 5 WHERE v = 'other';`,
    );
    await pair.catchUp();
    await pair.expectEqual({ except: ['no_identity'] });
    const [missing] = await query<{ exists: boolean }>(
      pair.destinationUrl,
      "SELECT to_regclass('staging.no_identity') IS NOT NULL AS exists",
    );
    expect(missing?.exists).toBe(false);
    const [dups] = await query<{ n: string }>(
      pair.destinationUrl,
      "SELECT count(*) AS n FROM staging.by_row WHERE v = 'same'",
    );
    expect(dups!.n).toBe('2');
  });

  it('sets REPLICA IDENTITY FULL where configured and replicates the table', async () => {
    const fixing = pair.spawn(['replicate'], {
      ELT_SLOT: 'fixing_slot',
      ELT_PUBLICATION: 'fixing_pub',
      ELT_TARGET_SCHEMA: 'fixed',
      ELT_REPLICA_IDENTITY_FULL: 'true',
    });
    await waitForStreaming(pair.destinationUrl, fixing, 'fixing_slot');
    const [identity] = await query<{ relreplident: string }>(
      pair.sourceUrl,
      "SELECT relreplident FROM pg_class WHERE relname = 'no_identity'",
    );
    expect(identity?.relreplident).toBe('f');
    await query(pair.sourceUrl, "UPDATE no_identity SET v = 'again'; INSERT INTO no_identity VALUES ('new')");
    await pair.catchUp({ slot: 'fixing_slot' });
    await pair.expectEqual({ targetSchema: 'fixed' });
  });
});
