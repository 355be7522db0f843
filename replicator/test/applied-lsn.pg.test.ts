/**
 * The applied LSN in elt.replication_state is what "caught up" means to every reader (the
 * tests, elt verify, the API): it only moves forward, whichever of the apply transaction and
 * the caught-up record writes it.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startCluster, type PgCluster } from '../../harness/pg-cluster.js';
import { parseLsn } from '../src/lsn.js';
import {
  beginSnapshotState,
  finishSnapshotState,
  readReplicationState,
  recordApplied,
  recordCaughtUp,
} from '../src/state/control.js';
import { migrateControlSchema } from '../src/state/migrate.js';

const SLOT = 'elt_slot';
let cluster: PgCluster;
let db: pg.Client;

beforeAll(async () => {
  cluster = await startCluster({ name: 'control' });
  db = new pg.Client(cluster.url());
  await db.connect();
  await migrateControlSchema(db);
  await beginSnapshotState(db, SLOT, parseLsn('0/100'));
  await finishSnapshotState(db, SLOT, parseLsn('0/100'));
});
afterAll(async () => {
  await db?.end();
  await cluster?.destroy();
});

async function applied(): Promise<string> {
  const state = await readReplicationState(db, SLOT);
  return state!.appliedLsn!.toString(16);
}

test('a commit that records an older source commit than the caught-up position leaves the position', async () => {
  await recordApplied(db, SLOT, { lsn: parseLsn('0/200'), commitTime: Date.now() });
  expect(await applied()).toBe('200');
  // A keepalive past the last commit, recorded outside the apply transaction.
  await recordCaughtUp(db, SLOT, parseLsn('0/300'));
  expect(await applied()).toBe('300');
  // Then a transaction with no new source commit (a resync's swap) records the last one, 0/200, again.
  await db.query('BEGIN');
  await recordApplied(db, SLOT, { lsn: parseLsn('0/200'), commitTime: null });
  await db.query('COMMIT');
  expect(await applied()).toBe('300');
  await recordApplied(db, SLOT, { lsn: parseLsn('0/400'), commitTime: Date.now() });
  expect(await applied()).toBe('400');
  await recordCaughtUp(db, SLOT, parseLsn('0/350'));
  expect(await applied()).toBe('400');
});
