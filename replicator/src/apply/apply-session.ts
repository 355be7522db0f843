/**
 * Streaming apply, one attempt: pgoutput messages from the slot, in order, into the destination.
 *
 * Source transactions are grouped into destination transactions, always cut at a source commit:
 * committed when nothing more has arrived, else at batchMaxRows rows or after batchMaxMs. Each
 * destination commit records the end LSN of the last source transaction it holds; what may be confirmed to the source is decided by
 * ./ack-policy.ts alone. The collaborators: the applier (the destination transaction), the
 * resync mirror and boundary tasks (./resync-mirror.ts, ./apply-hooks.ts), the heartbeat
 * (./heartbeat.ts), the pruner of old soft-deleted rows (../prune/pruner.ts, which takes turns
 * with the apply on the apply connection) and a timer that commits a batch that is due while
 * the source is quiet.
 */
import { targetSchemas } from '../schema/target-schemas.js';
import type pg from 'pg';
import type { Config } from '../config.js';
import { TableFailure, tableFailureReason } from '../failures.js';
import type { Logger } from '../log.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { errorKind, type Metrics } from '../metrics.js';
import { Pruner } from '../prune/pruner.js';
import { TableRegistry, type TargetTable } from '../schema/mapping.js';
import type { SchemaContext } from '../schema/schema-changes.js';
import type { PgoutputMessage } from '../source/pgoutput.js';
import { columnPolicyFrom } from '../source/column-policy.js';
import { TableSelection } from '../source/selection.js';
import { ensureErrorTableRow } from '../state/control.js';
import { SlotStream } from '../source/stream.js';
import { AckPolicy } from './ack-policy.js';
import { Applier } from './applier.js';
import { ApplyHooks } from './apply-hooks.js';
import type { RowChange } from './batch.js';
import { CaughtUpRecorder, startHeartbeat } from './heartbeat.js';
import { ResyncMirror } from './resync-mirror.js';

/** Rows staged in memory before they are applied inside the open transaction. */
const CHUNK_MAX_ROWS = 5_000;
/** While a boundary task waits for a stream position, ask the source for its WAL position this often. */
const REPLY_REQUEST_INTERVAL_MS = 1_000;

/** What an apply session needs of the configuration. */
export type ApplyOptions = Pick<
  Config,
  | 'slot'
  | 'sourceUrl'
  | 'publication'
  | 'sourceSchemas'
  | 'includeTables'
  | 'excludeTables'
  | 'excludeColumns'
  | 'maskColumns'
  | 'maskKey'
  | 'targetSchema'
  | 'targetSchemaMap'
  | 'deleteMode'
  | 'batchMaxRows'
  | 'batchMaxMs'
  | 'softDeleteRetention'
  | 'pruneInterval'
>;

export interface StreamConnections {
  /** Apply connection: holds the open destination transaction. */
  apply: pg.Client;
  /** A second destination connection for heartbeats (never inside the apply transaction). */
  control: pg.Client;
  /** A plain source connection, to read the slot's position, retained WAL and catalog. */
  source: pg.Client;
}

export interface ApplySessionInput {
  lc: Logger;
  options: ApplyOptions;
  metrics: Metrics;
  db: StreamConnections;
  startLsn: Lsn;
  hooks: ApplyHooks;
  /** Extra work at each heartbeat, on the control connection (the partition watch). */
  onHeartbeat?(context: SchemaContext & { control: pg.Client }): Promise<void>;
}

/** Serializes async work: the stream handler and the commit timer never interleave. */
class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work);
    this.#tail = result.catch(() => {
      // The caller of run() gets the error; the queue goes on with the next work.
    });
    return result;
  }
}

/** Stream and apply until `signal` aborts (resolves) or the attempt fails (rejects). */
export async function streamChanges(input: ApplySessionInput, signal: AbortSignal): Promise<void> {
  const session = new ApplySession(input);
  await session.prepare();
  await session.run(signal);
}

