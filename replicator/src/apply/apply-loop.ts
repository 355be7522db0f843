/**
 * Streaming apply: pgoutput messages from the slot, in order, into the destination.
 *
 * Source transactions are grouped into destination transactions (at most batchMaxRows
 * rows or batchMaxMs), always cut at a source commit. Each destination commit records the
 * end LSN of the last source transaction it holds; only after that commit is the LSN
 * confirmed to the source. Transactions at or before the applied LSN are skipped, so a
 * restart applies nothing twice. A keepalive's WAL position is confirmed only when no
 * source transaction is half-received and nothing is uncommitted here; it is then recorded
 * as applied in the destination too (at most once a second, and at each heartbeat).
 */
import type pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { errorKind, type Metrics } from '../metrics.js';
import { watchPartitions } from '../resync/partition-watch.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { SlotStream } from '../source/stream.js';
import type { PgoutputMessage } from '../source/pgoutput.js';
import { TableRegistry } from '../schema/mapping.js';
import { recordCaughtUp, recordHeartbeat } from '../state/control.js';
import { inspectSlot } from '../source/slot.js';
import { Applier } from './applier.js';
import type { RowChange } from './batch.js';
import { ApplyHooks, MIRROR_VALUE_MAX_BYTES, encodeDelta, largestValue, type DeltaChange } from '../resync/apply-hooks.js';
import type { TargetTable } from '../schema/mapping.js';
import type { SchemaContext } from '../schema/schema-changes.js';
import { TableFailure, tableFailureReason } from '../failures.js';

const HEARTBEAT_INTERVAL_MS = 5_000;
/** A position reached without a commit of ours is recorded at most this often (and at each heartbeat). */
const CAUGHT_UP_RECORD_INTERVAL_MS = 1_000;
/** Rows staged in memory before they are applied inside the open transaction. */
const CHUNK_MAX_ROWS = 5_000;
/** Mirrored changes of a table being resynced are written out at least this often. */
const DELTA_FLUSH_ROWS = 2_000;
/** While a boundary task waits for a stream position, ask the source for its WAL position this often. */
const REPLY_REQUEST_INTERVAL_MS = 1_000;

export interface StreamConnections {
  /** Apply connection: holds the open destination transaction. */
  apply: pg.Client;
  /** A second destination connection for heartbeats (never inside the apply transaction). */
  control: pg.Client;
  /** A plain source connection, to read the slot's position and retained WAL. */
  source: pg.Client;
}

/** Serializes async work: the stream handler and the commit timer never interleave. */
class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work);
    this.#tail = result.catch(() => {});
    return result;
  }
}

