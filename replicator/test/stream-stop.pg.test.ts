/**
 * Stopping the slot stream at any moment of its start-up ends it: a stop that lands while the
 * replication connection is still opening used to be forgotten by the library, which then
 * streamed for ever and kept the process (and the slot) alive after SIGTERM.
 */
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PgCluster } from '../../harness/pg-cluster.js';
import { query, waitFor } from '../../harness/replication.js';
import { SlotStream } from '../src/source/stream.js';
import { startSlotCluster } from './slot-cluster.js';

const SLOT = 'stream_stop_test';
const silent = pino({ level: 'silent' });
let cluster: PgCluster;
let url: string;
let startLsn: bigint;

beforeAll(async () => {
  ({ cluster, url, startLsn } = await startSlotCluster('stream-stop', SLOT));
});
afterAll(async () => {
  await cluster?.destroy();
});

async function slotActive(): Promise<boolean> {
  const [row] = await query<{ active: boolean }>(
    url,
    `SELECT active FROM pg_replication_slots WHERE slot_name = '${SLOT}'`,
  );
  return row!.active;
}

function stream(): SlotStream {
  return new SlotStream(silent, { url, slot: SLOT, publication: 'p', startLsn });
}

const handlers = { onMessage: () => undefined, onKeepalive: () => undefined };

describe('SlotStream.stop', () => {
  test('before run: run returns at once and never opens the slot', async () => {
    const s = stream();
    await s.stop();
    await s.run(handlers);
    expect(await slotActive()).toBe(false);
  });

  // From "still connecting" through "START_REPLICATION sent" to "streaming": each delay lands
  // the stop in another phase of the start-up on one machine or another.
  test.each([0, 1, 2, 3, 5, 8, 13, 20, 50, 200])('%i ms after run: run ends and the slot is released', async (ms) => {
    const s = stream();
    const running = s.run(handlers);
    await new Promise((resolve) => setTimeout(resolve, ms));
    await s.stop();
    await running;
    await waitFor('the walsender to release the slot', async () => !(await slotActive()), 10_000, 20);
  });

  test('while streaming: changes arrive, then stop ends run', async () => {
    const s = stream();
    const tags: string[] = [];
    let sawInsert: () => void = () => undefined;
    const inserted = new Promise<void>((resolve) => (sawInsert = resolve));
    const running = s.run({
      onMessage: (message) => {
        tags.push(message.tag);
        if (message.tag === 'insert') sawInsert();
      },
      onKeepalive: () => undefined,
    });
    const client = new pg.Client(url);
    await client.connect();
    await client.query('INSERT INTO t VALUES (1)');
    await client.end();
    await inserted;
    await s.stop();
    await running;
    expect(tags).toEqual(expect.arrayContaining(['begin', 'relation', 'insert']));
  });

  test('a handler that fails with no error ends run, which rejects; nothing after it is handled', async () => {
    const s = stream();
    let inserts = 0;
    const running = s.run({
      onMessage: (message) => {
        if (message.tag !== 'insert') return;
        inserts++;
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- what a library might reject with
        throw undefined;
      },
      onKeepalive: () => undefined,
    });
    // Observed at once: run() rejects while the INSERTs are still being committed.
    const ended = running.then(
      () => null,
      (error: unknown) => error,
    );
    await query(url, 'INSERT INTO t VALUES (10); INSERT INTO t VALUES (11); INSERT INTO t VALUES (12)');
    expect(await ended).toEqual(new Error('the replication stream failed without saying why'));
    expect(inserts).toBe(1);
  });
});
