/**
 * Online resync of one table while the stream keeps applying every table.
 *
 * Method: a fresh exported snapshot plus buffering of that table's stream (rather than
 * DBLog-style watermark chunks). It is the same mechanism as the initial snapshot, needs no
 * writes to the source (the replication role stays read-only) and copies with one COPY.
 *
 * 1. The apply loop starts recording every change of the table in elt.resync_delta, in
 *    its own transactions (so nothing can slip between "before" and "after").
 * 2. A temporary slot is created with an exported snapshot at LSN L: the copy.
 * 3. COPY the table at that snapshot from the source into a shadow table (pg-copy-streams).
 * 4. Once the stream has applied every source transaction committed before L (not
 *    earlier: the copy holds those, and the stream would apply them again), between two
 *    source transactions, inside the apply transaction: replay the recorded
 *    changes whose commit LSN is at or after L onto the shadow (older ones are in the
 *    snapshot), replace the table's rows with the shadow's (./swap-sql.ts: views on the
 *    table survive, readers see the old rows until the commit, soft-deleted rows stay),
 *    stop recording.
 *
 * A repair (the job names keys, ./key-set.ts) copies only those keys' rows at L and, at the
 * swap, replaces only the replica's rows of those keys; the rest of the table streams as it
 * did. A crash before the swap's commit leaves the table as it was, and the job, requeued at the
 * next start, copies again (./resync-runner.ts).
 */
import { targetSchemas } from '../schema/target-schemas.js';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { formatLsn, lastRecordEnd, parseLsn, type Lsn } from '../lsn.js';
import type { ReplicaIdentity } from '../source/pgoutput.js';
import { createSlotWithSnapshot } from '../source/slot.js';
import { connectDestination, sourceClientConfig } from '../source/source-db.js';
import { identityKeyIndexes, type TargetTable } from '../schema/mapping.js';
import { ident, literal, qualified } from '../sql.js';
import { TableFailure } from '../failures.js';
import { columnPolicyFrom, type ColumnPolicy, type TablePolicy } from '../source/column-policy.js';
import type { MaskMethod } from '../source/mask.js';
import { maskingStage } from '../snapshot/mask-copy.js';
import { CopyRowCounter } from '../snapshot/copy-rows.js';
import { recordColumnPolicy } from '../state/column-policies.js';
import { decodeDelta, type ApplyHooks, type DeltaChange } from '../apply/apply-hooks.js';
import { progressTick } from './copy-progress.js';
import { keySwapSql, swapSql } from './swap-sql.js';
import { followKeyMove, keyIn, keysInTableOrder, keysParam } from './key-set.js';
import { ensureReplicaTable } from '../schema/ensure-replica-table.js';
import { noColumnsFailure } from '../schema/no-columns.js';
import { readIdentitiesAtSnapshot } from '../schema/snapshot-identity.js';
import { recordCopiedColumns } from '../state/replica-columns.js';
import type { RowChange } from '../apply/batch.js';
import type { Applier } from '../apply/applier.js';
import { deleteDelta, readDelta } from '../state/resync-delta.js';
import { clearVerifyResult } from '../state/verify-results.js';
import { updateJobTable, type RepairKeys } from '../state/resync-jobs.js';
import { recordSnapshotProgress } from '../state/control.js';

const PROGRESS_INTERVAL_MS = 2_000;
const REPLAY_PAGE_ROWS = 5_000;

export interface TableResyncInput {
  lc: Logger;
  config: Config;
  metrics: Metrics;
  hooks: ApplyHooks;
  /** A plain source connection (catalog reads). */
  source: pg.Client;
  jobId: number;
  schema: string;
  table: string;
  /** Copy only these keys again (a repair); null: the whole table. */
  keys?: RepairKeys | null | undefined;
  /** Called with rows copied so far, every couple of seconds and at the end. */
  onProgress(rowsCopied: number): Promise<void>;
  /** Called with the rows and bytes (COPY text) copied so far, as they pass. */
  onCount?(rowsCopied: number, bytesCopied: number): void;
  /** Polled during the copy; true stops it. */
  cancelled(): Promise<boolean>;
}

export class ResyncCancelled extends Error {
  override readonly name = 'ResyncCancelled';
}

