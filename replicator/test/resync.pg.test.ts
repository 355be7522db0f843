/**
 * Online resync through the API: tables are copied again while writes to those very
 * tables go on and the stream keeps applying; afterwards the replica equals the source.
 * A damaged replica table is repaired this way, and a job survives a replicator crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/pg-cluster.js';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query, StopWaiting, waitFor } from '../../harness/replication.js';

const TOKEN = 'resync-test-token-0123456789';

describe('online resync', () => {
  const pair = replicationSuite({ start: false });
  let apiUrl: string;
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
    const replicator = pair.launch();
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    pair.spawn(['api'], { ELT_API_PORT: String(port), ELT_API_TOKEN: TOKEN });
    await waitFor(
      'streaming and the API ready',
      async () => {
        if (replicator.child.exitCode !== null) throw new StopWaiting(replicator.output());
        const ready = await fetch(`${apiUrl}/ready`).catch(() => null);
        return ready?.status === 200;
      },
      60_000,
    );
  });

  afterAll(() => {
    writing = false;
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
    const replayed = [...pair.replicator.output().matchAll(/"replayedChanges":(\d+)/g)].map((m) => Number(m[1]));
    expect(Math.max(...replayed)).toBeGreaterThan(0);
    // Done in one go: no replication attempt had to start over.
    expect(pair.replicator.output()).not.toMatch(/replication attempt failed/);

    await pair.catchUp();
    await pair.expectEqual();
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
    await pair.stop('SIGKILL');
    pair.launch();
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
    await pair.catchUp();
    await pair.expectEqual();
    expect(pair.replicator.output()).toMatch(/resync jobs interrupted by a restart start over/);
  });
});
