/**
 * The applier after a COMMIT the destination refused (a deferred trigger on the replica). The
 * server ended the transaction; a later commit, queued before the failure was known, would run
 * its statements outside any transaction and record the source transaction as applied without
 * its rows. The applier refuses everything but rollback after it.
 */
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startCluster, type PgCluster } from '../../harness/pg-cluster.js';
import { Applier } from '../src/apply/applier.js';
import { parseLsn } from '../src/lsn.js';
import type { TargetTable } from '../src/schema/mapping.js';
import { beginSnapshotState, finishSnapshotState, readReplicationState } from '../src/state/control.js';
import { migrateControlSchema } from '../src/state/migrate.js';

const SLOT = 'elt_slot';
let cluster: PgCluster;
let db: pg.Client;

const table: TargetTable = {
  relationId: 1,
  sourceSchema: 'public',
  sourceTable: 't',
  targetSchema: 'staging',
  targetTable: 't',
  columns: [
    { name: 'id', type: 'integer' },
    { name: 'v', type: 'text' },
  ],
  keyIndexes: [0],
  replicaIdentity: 'd',
  signature: 'test',
  stageTable: 'elt_stage_t',
};

beforeAll(async () => {
  cluster = await startCluster({ name: 'applier' });
  db = new pg.Client(cluster.url());
  await db.connect();
  await migrateControlSchema(db);
  await beginSnapshotState(db, SLOT, parseLsn('0/100'));
  await finishSnapshotState(db, SLOT, parseLsn('0/100'));
  await db.query(`
    CREATE SCHEMA staging;
    CREATE TABLE staging.t (id int PRIMARY KEY, v text, _lsn pg_lsn, _synced_at timestamptz, _deleted boolean);
    CREATE FUNCTION public.refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.v = 'bad' THEN RAISE EXCEPTION 'bad row refused at commit'; END IF;
        RETURN NULL;
      END $$;
    CREATE CONSTRAINT TRIGGER refuse_bad AFTER INSERT OR UPDATE ON staging.t
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.refuse_bad()`);
});
afterAll(async () => {
  await db?.end();
  await cluster?.destroy();
});

test('a refused COMMIT leaves nothing recorded, and the applier refuses to go on but to roll back', async () => {
  const applier = new Applier(
    pino({ level: 'silent' }),
    db,
    { slot: SLOT, deleteMode: 'hard', chunkMaxRows: 100 },
    { lsn: parseLsn('0/100'), commitTime: null },
  );
  await applier.add(table, { op: 'insert', new: [Buffer.from('1'), Buffer.from('bad')], lsn: parseLsn('0/200') });
  applier.markSourceCommit({ lsn: parseLsn('0/210'), commitTime: Date.now() });
  await expect(applier.commit()).rejects.toThrow('bad row refused at commit');

  // What a commit queued behind the failed one would do: it must not record 0/210 outside a transaction.
  await expect(applier.commit()).rejects.toThrow('bad row refused at commit');
  await expect(
    applier.add(table, { op: 'insert', new: [Buffer.from('2'), Buffer.from('good')], lsn: parseLsn('0/300') }),
  ).rejects.toThrow('bad row refused at commit');
  await applier.rollback();

  const state = await readReplicationState(db, SLOT);
  expect(state!.appliedLsn!.toString(16)).toBe('100');
  expect((await db.query('SELECT id FROM staging.t')).rows).toEqual([]);
});
