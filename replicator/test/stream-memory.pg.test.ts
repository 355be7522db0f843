/**
 * A long stream holds nothing per change it has handed on: the heap after 300k handled changes
 * is the heap after the first few. The slot stream once raced every handler against one promise
 * that lived as long as the stream, which kept a reaction per change until the stream ended:
 * a 500k-row UPDATE ran the replicator out of its 160 MB heap, and a replicator streaming for
 * weeks would have too.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { PgCluster } from '../../harness/pg-cluster.js';
import { query, waitFor } from '../../harness/replication.js';
import { SlotStream } from '../src/source/stream.js';
import { startSlotCluster } from './slot-cluster.js';

const SLOT = 'stream_memory_test';
const CHANGES = 300_000;
let cluster: PgCluster;
let url: string;
let startLsn: bigint;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after full collections (twice: the first may leave weak references for the second). */
function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

beforeAll(async () => {
  ({ cluster, url, startLsn } = await startSlotCluster('stream-memory', SLOT));
});
afterAll(async () => {
  await cluster?.destroy();
});

test(`the heap does not grow with the changes handled (${CHANGES} inserts)`, async () => {
  const stream = new SlotStream(pino({ level: 'silent' }), { url, slot: SLOT, publication: 'p', startLsn });
  let inserts = 0;
  let commits = 0;
  // Asynchronous, as the apply session's handler is.
  const onMessage = async (message: { tag: string }) => {
    if (message.tag === 'insert') inserts++;
    if (message.tag === 'commit') commits++;
    await Promise.resolve();
  };
  const running = stream.run({ onMessage, onKeepalive: () => undefined });
  const handledCommits = async (n: number) =>
    waitFor(`commit ${n} handled`, () => Promise.resolve(commits >= n && !stream.hasQueued), 120_000, 20);

  await query(url, 'INSERT INTO t SELECT generate_series(1, 1000)');
  await handledCommits(1);
  const before = heapUsed();
  await query(url, `INSERT INTO t SELECT generate_series(1001, ${1000 + CHANGES})`);
  await handledCommits(2);
  const after = heapUsed();
  await stream.stop();
  await running;

  expect(inserts).toBe(1000 + CHANGES);
  console.info(`heap growth over ${CHANGES} handled changes: ${((after - before) / 1024 / 1024).toFixed(1)} MB`);
  // 300k kept reactions would be 30 MB or more; what is left of a stream's buffers is far less.
  expect(after - before).toBeLessThan(8 * 1024 * 1024);
}, 180_000);
