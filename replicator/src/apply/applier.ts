/**
 * Applies decoded changes to the destination inside one open transaction that groups
 * many source transactions, and commits it together with the last applied source commit
 * LSN (exactly-once). Memory is bounded: changes are staged per table in chunks of at
 * most `chunkMaxRows` rows, and a full chunk is applied (inside the open transaction)
 * before more are read, however large the source transaction.
 *
 * Pipelined: a full chunk is handed to the destination while the next one is staged in memory
 * (decoding, collapsing per key), so the session's work overlaps the destination's; at most
 * one chunk is in flight, and everything else that touches the transaction (a truncate, a
 * schema change, the commit) first waits for it. Each table's chunk takes two round trips:
 * the savepoint, the stage table's reset and the COPY in one query, then the merge statements (a
 * DELETE and a MERGE on PostgreSQL 15 and later) in another (the release of the savepoint goes with the next query).
 *
 * Each table's chunk is applied under a savepoint. When the replica refuses it for good (a
 * deterministic failure: a CHECK or NOT NULL violation, an invalid value), the chunk is rolled
 * back alone, that table stops (state `error`, in the same transaction) and the other tables
 * of the transaction go on; a transient failure fails the whole attempt, which is retried.
 */
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../log.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { UNCHANGED_TOAST, type Tuple } from '../source/pgoutput.js';
import { CopyTextWriter, type CopyField } from './copy-text.js';
import type { TargetTable } from '../schema/mapping.js';
import { classifyFailure, tableFailureReason } from '../failures.js';
import {
  recordApplied,
  recordTableCounts,
  recordTableError,
  type AppliedCommit,
  type TableCounts,
} from '../state/control.js';
import {
  newChunk,
  unchangedColumns,
  type KeyedChunk,
  type OrderedChunk,
  type RowChange,
  type StagedRow,
  type TableChunk,
} from './batch.js';
import {
  appendSql,
  createStageTableSql,
  truncateStageSql,
  deleteOneRowSql,
  keyedMergeSql,
  selectStoredValuesSql,
  stageColumns,
  stageTableName,
  truncateSql,
  updateOneRowSql,
  type DeleteMode,
} from './merge-sql.js';

/** A chunk is applied once its values hold this many bytes, however few rows it has (large values). */
const CHUNK_MAX_BYTES = 4 * 1024 * 1024;

/** The first server version with MERGE. */
const MERGE_MIN_VERSION = 150000;

/*
 * Stage tables are never ANALYZEd: with statistics, the planner joins a chunk of a few thousand
 * rows to the whole replica table by hashing all of it (a sequential scan per chunk, which grows
 * with the table); without them it looks each key up in the replica's key index (bench/apply-sql.ts).
 */

const SAVEPOINT = 'SAVEPOINT elt_table_chunk';
const RELEASE = 'RELEASE SAVEPOINT elt_table_chunk';

export interface ApplierOptions {
  slot: string;
  deleteMode: DeleteMode;
  chunkMaxRows: number;
  /** A table stopped (its reason is recorded in elt.tables): skip its later changes. */
  onTableStopped?(schema: string, table: string, error: unknown): void;
}

export class Applier {
  readonly #chunks = new Map<number, TableChunk>();
  #chunkRows = 0;
  #chunkBytes = 0;
  #txOpen = false;
  #txStartedAt = 0;
  #rowsInTx = 0;
  #pendingCommit: AppliedCommit | null = null;
  #firstPendingCommitTime: number | null = null;
  readonly #counts = new Map<number, TableCounts>();
  /** Stage table name → the table signature it was created for. */
  readonly #stageShapes = new Map<string, string>();
  /** The chunks handed to the destination and not yet applied (at most one set: the pipeline's depth). */
  #inflight: Promise<void> | null = null;
  /** Statements without parameters sent at the front of the next simple query (a savepoint, its release). */
  #deferred: string[] = [];
  /** The destination has MERGE (PostgreSQL 15+): a keyed chunk is one statement. Read at the first BEGIN. */
  #hasMerge: boolean | null = null;