/** Copy the table again and swap it in; returns the number of rows copied. */
export async function resyncTable(input: TableResyncInput): Promise<number> {
  const { lc, config, hooks, jobId, schema, table } = input;
  const shadowName = `_elt_resync_${jobId}`;
  const targets = targetSchemas(config);
  const targetSchema = targets.of(schema);
  const target = qualified(targetSchema, table);
  const shadow = qualified(targetSchema, shadowName);
  const dest = await connectDestination(config.destinationUrl, 'elt-resync');
  hooks.mirror(schema, table, jobId);
  const policy = columnPolicyFrom(config);
  let swapped = false;
  try {
    await ensureReplicaTable(
      lc,
      input.source,
      dest,
      { sourceSchemas: config.sourceSchemas, targets, columns: policy },
      schema,
      table,
    );
    const readShape = () => tableShape(input.source, dest, targetSchema, schema, table, policy);
    const shape = await readShape().catch(async (error: unknown) => {
      if (!(error instanceof ShapeAheadError)) throw error;
      await streamCaughtUp(input.source, hooks);
      return readShape();
    });
    // Keys in the order of the identity the stream applies by; a table whose identity is not the
    // repair's key (none, or another index) is copied whole.
    const keys = input.keys ? keysInTableOrder(shape, input.keys) : null;
    await using snapshot = await createSlotWithSnapshot(lc, config.sourceUrl, `elt_resync_${jobId}`, input.source, {
      temporary: true,
    });
    const fromLsn = snapshot.consistentPoint;
    lc.info(
      { table: `${schema}.${table}`, lsn: formatLsn(fromLsn), job: jobId, keys: keys?.size },
      keys
        ? 'resync: copying the rows of the keys to repair at a fresh snapshot'
        : 'resync: copying the table at a fresh snapshot',
    );
    await dest.query(`DROP TABLE IF EXISTS ${shadow}`);
    await dest.query(`CREATE TABLE ${shadow} (LIKE ${target} INCLUDING ALL)`);
    await dest.query(
      `ALTER TABLE ${shadow} ALTER COLUMN _lsn SET DEFAULT ${literal(formatLsn(fromLsn))}, ALTER COLUMN _synced_at SET DEFAULT now()`,
    );
    const rows = await copyAtSnapshot(
      input,
      dest,
      snapshot.snapshotName,
      shape.kind,
      shadow,
      shape.columns.map((c) => c.name),
      { methods: shape.masks, policy },
      keys && `WHERE ${keyIn(shape, 'r', literal(keysParam(keys)), shape.sourceTypes)}`,
    );
    // Which source table (OID) and columns (attnums) the copy holds, as its snapshot saw them.
    const copied = await readIdentitiesAtSnapshot(config.sourceUrl, snapshot.snapshotName, [
      { schema, table, columns: shape.columns.map((c) => c.name) },
    ]);
    await snapshot.release();
    await dest.query(`ALTER TABLE ${shadow} ALTER COLUMN _lsn DROP DEFAULT`);
    await dest.query(`ANALYZE ${shadow}`);

    const shadowTable: TargetTable = {
      ...shape,
      targetTable: shadowName,
      stageTable: `elt_stage_resync_${shape.relationId}`,
      signature: `resync:${jobId}:${shape.relationId}:${shape.columns.map((c) => `${c.name}/${c.type}`).join(',')}`,
    };
    let replayed = 0;
    lc.info(
      { table: `${schema}.${table}`, lsn: formatLsn(fromLsn), job: jobId },
      'resync: copied; swapping in once the stream has reached the snapshot point',
    );
    await hooks.atBoundary(async (applier) => {
      const spoiled = hooks.takeSpoiled(jobId);
      if (spoiled) throw new Error(spoiled);
      replayed = await replayDelta(applier, shadowTable, jobId, fromLsn, (change) => {
        if (keys) followKeyMove(shape, keys, change);
      });
      if (keys) {
        const param = keysParam(keys);
        for (const statement of keySwapSql(shape, shadowName, config.deleteMode, '$1'))
          await applier.query(statement, [param]);
      } else for (const statement of swapSql(shape, shadowName, config.deleteMode)) await applier.query(statement);
      await applier.query(`DROP TABLE ${shadow}`);
      await deleteDelta(applier, jobId);
      // The last verification described rows that are replaced now: the next one tells again.
      await clearVerifyResult(applier, config.slot, schema, table);
      for (const identity of copied) await recordCopiedColumns(applier, config.slot, identity);
      // Not after a repair: the other rows are as they were.
      if (!keys) await recordColumnPolicy(applier, config.slot, schema, table, shape.columnPolicy);
      // The table streams and the job's table is done with the swap, in its transaction: a crash
      // right after it must not leave the table "resyncing" under a job that will not run it again.
      // A repair leaves the table's state alone: it replaced a few rows of a table that streamed.
      // Its rows are the copy's now: `rows_copied` says so (a table whose snapshot failed showed 0).
      if (!keys) await recordSnapshotProgress(applier, config.slot, schema, table, rows, true);
      await updateJobTable(
        applier,
        jobId,
        { schema, table },
        { state: 'succeeded', rowsCopied: rows, rowsEstimated: rows },
      );
      hooks.unmirror(schema, table);
      // A stopped table is whole again: its changes apply from here on. Not after a repair, which
      // copied only some of its rows.
      if (!keys) hooks.stopped.resume(schema, table);
      swapped = true;
    }, fromLsn);
    lc.info({ table: `${schema}.${table}`, rows, replayedChanges: replayed, job: jobId }, 'resync: table swapped in');
    return rows;
  } finally {
    hooks.unmirror(schema, table);
    // The resync's own error is the one to report; a shadow that cannot be dropped is logged (it stays behind).
    if (!swapped)
      await dest.query(`DROP TABLE IF EXISTS ${shadow}`).catch((error: unknown) => {
        lc.warn({ err: error, table: shadow, job: jobId }, 'resync: could not drop the shadow table; drop it by hand');
      });
    await dest.end().catch(() => undefined); // closing: nothing is lost if it fails
  }
}

