/**
 * Online resync through the API: tables are copied again while writes to those very
 * tables go on and the stream keeps applying; afterwards the replica equals the source.
 * A damaged replica table is repaired this way, and a job survives a replicator crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/pg-cluster.js';
import {
  compareReplica,
  expectReplicaEqual,
  query,
  startElt,
  startPair,
  waitFor,
  waitForCatchUp,
  type ClusterPair,
  type ReplicatorProcess,
} from '../../harness/replication.js';

const TOKEN = 'resync-test-token-0123456789';

describe('online resync', () => {
  let pair: ClusterPair;
  let replicator: ReplicatorProcess;
  let api: ReplicatorProcess;
  let apiUrl: string;
  let env: Record<string, string>;
  let writing = false;
  let writes = 0;

  const request = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  /** Keeps changing the tables being resynced until stopped. */
  const writer = async () => {
    let i = 0;
    while (writing) {
      i++;
      await query(
        pair.sourceUrl,
        `BEGIN;
         UPDATE orders SET total = total + 1, status = 'paid' WHERE id = ${1 + ((i * 7919) % 200000)};
         INSERT INTO orders (id, total, status, note) VALUES (${1_000_000 + i}, ${i}, 'new', repeat('n', ${i % 50}));
         DELETE FROM orders WHERE id = ${1 + ((i * 104729) % 200000)};
         INSERT INTO notes VALUES (${i}, 'note ' || ${i});
         DELETE FROM notes WHERE id = ${i - 5};
         COMMIT;`,
      );
      writes++;
    }
  };

  beforeAll(async () => {
    pair = await startPair();
    await query(
      pair.sourceUrl,
      `CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(12,2), status text, note text);
       INSERT INTO orders SELECT i, i * 1.5, 'pending', 'order ' || i FROM generate_series(1, 200000) i;
       CREATE TABLE notes (id int, body text);
       ALTER TABLE notes REPLICA IDENTITY FULL;
       INSERT INTO notes SELECT -i, 'old' FROM generate_series(1, 1000) i;
       CREATE TABLE untouched (id int PRIMARY KEY);
       INSERT INTO untouched SELECT generate_series(1, 10);`,
    );
    env = { ELT_SOURCE_URL: pair.sourceUrl, ELT_DESTINATION_URL: pair.destinationUrl };
    replicator = startElt(['replicate'], env);
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    api = startElt(['api'], {
      ELT_DESTINATION_URL: pair.destinationUrl,
      ELT_API_PORT: String(port),
      ELT_API_TOKEN: TOKEN,
    });
    await waitFor(
      'streaming and the API ready',
      async () => {
        if (replicator.child.exitCode !== null) throw new Error(replicator.output());
        const ready = await fetch(`${apiUrl}/ready`).catch(() => null);
        return ready?.status === 200;
      },
      60_000,
    );
  });

  afterAll(async () => {
    writing = false;
    await replicator?.kill();
    await api?.kill();
    await pair?.[Symbol.asyncDispose]();
  });

  it('repairs damaged tables while writes to them go on, losing and doubling nothing', async () => {
    // Damage the replica, as a careless manual edit would.
    await query(
      pair.destinationUrl,
      "DELETE FROM staging.orders WHERE id % 10 = 0; UPDATE staging.orders SET status = 'wrong' WHERE id % 7 = 0; DELETE FROM staging.notes",
    );
    expect((await compareReplica(pair.sourceUrl, pair.destinationUrl)).map((d) => d.table)).toEqual([
      'notes',
      'orders',
    ]);

    writing = true;
    const writes0 = writes;
    const running = writer();
    const queued = await request('POST', '/v1/resync', { tables: ['public.orders', 'public.notes'] });
    expect(queued.status).toBe(202);
    const id = queued.body.id as number;
    const job = await waitFor(
      `resync job ${id}`,
      async () => {
        const { body } = await request('GET', `/v1/resync/${id}`);
        if (body.state === 'failed') throw new Error(JSON.stringify(body));
        return body.state === 'succeeded' ? body : null;
      },
      120_000,
    );
    writing = false;
    await running;
    expect(writes - writes0).toBeGreaterThan(5);
    expect(JSON.stringify(job)).toMatch(/"rows_copied":\d{5,}/);
    // Changes made during the copy were replayed onto the new copy, not just re-read.
    const replayed = [...replicator.output().matchAll(/"replayedChanges":(\d+)/g)].map((m) => Number(m[1]));
    expect(Math.max(...replayed)).toBeGreaterThan(0);
    // Done in one go: no replication attempt had to start over.
    expect(replicator.output()).not.toMatch(/replication attempt failed/);

    await waitForCatchUp(pair, replicator);
    await expectReplicaEqual(pair, replicator);
    const tables = await request('GET', '/v1/tables/public.orders');
    expect(tables.body.state).toBe('streaming');
  });

  it('finishes a job that a crash of the replicator interrupted', async () => {
    await query(pair.destinationUrl, "UPDATE staging.orders SET status = 'wrong' WHERE id % 3 = 0");
    const queued = await request('POST', '/v1/resync', { tables: ['public.orders'] });
    expect(queued.status).toBe(202);
    const id = queued.body.id as number;
    await waitFor(
      'the job to run',
      async () => (await request('GET', `/v1/resync/${id}`)).body.state === 'running',
      30_000,
      20,
    );
    await replicator.kill('SIGKILL');
    replicator = startElt(['replicate'], env);
    await waitFor(
      `resync job ${id} after the restart`,
      async () => {
        const { body } = await request('GET', `/v1/resync/${id}`);
        if (body.state === 'failed') throw new Error(JSON.stringify(body));
        return body.state === 'succeeded';
      },
      120_000,
    );
    await query(pair.sourceUrl, 'INSERT INTO untouched VALUES (11)');
    await waitForCatchUp(pair, replicator);
    await expectReplicaEqual(pair, replicator);
    expect(replicator.output()).toMatch(/resync jobs interrupted by a restart start over/);
  });
});