  /**
   * A COMMIT failed: the server ended the transaction anyway, so every later statement would run
   * outside one (the applied position recorded without its rows). Nothing but rollback() may follow.
   */
  #commitFailure: unknown = null;

  /** The last source commit committed here: what a commit without new source transactions records. */
  #lastApplied: AppliedCommit;

  constructor(
    private readonly lc: Logger,
    private readonly db: pg.Client,
    private readonly options: ApplierOptions,
    applied: AppliedCommit,
  ) {
    this.#lastApplied = applied;
  }

  /** A destination transaction is open (it may hold applied but uncommitted changes). */
  get hasOpenTransaction(): boolean {
    return this.#txOpen;
  }

  /** Source commit time of the oldest source transaction applied but not yet committed here. */
  get oldestPendingCommitTime(): number | null {
    return this.#firstPendingCommitTime;
  }

  /** The open transaction holds complete source transactions (a commit would record one). */
  get hasCompleteTransactions(): boolean {
    return this.#pendingCommit !== null;
  }

  get rowsInTransaction(): number {
    return this.#rowsInTx;
  }

  /** The open transaction holds complete source transactions and is big or old enough to commit. */
  dueForCommit(maxRows: number, maxMs: number, now = Date.now()): boolean {
    return this.#pendingCommit !== null && (this.#rowsInTx >= maxRows || now - this.#txStartedAt >= maxMs);
  }