/**
 * Wait until the stream has applied everything the source has committed so far. The
 * replica table's columns follow the stream, the copy's follow the source's catalog: when
 * the source has a column the replica lacks, it may be one the stream has not applied yet.
 */
async function streamCaughtUp(source: pg.Client, hooks: ApplyHooks): Promise<void> {
  const { rows } = await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  await hooks.atBoundary(async () => undefined, lastRecordEnd(parseLsn(rows[0]!.lsn)));
}

/**
 * The table as the filtered stream describes it (columns in attribute order without the excluded
 * ones, the identity key), with destination types, how each column is masked and the policy to
 * record. A key the column policy would break stops the table.
 */
async function tableShape(
  source: pg.Client,
  dest: pg.Client,
  targetSchema: string,
  schema: string,
  table: string,
  policy: ColumnPolicy,
): Promise<
  TargetTable & { kind: string; sourceTypes: string[]; masks: (MaskMethod | null)[]; columnPolicy: TablePolicy }
> {
  const { rows: all } = await source.query<{
    attnum: number;
    name: string;
    generated: boolean;
    is_key: boolean;
    identity: ReplicaIdentity;
    kind: string;
    oid: number;
    source_type: string;
  }>(
    `SELECT a.attnum, a.attname AS name, a.attgenerated <> '' AS generated, format_type(a.atttypid, a.atttypmod) AS source_type,
       coalesce(a.attnum = ANY(i.indkey), false) OR c.relreplident = 'f' AS is_key, c.relreplident AS identity, c.relkind AS kind, c.oid::int AS oid
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     LEFT JOIN pg_index i ON i.indrelid = c.oid AND CASE c.relreplident WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident ELSE false END
     WHERE n.nspname = $1 AND c.relname = $2 ORDER BY a.attnum`,
    [schema, table],
  );
  if (all.length === 0) {
    const exists = await source.query(
      'SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2',
      [schema, table],
    );
    if (exists.rows.length > 0) throw noColumnsFailure(schema, table);
    throw new Error(`the source has no table ${schema}.${table}`);
  }
  const refused = policy.refusal(
    schema,
    table,
    all.filter((r) => !r.generated).map((r) => ({ name: r.name, isKey: r.is_key })),
  );
  if (refused) throw new TableFailure(schema, table, refused.reason, refused.hint);
  const decisions = all.map((r) => policy.decide(schema, table, r.name));
  const rows = all.filter((r, i) => !r.generated && decisions[i]!.action !== 'exclude');
  const types = await dest.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
     WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
    [qualified(targetSchema, table)],
  );
  const typeOf = new Map(types.rows.map((r) => [r.name, r.type]));
  const identity = all[0]!.identity;
  return {
    relationId: all[0]!.oid,
    sourceSchema: schema,
    sourceTable: table,
    targetSchema,
    targetTable: table,
    columns: rows.map((r) => {
      const type = typeOf.get(r.name);
      if (!type)
        throw new ShapeAheadError(
          `${targetSchema}.${table} has no column ${r.name}: the source table changed shape; a full resync is needed`,
        );
      return { name: r.name, type };
    }),
    keyIndexes: identityKeyIndexes(
      identity,
      rows.map((r) => r.is_key),
    ),
    replicaIdentity: identity,
    signature: '',
    stageTable: '',
    kind: all[0]!.kind,
    sourceTypes: rows.map((r) => r.source_type),
    masks: rows.map((r) => {
      const decision = decisions[all.indexOf(r)]!;
      return decision.action === 'mask' ? decision.method : null;
    }),
    columnPolicy: policy.forTable(schema, table, all),
  };
}

