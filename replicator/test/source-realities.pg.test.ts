/**
 * What real sources and destinations do to a first start: a publication FOR ALL TABLES that
 * sends tables outside ELT_SOURCE_SCHEMAS, a forgotten prepared transaction that holds up
 * the slot, and a destination that refuses what elt must create: each gets a sentence or a
 * warning a person can act on, never wrong rows and never a loop.
 */
import { describe, expect, it } from 'vitest';
import { replicationFixture } from '../../harness/fixture.js';
import { query, waitFor, waitForStreaming } from '../../harness/replication.js';

describe('real sources', () => {
  it('ignores, with one warning, tables a FOR ALL TABLES publication sends from outside ELT_SOURCE_SCHEMAS', async () => {
    await using pair = await replicationFixture({
      sourceSql: `CREATE SCHEMA audit;
       CREATE TABLE public.orders (id int PRIMARY KEY, note text);
       CREATE TABLE audit.orders (id int PRIMARY KEY, note text);
       INSERT INTO public.orders VALUES (1, 'public'); INSERT INTO audit.orders VALUES (1, 'audit');
       CREATE PUBLICATION elt_pub FOR ALL TABLES WITH (publish_via_partition_root = true);`,
    });
    const replicator = await pair.start();
    await query(
      pair.sourceUrl,
      "INSERT INTO audit.orders VALUES (2, 'audit'); UPDATE audit.orders SET note = 'changed' WHERE id = 1; INSERT INTO audit.orders VALUES (3, 'audit')",
    );
    await query(pair.sourceUrl, "INSERT INTO public.orders VALUES (2, 'public')");
    await pair.catchUp();
    expect(await query(pair.destinationUrl, 'SELECT id, note FROM staging.orders ORDER BY id')).toEqual([
      { id: 1, note: 'public' },
      { id: 2, note: 'public' },
    ]);
    const warnings = replicator
      .output()
      .split('\n')
      .filter((line) => line.includes('outside ELT_SOURCE_SCHEMAS: its changes are ignored'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('audit.orders');
  });

  it('names a forgotten prepared transaction that holds up the slot, and streams once it is gone', async () => {
    await using pair = await replicationFixture({
      settings: { max_prepared_transactions: 5 },
      sourceSql: 'CREATE TABLE t (id int PRIMARY KEY)',
    });
    await query(pair.sourceUrl, "BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION 'forgotten_gid';");
    const replicator = pair.launch();
    await waitFor('the blocker to be named', async () => replicator.output().includes('forgotten_gid'), 60_000);
    expect(replicator.output()).toContain('prepared transaction');
    await query(pair.sourceUrl, "COMMIT PREPARED 'forgotten_gid'");
    await waitForStreaming(pair.destinationUrl, replicator);
    await pair.catchUp();
    expect(await query(pair.destinationUrl, 'SELECT id FROM staging.t')).toEqual([{ id: 1 }]);
  });
});

describe('a destination that refuses what elt must create', () => {
  it('ends elt replicate with the reason after a few attempts instead of retrying forever', async () => {
    await using pair = await replicationFixture();
    await query(
      pair.destinationUrl,
      "CREATE ROLE writer LOGIN PASSWORD 'writer'; REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE CREATE ON DATABASE analytics FROM PUBLIC;",
    );
    const url = new URL(pair.destinationUrl);
    url.username = 'writer';
    url.password = 'writer';
    const replicator = pair.launch({ ELT_DESTINATION_URL: url.toString() });
    const code = await replicator.exited;
    expect(code).toBe(1);
    expect(replicator.output()).toMatch(/permission denied for database analytics/);
    expect(replicator.output().match(/replication attempt failed; retrying/g)).toHaveLength(2);
  });
});