  async add(table: TargetTable, change: RowChange): Promise<void> {
    this.#refuseAfterFailedCommit();
    if (!this.#txOpen) await this.#begin();
    let chunk = this.#chunks.get(table.relationId);
    if (chunk && chunk.table.signature !== table.signature) {
      await this.#flushChunks();
      chunk = undefined;
    }
    if (!chunk) {
      chunk = newChunk(table);
      this.#chunks.set(table.relationId, chunk);
    }
    chunk.add(change);
    this.#chunkRows++;
    this.#chunkBytes += valueBytes(change);
    this.#rowsInTx++;
    if (this.#chunkRows >= this.options.chunkMaxRows || this.#chunkBytes >= CHUNK_MAX_BYTES) await this.#flushChunks();
  }

  async truncate(tables: TargetTable[], lsn: Lsn): Promise<void> {
    this.#refuseAfterFailedCommit();
    await this.#begin();
    await this.#applyStaged();
    for (const statement of truncateSql(tables, this.options.deleteMode)) await this.db.query(this.#simple(statement));
    for (const table of tables) this.#count(table, lsn).truncates++;
    this.#rowsInTx++;
  }

  /** A source transaction ended; its changes are in the open destination transaction. */
  markSourceCommit(commit: AppliedCommit): void {
    this.#pendingCommit = commit;
    this.#firstPendingCommitTime ??= commit.commitTime;
  }

  /**
   * Apply what is staged, record the last source commit in `elt.replication_state` and
   * commit. Returns that source commit: only now may it be acknowledged to the source.
   * Callers commit only between source transactions, never inside one.
   */
  async commit(): Promise<(AppliedCommit & { counts: TableCounts[] }) | null> {
    this.#refuseAfterFailedCommit();
    if (!this.#txOpen) return null;
    const applied = this.#pendingCommit ?? this.#lastApplied;
    await this.#applyStaged();
    const counts = [...this.#counts.values()];
    await recordTableCounts(this.db, this.options.slot, counts);
    await recordApplied(this.db, this.options.slot, applied);
    try {
      await this.db.query(this.#simple('COMMIT'));
    } catch (error) {
      this.#commitFailure = error;
      throw error;
    }
    this.lc.debug({ lsn: formatLsn(applied.lsn), rows: this.#rowsInTx }, 'committed');
    this.#reset();
    this.#lastApplied = applied;
    return { ...applied, counts };
  }

  /**
   * Apply changes to another table of the same shape (a resync's shadow table) inside the
   * open transaction, in order, with the same set-based SQL. Not counted as replication.
   */
  async applyTo(table: TargetTable, changes: RowChange[]): Promise<void> {
    this.#refuseAfterFailedCommit();
    await this.#begin();
    await this.#applyStaged();
    for (let start = 0; start < changes.length; start += this.options.chunkMaxRows) {
      const chunk = newChunk(table);
      for (const change of changes.slice(start, start + this.options.chunkMaxRows)) chunk.add(change);
      if ('changes' in chunk) await this.#applyOrdered(chunk);
      else await this.#applyKeyed(chunk);
    }
  }

  /**
   * Stop a table: its staged changes are dropped and elt.tables says why, in the open
   * transaction (so the stop commits with the changes applied before it, and no later).
   */
  async stopTable(schema: string, table: string, error: unknown): Promise<void> {
    this.#refuseAfterFailedCommit();
    await this.#begin();
    await this.#settle();
    await this.#stopTable(schema, table, error);
  }

  /** Stop a table from inside the chunk being applied (which must not wait for itself). */
  async #stopTable(schema: string, table: string, error: unknown): Promise<void> {
    for (const [id, chunk] of this.#chunks) {
      if (chunk.table.sourceSchema === schema && chunk.table.sourceTable === table) this.#chunks.delete(id);
    }
    await recordTableError(this.db, this.options.slot, schema, table, tableFailureReason(error));
    this.options.onTableStopped?.(schema, table, error);
  }

  /** Run SQL inside the open destination transaction (opening one if needed). */
  async query(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    this.#refuseAfterFailedCommit();
    await this.#begin();
    await this.#applyStaged();
    await this.#sendDeferred();
    return this.db.query(sql, params);
  }

  #refuseAfterFailedCommit(): void {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the COMMIT's own error, as it came
    if (this.#commitFailure !== null) throw this.#commitFailure;
  }

  async rollback(): Promise<void> {
    // Rolling back after a failure, which is the error to report: a failed ROLLBACK means the connection is gone,
    // and the transaction with it. The chunk in flight failed with it, or is given up.
    await this.#inflight?.catch(() => undefined);
    this.#inflight = null;
    this.#deferred = [];
    if (this.#txOpen) await this.db.query('ROLLBACK').catch(() => undefined);
    this.#chunks.clear();
    this.#chunkRows = 0;
    this.#chunkBytes = 0;
    this.#reset();
  }

  #reset(): void {
    this.#txOpen = false;
    this.#rowsInTx = 0;
    this.#pendingCommit = null;
    this.#firstPendingCommitTime = null;
    this.#counts.clear();
  }

  async #begin(): Promise<void> {
    if (this.#txOpen) return;
    if (this.#hasMerge === null) {
      const { rows } = await this.db.query<{ server_version_num: string }>('SHOW server_version_num');
      this.#hasMerge = Number(rows[0]!.server_version_num) >= MERGE_MIN_VERSION;
    }
    await this.db.query('BEGIN');
    this.#txOpen = true;
    this.#txStartedAt = Date.now();
  }

  #count(table: TargetTable, lsn: Lsn): TableCounts {
    let counts = this.#counts.get(table.relationId);
    if (!counts) {
      counts = {
        schema: table.sourceSchema,
        table: table.sourceTable,
        inserts: 0,
        updates: 0,
        deletes: 0,
        truncates: 0,
        lastLsn: lsn,
      };
      this.#counts.set(table.relationId, counts);
    }
    counts.lastLsn = lsn;
    return counts;
  }

  /**
   * Hand the staged chunks to the destination once the ones before them are applied, and
   * return: the caller stages the next chunk meanwhile. A failure of the chunks in flight
   * is thrown by the next call that waits for them.
   */
  async #flushChunks(): Promise<void> {
    await this.#settle();
    const chunks = [...this.#chunks.values()].filter((chunk) => chunk.size > 0);
    this.#chunks.clear();
    this.#chunkRows = 0;
    this.#chunkBytes = 0;
    if (chunks.length === 0) return;
    const work = this.#applyChunks(chunks);
    // Reported by #settle, which every later use of the transaction goes through.
    work.catch(() => undefined);
    this.#inflight = work;
  }

  /** Everything staged is applied, in the open transaction. */
  async #applyStaged(): Promise<void> {
    await this.#flushChunks();
    await this.#settle();
  }

  /** Wait for the chunks in flight; throws what they failed with. */
  async #settle(): Promise<void> {
    const work = this.#inflight;
    this.#inflight = null;
    if (work) await work;
  }

  async #applyChunks(chunks: TableChunk[]): Promise<void> {
    for (const chunk of chunks) {
      if (!(await this.#applyChunk(chunk))) continue;
      const lastLsn = 'changes' in chunk ? chunk.changes.at(-1)!.lsn : [...chunk.rows()].at(-1)!.lsn;
      const counts = this.#count(chunk.table, lastLsn);
      counts.inserts += chunk.counts.inserts;
      counts.updates += chunk.counts.updates;
      counts.deletes += chunk.counts.deletes;
    }
  }

  /**
   * Apply one table's chunk under a savepoint; false when the replica refused it and the table stopped.
   * The savepoint goes with the chunk's first query, its release with the next query on the connection.
   */
  async #applyChunk(chunk: TableChunk): Promise<boolean> {
    this.#deferred.push(SAVEPOINT);
    try {
      if ('changes' in chunk) await this.#applyOrdered(chunk);
      else await this.#applyKeyed(chunk);
    } catch (error) {
      if (classifyFailure(error) === 'transient') throw error;
      // Failed before anything was sent (a change this table cannot apply): there is no savepoint to go back to.
      if (this.#deferred.at(-1) === SAVEPOINT) this.#deferred.pop();
      else
        await this.db.query(this.#simple('ROLLBACK TO SAVEPOINT elt_table_chunk')).catch((rollbackError: unknown) => {
          // A lost connection is itself (retried as an outage). Otherwise there was no savepoint to go
          // back to: the query that carried it was refused whole (at parsing), which aborted the
          // destination transaction; the attempt ends with what failed, not with this.
          throw classifyFailure(rollbackError) === 'transient' ? rollbackError : error;
        });
      // The stage table may have been created under the savepoint: create it again next time.
      this.#stageShapes.delete(stageTableName(chunk.table));
      await this.#stopTable(chunk.table.sourceSchema, chunk.table.sourceTable, error);
      return false;
    }
    this.#deferred.push(RELEASE);
    return true;
  }

  /** `sql` after the deferred statements, as one simple query (one round trip). */
  #simple(sql: string): string {
    if (this.#deferred.length === 0) return sql;
    const statements = [...this.#deferred, sql].filter((s) => s !== '');
    this.#deferred = [];
    return statements.join('; ');
  }

  /** Send the deferred statements before a query with parameters (which cannot carry them). */
  async #sendDeferred(): Promise<void> {
    if (this.#deferred.length > 0) await this.db.query(this.#simple(''));
  }

  /** The statement that makes the table's stage table empty and of the table's shape (reused while it is). */
  #prepareStageSql(table: TargetTable): string {
    const stage = stageTableName(table);
    if (this.#stageShapes.get(stage) === table.signature) return truncateStageSql(table);
    this.#stageShapes.set(stage, table.signature);
    return createStageTableSql(table);
  }

  /**
   * Reset the table's stage table and COPY the rows into it, in one query; the rows go a row at a
   * time, never joined into one string.
   */
  async #copyIntoStage(table: TargetTable, rows: Iterable<StageRow>): Promise<void> {
    const copy = `COPY pg_temp.${stageTableName(table)} (${stageColumns(table).join(', ')}) FROM STDIN`;
    const writer = new CopyTextWriter(
      this.db.query(copyFrom(this.#simple(`${this.#prepareStageSql(table)}; ${copy}`))),
    );
    for (const row of rows) await writer.writeRow(stageFields(row));
    await writer.end();
  }

  async #applyKeyed(chunk: KeyedChunk): Promise<void> {
    const rows = [...chunk.rows()];
    if (rows.some((row) => row.fillFrom)) await this.#sendDeferred();
    for (const row of rows) if (row.fillFrom) await this.#fillUnchanged(chunk.table, row);
    const unchanged = unchangedColumns(rows);
    await this.#copyIntoStage(chunk.table, rows);
    const merge = keyedMergeSql(chunk.table, unchanged, this.options.deleteMode, this.#hasMerge === true);
    await this.db.query(this.#simple(merge.join('; ')));
  }

  /**
   * An update that moved a row to a new key and left TOASTed values unchanged: those values
   * are read from the stored row under the old key (rare: key changes seldom spare big values).
   */
  async #fillUnchanged(table: TargetTable, row: StagedRow): Promise<void> {
    const { sql, params } = selectStoredValuesSql(table, row.fillFrom!);
    const { rows } = await this.db.query<{ v: (string | null)[] }>(sql, params);
    const stored = rows[0]?.v.map((value) => (value === null ? null : Buffer.from(value, 'utf8')));
    if (!stored) {
      this.lc.warn(
        { table: `${table.sourceSchema}.${table.sourceTable}`, lsn: formatLsn(row.lsn) },
        'the old row of a key change is missing; its unchanged values stay empty',
      );
      return;
    }
    row.values = row.values.map((value, i) => (value === UNCHANGED_TOAST ? (stored[i] ?? null) : value));
    delete row.fillFrom;
  }

  /** Tables without a key: runs of inserts are appended set-based; updates and deletes go one by one, in order. */
  async #applyOrdered(chunk: OrderedChunk): Promise<void> {
    const table = chunk.table;
    let inserts: StageRow[] = [];
    const flushInserts = async () => {
      if (inserts.length === 0) return;
      await this.#copyIntoStage(table, inserts);
      await this.db.query(this.#simple(appendSql(table)));
      inserts = [];
    };
    for (const change of chunk.changes) {
      if (change.op === 'insert') {
        inserts.push({ op: 'I', lsn: change.lsn, values: change.new });
        continue;
      }
      await flushInserts();
      const old = change.old ?? change.key;
      if (!old)
        throw new Error(
          `${change.op} on ${table.sourceSchema}.${table.sourceTable} carries no old row: it needs REPLICA IDENTITY FULL`,
        );
      const oldValues = old.map((v) => (v === UNCHANGED_TOAST ? undefined : v));
      const statement =
        change.op === 'delete'
          ? deleteOneRowSql(table, oldValues, this.options.deleteMode)
          : updateOneRowSql(
              table,
              oldValues,
              change.new.map((v) => (v === UNCHANGED_TOAST ? undefined : v)),
              formatLsn(change.lsn),
            );
      await this.#sendDeferred();
      await this.db.query(statement.sql, statement.params);
    }
    await flushInserts();
  }
}

/** The bytes of the values a change carries (a plain loop: this runs for every change). */
function valueBytes(change: RowChange): number {
  return (
    tupleBytes(change.op === 'delete' ? undefined : change.new) +
    tupleBytes(change.op === 'insert' ? undefined : change.key) +
    tupleBytes(change.op === 'insert' ? undefined : change.old)
  );
}

function tupleBytes(tuple: Tuple | undefined): number {
  let bytes = 0;
  if (tuple) for (const value of tuple) if (Buffer.isBuffer(value)) bytes += value.length;
  return bytes;
}

/** A row of a stage table: the operation, its LSN and the values (see merge-sql.ts). */
interface StageRow {
  op: string;
  lsn: Lsn;
  values: Tuple;
}

/** The stage row's fields in COPY order: _op, _lsn, _u (which columns are unchanged TOAST), c0..cN. */
function stageFields(row: StageRow): CopyField[] {
  const { values } = row;
  const fields: CopyField[] = new Array<CopyField>(3 + values.length);
  fields[0] = row.op;
  fields[1] = formatLsn(row.lsn);
  let flags: string | null = null;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (value === UNCHANGED_TOAST) flags ??= values.map((v) => (v === UNCHANGED_TOAST ? '1' : '0')).join('');
    fields[3 + i] = value === UNCHANGED_TOAST ? null : value;
  }
  fields[2] = flags;
  return fields;
}