/** COPY the table from the source at the exported snapshot into the shadow table, counting rows. */
async function copyAtSnapshot(
  input: TableResyncInput,
  dest: pg.Client,
  snapshotName: string,
  kind: string,
  shadow: string,
  columns: string[],
  masks: { methods: (MaskMethod | null)[]; policy: ColumnPolicy },
  /** Which rows to copy (a repair's keys, the table aliased r); all when null. */
  where: string | null,
): Promise<number> {
  const source = new pg.Client(sourceClientConfig(input.config.sourceUrl, 'elt-resync-copy'));
  await source.connect();
  // The copy's own query rejects with the error; the event must not crash the process as unhandled.
  source.on('error', () => undefined);
  const list = columns.map(ident).join(', ');
  const from = `${kind === 'p' ? '' : 'ONLY '}${qualified(input.schema, input.table)}`;
  let lastReport = Date.now();
  let cancelled = false;
  const counter = new CopyRowCounter('text', input.onCount);
  const progress = setInterval(() => {
    if (Date.now() - lastReport < PROGRESS_INTERVAL_MS) return;
    lastReport = Date.now();
    // progressTick never rejects: it logs what fails and still checks for a cancellation.
    void progressTick(input.lc, counter.rows, {
      report: (n) => input.onProgress(n),
      cancelled: () => input.cancelled(),
    }).then((stop) => {
      if (!stop) return;
      cancelled = true;
      counter.destroy(new ResyncCancelled('the resync was cancelled'));
    });
  }, PROGRESS_INTERVAL_MS);
  try {
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await source.query(`SET TRANSACTION SNAPSHOT ${literal(snapshotName)}`);
    await dest.query('BEGIN');
    await pipeline(
      source.query(copyTo(`COPY (SELECT ${list} FROM ${from} r ${where ?? ''}) TO STDOUT`)),
      maskingStage(masks),
      counter,
      dest.query(copyFrom(`COPY ${shadow} (${list}) FROM STDIN`)),
    );
    await dest.query('COMMIT');
    await source.query('COMMIT');
  } catch (error) {
    // The copy's error is the one to report; a failed ROLLBACK only means the connection is gone.
    await dest.query('ROLLBACK').catch(() => undefined);
    if (cancelled) throw new ResyncCancelled('the resync was cancelled');
    throw error;
  } finally {
    clearInterval(progress);
    await source.end().catch(() => undefined); // closing: nothing is lost if it fails
  }
  await input.onProgress(counter.rows);
  return counter.rows;
}

/** Apply the recorded changes committed at or after `fromLsn` to the shadow table, in order; returns how many. */
async function replayDelta(
  applier: Applier,
  shadow: TargetTable,
  jobId: number,
  fromLsn: Lsn,
  onChange: (change: DeltaChange) => void,
): Promise<number> {
  let after = 0;
  let replayed = 0;
  for (;;) {
    const rows = await readDelta(applier, jobId, after, REPLAY_PAGE_ROWS);
    if (rows.length === 0) return replayed;
    after = Number(rows.at(-1)!.seq);
    let pending: RowChange[] = [];
    for (const row of rows) {
      const change = decodeDelta(row.change as Parameters<typeof decodeDelta>[0]);
      if (change.lsn < fromLsn) continue;
      replayed++;
      onChange(change);
      if (change.op === 'truncate') {
        await applier.applyTo(shadow, pending);
        pending = [];
        await applier.query(`TRUNCATE ${qualified(shadow.targetSchema, shadow.targetTable)}`);
        continue;
      }
      pending.push(change);
    }
    await applier.applyTo(shadow, pending);
  }
}

/** The source table has a column the replica table lacks (yet, or for good). */
class ShapeAheadError extends Error {
  override readonly name = 'ShapeAheadError';
}
