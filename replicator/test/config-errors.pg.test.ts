/**
 * Each way a user can misconfigure `elt replicate` ends in one clear sentence that says
 * what to do, and a non-zero exit — never a stack trace alone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { startCluster, freePort, type PgCluster } from '../../harness/pg-cluster.js';
import { query, runElt, waitFor } from '../../harness/replication.js';

function withUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  return u.toString();
}

describe('elt replicate refuses bad configuration clearly', () => {
  const pair = replicationSuite({
    start: false,
    sourceSql: `CREATE TABLE public.secret (id int PRIMARY KEY);
       CREATE TABLE public.open (id serial PRIMARY KEY);
       CREATE ROLE plain LOGIN;
       CREATE ROLE replicator LOGIN REPLICATION;
       GRANT SELECT ON public.open TO replicator;
       CREATE PUBLICATION elt_pub FOR TABLES IN SCHEMA public WITH (publish_via_partition_root = true);`,
  });
  let replicaLevel: PgCluster;

  beforeAll(async () => {
    replicaLevel = await startCluster({ name: 'cfg-replica-level', settings: { wal_level: 'replica' } });
    pair.defer(() => replicaLevel.destroy());
  });

  const env = (sourceUrl: string, extra: Record<string, string> = {}) =>
    pair.env({ ELT_SOURCE_URL: sourceUrl, ...extra });

  it.each([
    ['a missing setting', {}, 2, /ELT_SOURCE_URL \(--source-url\) is required/],
    [
      'a malformed URL',
      { ELT_SOURCE_URL: 'localhost:5432', ELT_DESTINATION_URL: 'postgres://x@127.0.0.1/db' },
      2,
      /ELT_SOURCE_URL \(--source-url\) must be a PostgreSQL URL/,
    ],
    [
      'a bad slot name',
      {
        ELT_SOURCE_URL: 'postgres://x@127.0.0.1/db',
        ELT_DESTINATION_URL: 'postgres://x@127.0.0.1/db',
        ELT_SLOT: 'My-Slot',
      },
      2,
      /ELT_SLOT \(--slot\) must be 1-63 lower-case letters/,
    ],
    [
      'a hash mask without its key',
      {
        ELT_SOURCE_URL: 'postgres://x@127.0.0.1/db',
        ELT_DESTINATION_URL: 'postgres://x@127.0.0.1/db',
        ELT_MASK_COLUMNS: 'public.users.email:hash',
      },
      2,
      /ELT_MASK_KEY \(--mask-key\) is required by the hash masks of ELT_MASK_COLUMNS/,
    ],
  ])('%s', async (_name, environment, code, sentence) => {
    const result = await runElt(['replicate'], { ELT_SOURCE_URL: '', ELT_DESTINATION_URL: '', ...environment });
    expect(result.code).toBe(code);
    expect(result.output).toMatch(sentence);
    expect(result.output).not.toMatch(/\n\s+at /);
  });

  it('an unreachable source', async () => {
    const port = await freePort();
    const result = await runElt(['replicate'], env(`postgres://postgres@127.0.0.1:${port}/postgres`));
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      new RegExp(
        `Cannot reach the source database at 127.0.0.1:${port}/postgres: .*\\n\\s+Check that the server is running and that ELT_SOURCE_URL names the right host and port\\.`,
      ),
    );
  });

  it('a source without wal_level=logical', async () => {
    const result = await runElt(['replicate'], env(replicaLevel.url()));
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      /The source server runs with wal_level=replica; logical replication needs wal_level=logical\.\n\s+Run ALTER SYSTEM SET wal_level = logical/,
    );
  });

  it('a role without the REPLICATION attribute', async () => {
    const result = await runElt(['replicate'], env(withUser(pair.sourceUrl, 'plain')));
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      /The source role plain lacks the REPLICATION attribute\.\n\s+Run ALTER ROLE plain REPLICATION/,
    );
  });

  it('a role that may not read a published table or its sequence', async () => {
    const result = await runElt(['replicate'], env(withUser(pair.sourceUrl, 'replicator')));
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      /The source role replicator cannot SELECT from public.open_id_seq, public.secret\.\n\s+Run GRANT SELECT ON public.open_id_seq, public.secret TO replicator/,
    );
  });

  it('a publication the role may not create', async () => {
    const result = await runElt(
      ['replicate'],
      env(withUser(pair.sourceUrl, 'replicator'), { ELT_PUBLICATION: 'other_pub' }),
    );
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      /The source role may not create the publication other_pub\.\n\s+Ask a superuser to run on the source: CREATE PUBLICATION "other_pub" FOR TABLES IN SCHEMA "public"/,
    );
  });

  it('a slot that another client is streaming from', async () => {
    await query(pair.sourceUrl, "SELECT pg_create_logical_replication_slot('busy_slot', 'pgoutput')");
    // pg_recvlogical holds busy_slot open, as another consumer would.
    const { spawn } = await import('node:child_process');
    const recv = spawn('pg_recvlogical', [
      '-d',
      pair.sourceUrl,
      '--slot',
      'busy_slot',
      '--start',
      '-o',
      'proto_version=1',
      '-o',
      'publication_names=elt_pub',
      '-f',
      '/dev/null',
    ]);
    try {
      await waitFor(
        'the slot to be active',
        async () =>
          (
            await query<{ active: boolean }>(
              pair.sourceUrl,
              "SELECT active FROM pg_replication_slots WHERE slot_name = 'busy_slot'",
            )
          )[0]?.active,
      );
      const result = await runElt(
        ['replicate'],
        env(pair.sourceUrl, { ELT_SLOT: 'busy_slot', ELT_TARGET_SCHEMA: 'busy' }),
      );
      expect(result.code).toBe(3);
      expect(result.output).toMatch(
        /The replication slot busy_slot is in use by another connection \(source backend pid \d+\)\.\n\s+Another replicator is streaming from this slot/,
      );
    } finally {
      recv.kill();
    }
  });
});