export async function streamChanges(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  db: StreamConnections,
  startLsn: Lsn,
  signal: AbortSignal,
  hooks: ApplyHooks = new ApplyHooks(),
): Promise<void> {
  const registry = new TableRegistry(config.targetSchema);
  const stopped = hooks.stopped;
  await stopped.load(db.control, config.slot);
  const onTableStopped = (schema: string, table: string, error: unknown) => {
    stopped.stop(schema, table, tableFailureReason(error));
    metrics.errors.inc({ kind: errorKind(error as Error) });
    lc.error({ table: `${schema}.${table}`, err: error, hint: (error as { hint?: string }).hint }, 'table stopped: its changes are skipped until it is resynced');
  };
  const applier = new Applier(
    lc,
    db.apply,
    { slot: config.slot, deleteMode: config.deleteMode, chunkMaxRows: Math.min(CHUNK_MAX_ROWS, config.batchMaxRows), onTableStopped },
    { lsn: startLsn, commitTime: null },
  );
  /** Changes of tables being resynced, written to elt.resync_delta in the apply transaction. */
  let delta: { jobId: number; schema: string; table: string; change: string }[] = [];
  const flushDelta = async () => {
    if (delta.length === 0) return;
    const rows = delta;
    delta = [];
    await applier.query(
      `INSERT INTO elt.resync_delta (job_id, source_schema, source_table, change)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[])`,
      [rows.map((r) => r.jobId), rows.map((r) => r.schema), rows.map((r) => r.table), rows.map((r) => r.change)],
    );
  };
  /** Mirror a change of a table being resynced (stopped or not: the new copy needs it). */
  const record = (relationId: number, change: DeltaChange) => {
    const relation = registry.relation(relationId);
    const jobId = relation && hooks.mirroredBy(relation.schema, relation.name);
    if (!relation || jobId === undefined) return;
    const largest = largestValue(change);
    if (largest > MIRROR_VALUE_MAX_BYTES) {
      const mb = (largest / 1024 / 1024).toFixed(0);
      const reason = `A change to ${relation.schema}.${relation.name} carried a value of ${mb} MB while the table was being copied again; a change held aside for a resync can carry at most ${MIRROR_VALUE_MAX_BYTES / 1024 / 1024} MB. Run the resync again (POST /v1/resync) when such values are not changing.`;
      lc.warn({ table: `${relation.schema}.${relation.name}`, job: jobId, valueBytes: largest }, 'resync: a change is too big to hold aside; the resync will fail');
      hooks.spoil(relation.schema, relation.name, reason);
      return;
    }
    delta.push({ jobId, schema: relation.schema, table: relation.name, change: encodeDelta(change) });
  };
  /** Boundary tasks (a resync's swap) run between source transactions and commit with them. */
  const runBoundaryTasks = async () => {
    if (!hooks.hasDueTasks(received)) return;
    await flushDelta();
    const tasks = await hooks.runBoundaryTasks(applier, received);
    try {
      await commitNow();
      tasks.settle();
    } catch (error) {
      tasks.settle(error);
      throw error;
    }
  };
  const stream = new SlotStream(lc, { url: config.sourceUrl, slot: config.slot, publication: config.publication, startLsn });
  const queue = new SerialQueue();
  const schemaContext: SchemaContext = {
    lc,
    dest: applier,
    source: db.source,
    sourceSchemas: config.sourceSchemas,
    targetSchema: config.targetSchema,
    slot: config.slot,
  };
  /** Relations the publication sends from outside ELT_SOURCE_SCHEMAS (e.g. FOR ALL TABLES): warned about once, never applied. */
  const outside = new Set<number>();
  /** The replica table of a relation, or null while the table is stopped or outside the replicated schemas (its changes are skipped). */
  const resolve = async (relationId: number): Promise<TargetTable | null> => {
    const relation = registry.relation(relationId);
    if (outside.has(relationId) || (relation && stopped.has(relation.schema, relation.name))) return null;
    if (relation && !config.sourceSchemas.includes(relation.schema)) {
      outside.add(relationId);
      lc.warn({ table: `${relation.schema}.${relation.name}`, schemas: config.sourceSchemas }, 'the publication sends a table outside ELT_SOURCE_SCHEMAS: its changes are ignored');
      return null;
    }
    try {
      return await registry.resolve(schemaContext, relationId);
    } catch (error) {
      if (!(error instanceof TableFailure) || !relation) throw error;
      await applier.stopTable(relation.schema, relation.name, error);
      return null;
    }
  };
  /** Stage a change; a change the replica can never take (a TableFailure) stops its table. */
  const add = async (table: TargetTable, change: RowChange) => {
    try {
      await applier.add(table, change);
    } catch (error) {
      if (!(error instanceof TableFailure)) throw error;
      await applier.stopTable(table.sourceSchema, table.sourceTable, error);
    }
  };

  /** End LSN of the last source transaction committed in the destination (or skipped as already there). */
  let applied = startLsn;
  /**
   * Every source transaction that committed before this LSN is applied here, committed or
   * in the open transaction: the end of the last one handled, or a keepalive's WAL position
   * received between transactions. Boundary tasks wait for it.
   */
  let received = startLsn;
  let lastReplyRequest = 0;
  let serverWalEnd = startLsn;
  let inTransaction = false;
  let skipping = false;
  let commitLsn: Lsn = startLsn;
  let failure: unknown = null;
  /** Everything before it is applied; moved by keepalives and by transactions with nothing to apply. */
  let caughtUp: Lsn = startLsn;
  let caughtUpRecorded: Lsn = startLsn;
  let caughtUpRecordedAt = 0;
  let caughtUpTimer: NodeJS.Timeout | null = null;
  const recordCaughtUpSafely = async () => {
    const lsn = caughtUp;
    if (lsn <= caughtUpRecorded) return;
    try {
      await recordCaughtUp(db.control, config.slot, lsn);
      caughtUpRecorded = lsn;
      caughtUpRecordedAt = Date.now();
    } catch (error) {
      lc.warn({ err: error, lsn: formatLsn(lsn) }, 'could not record the caught-up position');
    }
  };

  const commitNow = async () => {
    await flushDelta();
    const rows = applier.rowsInTransaction;
    const started = process.hrtime.bigint();
    const committed = await applier.commit();
    if (!committed) return;
    metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    metrics.batchRows.observe(rows);
    for (const c of committed.counts) {
      const table = `${c.schema}.${c.table}`;
      if (c.inserts) metrics.appliedChanges.inc({ table, operation: 'insert' }, c.inserts);
      if (c.updates) metrics.appliedChanges.inc({ table, operation: 'update' }, c.updates);
      if (c.deletes) metrics.appliedChanges.inc({ table, operation: 'delete' }, c.deletes);
      if (c.truncates) metrics.appliedChanges.inc({ table, operation: 'truncate' }, c.truncates);
    }
    applied = committed.lsn;
    metrics.appliedLsn.set(Number(applied));
    stream.confirm(applied);
  };

  const handle = async (message: PgoutputMessage): Promise<void> => {
    switch (message.tag) {
      case 'begin':
        inTransaction = true;
        commitLsn = message.finalLsn;
        skipping = message.finalLsn < applied;
        if (skipping) lc.debug({ lsn: formatLsn(message.finalLsn), txid: message.xid }, 'skipping a transaction already applied');
        return;
      case 'commit':
        inTransaction = false;
        if (message.endLsn > received) received = message.endLsn;
        if (skipping) {
          skipping = false;
          return;
        }
        metrics.appliedTransactions.inc();
        if (!applier.hasOpenTransaction) {
          // Nothing of ours in it: nothing to apply, safe to confirm.
          applied = message.endLsn;
          if (applied > caughtUp) caughtUp = applied;
          stream.confirm(applied);
          return;
        }
        applier.markSourceCommit({ lsn: message.endLsn, commitTime: message.commitTime });
        if (hooks.hasDueTasks(received)) await runBoundaryTasks();
        else if (applier.dueForCommit(config.batchMaxRows, config.batchMaxMs)) await commitNow();
        if (delta.length >= DELTA_FLUSH_ROWS) await flushDelta();
        return;
      case 'relation':
        registry.register(message);
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        if (skipping) return;
        const table = await resolve(message.relationId);
        const change = { ...message, op: message.tag, lsn: commitLsn } as unknown as RowChange;
        if (table) await add(table, change);
        record(message.relationId, change);
        return;
      }
      case 'truncate':
        if (skipping) return;
        const tables: TargetTable[] = [];
        for (const id of message.relationIds) {
          const table = await resolve(id);
          if (table) tables.push(table);
        }
        await applier.truncate(tables, commitLsn);
        for (const id of message.relationIds) record(id, { op: 'truncate', lsn: commitLsn });
        return;
      case 'type':
      case 'origin':
      case 'message':
        return;
      default:
        throw new Error(`unexpected ${message.tag} message: streaming of in-progress transactions is not enabled`);
    }
  };

  const onKeepalive = async (walEnd: Lsn) => {
    serverWalEnd = walEnd;
    if (!inTransaction && walEnd > received) received = walEnd;
    if (!inTransaction && !applier.hasOpenTransaction && walEnd > applied) {
      // Every transaction before walEnd has been received and applied.
      stream.confirm(walEnd);
      if (walEnd > caughtUp) caughtUp = walEnd;
      const wait = CAUGHT_UP_RECORD_INTERVAL_MS - (Date.now() - caughtUpRecordedAt);
      if (wait <= 0) await recordCaughtUpSafely();
      // Not lost until the next heartbeat: a reader waiting for this position (elt verify) sees it within the interval.
      else caughtUpTimer ??= setTimeout(() => {
        caughtUpTimer = null;
        void queue.run(recordCaughtUpSafely);
      }, wait);
    }
  };

  const commitTimer = setInterval(() => {
    if (!inTransaction && hooks.hasWaitingTasks(received) && Date.now() - lastReplyRequest >= REPLY_REQUEST_INTERVAL_MS) {
      // A task waits for a later stream position: an idle source sends none by itself.
      lastReplyRequest = Date.now();
      stream.requestKeepalive();
    }
    if (inTransaction || !(hooks.hasDueTasks(received) || applier.dueForCommit(config.batchMaxRows, config.batchMaxMs))) return;
    queue
      .run(async () => {
        if (inTransaction) return;
        if (hooks.hasDueTasks(received)) await runBoundaryTasks();
        else if (applier.dueForCommit(config.batchMaxRows, config.batchMaxMs)) await commitNow();
      })
      .catch((error: unknown) => {
        failure ??= error;
        void stream.stop();
      });
  }, Math.max(10, Math.floor(config.batchMaxMs / 2)));

  const beat = async () => {
    const oldest = applier.oldestPendingCommitTime;
    const lagSeconds = oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000);
    const slot = await inspectSlot(db.source, config.slot);
    metrics.lagSeconds.set(lagSeconds);
    if (slot?.confirmedFlushLsn != null) metrics.lagBytes.set(Math.max(0, Number(slot.currentWalLsn - slot.confirmedFlushLsn)));
    if (slot?.retainedWalBytes != null) metrics.retainedWalBytes.set(slot.retainedWalBytes);
    metrics.slotActive.set({ slot: config.slot }, slot?.active ? 1 : 0);
    const states = await db.control.query<{ table: string; state: string }>(
      "SELECT source_schema || '.' || source_table AS table, state FROM elt.tables WHERE slot_name = $1",
      [config.slot],
    );
    metrics.setTableStates(states.rows);
    await recordHeartbeat(db.control, config.slot, { status: 'streaming', receivedLsn: serverWalEnd, lagSeconds, slot });
    await recordCaughtUpSafely();
    await watchPartitions({ ...schemaContext, control: db.control });
  };
  const heartbeatSafely = () => beat().catch((error: Error) => lc.warn({ err: error }, 'could not record heartbeat'));
  const heartbeat = setInterval(heartbeatSafely, HEARTBEAT_INTERVAL_MS);
  void heartbeatSafely();

  const onAbort = () => void stream.stop();
  signal.addEventListener('abort', onAbort);
  metrics.setState('streaming');
  lc.info({ slot: config.slot, lsn: formatLsn(startLsn) }, 'streaming changes');
  try {
    await stream.run({
      onMessage: (message) => queue.run(() => handle(message)),
      onKeepalive: (walEnd) => queue.run(() => onKeepalive(walEnd)),
    });
    if (failure) throw failure;
    // Stopped on request: commit what is complete so a restart has less to redo.
    if (!inTransaction && applier.hasOpenTransaction) await queue.run(commitNow);
  } finally {
    clearInterval(commitTimer);
    clearInterval(heartbeat);
    if (caughtUpTimer) clearTimeout(caughtUpTimer);
    signal.removeEventListener('abort', onAbort);
    await applier.rollback();
  }
}