export class ApplySession {
  readonly #registry: TableRegistry;
  readonly #applier: Applier;
  readonly #policy: AckPolicy;
  readonly #mirror: ResyncMirror;
  readonly #stream: SlotStream;
  readonly #queue = new SerialQueue();
  readonly #caughtUp: CaughtUpRecorder;
  readonly #pruner: Pruner;
  #pruneTurnQueued = false;
  readonly #schemaContext: SchemaContext;
  /**
   * Relations seen outside ELT_SOURCE_SCHEMAS (a publication FOR ALL TABLES, or a table moved out with
   * ALTER TABLE … SET SCHEMA), by OID and schema: warned about once. Decided on every change, never cached
   * by OID alone: a table moved back into a replicated schema keeps its OID and is replicated again.
   */
  readonly #outside = new Set<string>();
  /** ELT_INCLUDE_TABLES / ELT_EXCLUDE_TABLES: a table they leave out is skipped whatever the publication sends. */
  readonly #selection: TableSelection;
  readonly #unselectedSeen = new Set<string>();
  #serverWalEnd: Lsn;
  #lastReplyRequest = 0;
  #failure: unknown = null;

  constructor(private readonly input: ApplySessionInput) {
    const { lc, options, db, startLsn, hooks } = input;
    const targets = targetSchemas(options);
    this.#registry = new TableRegistry(targets);
    this.#applier = new Applier(
      lc,
      db.apply,
      {
        slot: options.slot,
        deleteMode: options.deleteMode,
        chunkMaxRows: Math.min(CHUNK_MAX_ROWS, options.batchMaxRows),
        onTableStopped: (s, t, e) => this.#onTableStopped(s, t, e),
      },
      { lsn: startLsn, commitTime: null },
    );
    this.#policy = new AckPolicy(startLsn);
    this.#mirror = new ResyncMirror(lc, this.#registry, hooks);
    const columns = columnPolicyFrom(options);
    this.#stream = new SlotStream(lc, {
      url: options.sourceUrl,
      slot: options.slot,
      publication: options.publication,
      startLsn,
      columns,
    });
    this.#caughtUp = new CaughtUpRecorder(lc, db.control, options.slot, startLsn);
    this.#pruner = new Pruner(lc, options, input.metrics);
    this.#serverWalEnd = startLsn;
    this.#selection = new TableSelection(options.includeTables, options.excludeTables);
    this.#schemaContext = {
      lc,
      dest: { query: (sql, params) => this.#applier.query(sql, params) },
      source: db.source,
      sourceSchemas: options.sourceSchemas,
      targets,
      slot: options.slot,
      columns,
      stopped: input.hooks.stopped,
    };
  }

  /** Load which tables are stopped (their changes are skipped); restart unfinished prune passes and listen for new ones. */
  async prepare(): Promise<void> {
    await this.input.hooks.stopped.load(this.input.db.control, this.input.options.slot);
    await this.#pruner.listen(this.input.db.control);
  }

  async run(signal: AbortSignal): Promise<void> {
    // Stopped before the stream started: the abort event, already sent, will not come again.
    if (signal.aborted) return;
    const { lc, options, metrics } = this.input;
    const commitTimer = setInterval(() => this.#tick(), Math.max(10, Math.floor(options.batchMaxMs / 2)));
    const stopHeartbeat = startHeartbeat({
      lc,
      metrics,
      slot: options.slot,
      control: this.input.db.control,
      source: this.input.db.source,
      caughtUp: this.#caughtUp,
      position: () => ({
        serverWalEnd: this.#serverWalEnd,
        caughtUp: this.#policy.caughtUp,
        oldestPendingCommitTime: this.#applier.oldestPendingCommitTime,
      }),
      extra: async () => {
        await this.#pruner.poll(this.input.db.control);
        await this.input.onHeartbeat?.({ ...this.#schemaContext, control: this.input.db.control });
      },
    });
    const onAbort = () => void this.#stream.stop();
    signal.addEventListener('abort', onAbort);
    metrics.setState('streaming');
    lc.info({ slot: options.slot, lsn: formatLsn(this.input.startLsn) }, 'streaming changes');
    try {
      await this.#stream
        .run({
          onMessage: (message) => this.#step(() => this.#handle(message)),
          onKeepalive: (walEnd) => this.#step(() => this.#onKeepalive(walEnd)),
        })
        .catch((error: unknown) => {
          // The stream ended without waiting for a step still queued: that step does nothing now.
          this.#failure ??= error;
          throw error;
        });
      // Stopped on request: commit what is complete so a restart has less to redo (nothing, when
      // a step or a commit queued before this one failed).
      await this.#unlessFailed(async () => {
        if (!this.#policy.inTransaction && this.#applier.hasOpenTransaction) await this.#commitNow();
      });
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what a step or a commit failed with, as it came
      if (this.#failure !== null) throw this.#failure;
    } finally {
      clearInterval(commitTimer);
      stopHeartbeat();
      this.#caughtUp.stop();
      signal.removeEventListener('abort', onAbort);
      // After the work in flight, never beside it: a ROLLBACK slipped between the statements of a commit
      // the timer started aborted its changes, and the applied position it then recorded outside any
      // transaction made the next attempt resume past a source transaction that was never applied.
      await this.#queue.run(() => this.#applier.rollback());
    }
  }

  async #handle(message: PgoutputMessage): Promise<void> {
    const policy = this.#policy;
    switch (message.tag) {
      case 'begin':
        if (policy.begin(message.finalLsn))
          this.input.lc.debug(
            { lsn: formatLsn(message.finalLsn), txid: message.xid },
            'skipping a transaction already applied',
          );
        return;
      case 'commit':
        return this.#onCommit(message.endLsn, message.commitTime);
      case 'relation':
        this.#registry.register(message);
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        if (policy.skipping) return;
        const table = await this.#resolve(message.relationId);
        const change = rowChange(message, policy.commitLsn);
        if (table) await this.#add(table, change);
        this.#mirror.record(message.relationId, change);
        return;
      }
      case 'truncate': {
        if (policy.skipping) return;
        const tables: TargetTable[] = [];
        for (const id of message.relationIds) {
          const table = await this.#resolve(id);
          if (table) tables.push(table);
        }
        await this.#applier.truncate(tables, policy.commitLsn);
        for (const id of message.relationIds) this.#mirror.record(id, { op: 'truncate', lsn: policy.commitLsn });
        return;
      }
      case 'type':
      case 'origin':
      case 'message':
        return;
      default:
        throw new Error(`unexpected ${message.tag} message: streaming of in-progress transactions is not enabled`);
    }
  }

  async #onCommit(endLsn: Lsn, commitTime: number): Promise<void> {
    const decision = this.#policy.commit(endLsn, this.#applier.hasOpenTransaction);
    if (decision.kind === 'skipped') return;
    this.input.metrics.appliedTransactions.inc();
    if (decision.kind === 'confirm') {
      // Nothing of ours in it: nothing to apply, safe to confirm.
      this.#stream.confirm(decision.lsn);
      return;
    }
    this.#applier.markSourceCommit({ lsn: endLsn, commitTime });
    if (this.input.hooks.hasDueTasks(this.#policy.received)) await this.#runBoundaryTasks();
    else if (this.#batchDue()) await this.#commitNow();
    if (this.#mirror.full) await this.#mirror.flush(this.#applier);
  }

  async #onKeepalive(walEnd: Lsn): Promise<void> {
    this.#serverWalEnd = walEnd;
    const confirm = this.#policy.keepalive(walEnd, this.#applier.hasOpenTransaction);
    if (confirm === null) return;
    this.#stream.confirm(confirm);
    await this.#caughtUp.record(confirm);
  }

  /** The commit timer: give the pruner its turn, commit a due batch, run due boundary tasks, or ask an idle source where it is. */
  #tick(): void {
    const { hooks } = this.input;
    if (!this.#policy.inTransaction && !this.#pruneTurnQueued && this.#pruner.due) {
      this.#pruneTurnQueued = true;
      this.#unlessFailed(() => this.#pruneTurn()).catch((error: unknown) => this.#fail(error));
    }
    const received = this.#policy.received;
    if (
      !this.#policy.inTransaction &&
      hooks.hasWaitingTasks(received) &&
      Date.now() - this.#lastReplyRequest >= REPLY_REQUEST_INTERVAL_MS
    ) {
      // A task waits for a later stream position: an idle source sends none by itself.
      this.#lastReplyRequest = Date.now();
      this.#stream.requestKeepalive();
    }
    if (this.#policy.inTransaction || !(hooks.hasDueTasks(received) || this.#batchDue())) return;
    this.#unlessFailed(async () => {
      if (this.#policy.inTransaction) return;
      if (hooks.hasDueTasks(this.#policy.received)) await this.#runBoundaryTasks();
      else if (this.#batchDue()) await this.#commitNow();
    }).catch((error: unknown) => this.#fail(error));
  }

  /** One bounded chunk of pruning, between source transactions, after committing what is open. */
  async #pruneTurn(): Promise<void> {
    try {
      if (this.#policy.inTransaction) return;
      if (this.#applier.hasOpenTransaction) await this.#commitNow();
      await this.#pruner.step(this.input.db.apply);
    } finally {
      this.#pruneTurnQueued = false;
    }
  }

  #fail(error: unknown): void {
    this.#failure ??= error;
    void this.#stream.stop();
  }

  /**
   * Work on the destination, in turn with the rest; nothing once a step or a commit failed (the
   * session is ending, and only its rollback may still run).
   */
  #unlessFailed(work: () => Promise<void>): Promise<void> {
    return this.#queue.run(async () => {
      if (this.#failure === null) await work();
    });
  }

  /**
   * One message or keepalive from the stream, handled in turn. Once it is handled without error,
   * a quiet slot gets its commit (#commitIfQuiet). A failure ends the session.
   */
  #step(handle: () => Promise<void>): Promise<void> {
    return this.#unlessFailed(async () => {
      try {
        await handle();
      } catch (error) {
        this.#failure ??= error;
        throw error;
      }
      this.#commitIfQuiet();
    });
  }

  /**
   * Nothing more has arrived from the slot: commit the complete source transactions now, not at
   * the batch timer, so a change on a quiet source shows at once (as native replication's).
   * Under load more is always queued, and a batch grows up to batchMaxRows or batchMaxMs. The
   * commit is queued behind the current step, as the timer's is, not awaited inside it; a stream
   * that fails while it waits (on a lock) ends the attempt at once, and the attempt's rollback
   * comes after the commit.
   * The keepalive that came before it is applied again after it: its position may now be confirmed.
   */
  #commitIfQuiet(): void {
    if (!this.#quiet()) return;
    this.#unlessFailed(async () => {
      if (!this.#quiet()) return;
      await this.#commitNow();
      await this.#onKeepalive(this.#serverWalEnd);
    }).catch((error: unknown) => this.#fail(error));
  }

  #quiet(): boolean {
    return !this.#policy.inTransaction && !this.#stream.hasQueued && this.#applier.hasCompleteTransactions;
  }

  #batchDue(): boolean {
    return this.#applier.dueForCommit(this.input.options.batchMaxRows, this.input.options.batchMaxMs);
  }

  /** Boundary tasks (a resync's swap) run between source transactions and commit with them. */
  async #runBoundaryTasks(): Promise<void> {
    const { hooks } = this.input;
    if (!hooks.hasDueTasks(this.#policy.received)) return;
    await this.#mirror.flush(this.#applier);
    const tasks = await hooks.runBoundaryTasks(this.#applier, this.#policy.received);
    try {
      await this.#commitNow();
      tasks.settle();
    } catch (error) {
      tasks.settle(error);
      throw error;
    }
  }

  async #commitNow(): Promise<void> {
    const { metrics } = this.input;
    await this.#mirror.flush(this.#applier);
    const rows = this.#applier.rowsInTransaction;
    const started = process.hrtime.bigint();
    const committed = await this.#applier.commit();
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
    const applied = this.#policy.committed(committed.lsn);
    metrics.appliedLsn.set(Number(applied));
    this.#stream.confirm(applied);
  }

  /** The replica table of a relation, or null while the table is stopped, outside the replicated schemas or not selected (its changes are skipped). */
  async #resolve(relationId: number): Promise<TargetTable | null> {
    const { lc, options, hooks } = this.input;
    const relation = this.#registry.relation(relationId);
    if (relation && hooks.stopped.has(relation.schema, relation.name)) return null;
    if (relation && !options.sourceSchemas.includes(relation.schema)) {
      const seen = JSON.stringify([relationId, relation.schema]);
      if (!this.#outside.has(seen))
        lc.warn(
          { table: `${relation.schema}.${relation.name}`, schemas: options.sourceSchemas },
          'the publication sends a table outside ELT_SOURCE_SCHEMAS: its changes are ignored',
        );
      this.#outside.add(seen);
      return null;
    }
    const decision = relation && this.#selection.decide(relation.schema, relation.name);
    if (decision && !decision.selected) {
      // Decided on every change, not cached by OID: a rename may take a table into or out of the selection.
      const label = `${relation.schema}.${relation.name}`;
      if (!this.#unselectedSeen.has(label))
        lc.info({ table: label, reason: decision.reason }, 'changes of an unselected table are ignored');
      this.#unselectedSeen.add(label);
      return null;
    }
    const refused = relation?.refused;
    if (relation && refused) {
      // The column policy would break the table's key: it stops alone, with the column and the setting to change.
      const failure = new TableFailure(relation.schema, relation.name, refused.reason, refused.hint);
      // A table new to the replica needs a row to show its state.
      await ensureErrorTableRow(
        this.#schemaContext.dest,
        options.slot,
        relation.schema,
        relation.name,
        options.targetSchema,
      );
      await this.#applier.stopTable(relation.schema, relation.name, failure);
      return null;
    }
    try {
      const target = await this.#registry.resolve(this.#schemaContext, relationId);
      // Following a rename or a move may have brought the table's stop to its new name.
      if (relation && hooks.stopped.has(relation.schema, relation.name)) return null;
      return target;
    } catch (error) {
      if (!(error instanceof TableFailure) || !relation) throw error;
      await this.#applier.stopTable(relation.schema, relation.name, error);
      return null;
    }
  }

  /** Stage a change; a change the replica can never take (a TableFailure) stops its table. */
  async #add(table: TargetTable, change: RowChange): Promise<void> {
    try {
      await this.#applier.add(table, change);
    } catch (error) {
      if (!(error instanceof TableFailure)) throw error;
      await this.#applier.stopTable(table.sourceSchema, table.sourceTable, error);
    }
  }

  #onTableStopped(schema: string, table: string, error: unknown): void {
    this.input.hooks.stopped.stop(schema, table, tableFailureReason(error));
    this.input.metrics.errors.inc({ kind: errorKind(error as Error) });
    this.input.lc.error(
      { table: `${schema}.${table}`, err: error, hint: (error as { hint?: string }).hint },
      'table stopped: its changes are skipped until it is resynced',
    );
  }
}

/** A decoded insert, update or delete as the applier takes it (built field by field: this runs for every change). */
function rowChange(message: Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>, lsn: Lsn): RowChange {
  switch (message.tag) {
    case 'insert':
      return { op: 'insert', new: message.new, lsn };
    case 'update':
      return { op: 'update', new: message.new, key: message.key, old: message.old, lsn };
    case 'delete':
      return { op: 'delete', key: message.key, old: message.old, lsn };
  }
}
