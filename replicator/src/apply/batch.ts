/**
 * Decoded row changes of one table, collapsed for set-based apply. Pure: no I/O.
 *
 * For a table with a key, only the newest change per key matters within a chunk: the key
 * ends either deleted or holding one row image (upsert). A key column stored out of line
 * arrives as "unchanged TOAST" in an update that left it alone; its value is the one in the
 * old key PostgreSQL sends with such an update, never the marker (two such updates of
 * different rows would otherwise look like one key). Unchanged TOAST values in an
 * update are filled from an earlier image of the same key in the chunk when there is one;
 * otherwise they stay marked, and the apply SQL keeps the stored value.
 *
 * A table without a key (REPLICA IDENTITY FULL or NOTHING) cannot be collapsed: its
 * changes stay in order.
 */
import type { Lsn } from '../lsn.js';
import { UNCHANGED_TOAST, type ColumnValue, type Tuple } from '../source/pgoutput.js';
import type { TargetTable } from '../schema/mapping.js';
import { TableFailure } from '../failures.js';

export type RowChange =
  | { op: 'insert'; new: Tuple; lsn: Lsn }
  | { op: 'update'; new: Tuple; key?: Tuple; old?: Tuple; lsn: Lsn }
  | { op: 'delete'; key?: Tuple; old?: Tuple; lsn: Lsn };

/** Every value a change carries (new image, key, old image), as bytes; markers and nulls left out. */
export function* changeValues(change: RowChange): Generator<Buffer> {
  const tuples = [
    change.op === 'delete' ? undefined : change.new,
    change.op === 'insert' ? undefined : change.key,
    change.op === 'insert' ? undefined : change.old,
  ];
  for (const tuple of tuples) for (const value of tuple ?? []) if (Buffer.isBuffer(value)) yield value;
}

/** One row of the stage table: U = make the key hold this image, D = delete the key. */
export interface StagedRow {
  op: 'U' | 'D';
  values: Tuple;
  lsn: Lsn;
  /**
   * The identity of the stored row that holds this image's unchanged TOAST values: set
   * when the key changed (the values live under the old key, which this chunk deletes).
   */
  fillFrom?: Tuple;
}

export interface ChangeCounts {
  inserts: number;
  updates: number;
  deletes: number;
}

export class KeyedChunk {
  readonly #rows = new Map<string, StagedRow>();
  readonly counts: ChangeCounts = { inserts: 0, updates: 0, deletes: 0 };

  constructor(readonly table: TargetTable) {}

  get size(): number {
    return this.#rows.size;
  }

  add(change: RowChange): void {
    const keyOf = (tuple: Tuple) => keyString(tuple, this.table.keyIndexes);
    if (change.op === 'delete') {
      this.counts.deletes++;
      const identity = change.key ?? change.old;
      if (!identity) throw new Error(`delete on ${this.table.sourceTable} without key`);
      this.#rows.set(keyOf(identity), { op: 'D', values: identity, lsn: change.lsn });
      return;
    }
    if (change.op === 'insert') this.counts.inserts++;
    else this.counts.updates++;
    const oldIdentity = change.op === 'update' ? (change.key ?? change.old) : undefined;
    let image = this.#withKnownKey(change.new, oldIdentity);
    const newKey = keyOf(image);
    let previous = this.#rows.get(newKey);
    let fillFrom: Tuple | undefined;
    if (oldIdentity) {
      const oldKey = keyOf(oldIdentity);
      if (oldKey !== newKey) {
        previous = this.#rows.get(oldKey);
        fillFrom = previous?.fillFrom ?? oldIdentity;
        this.#rows.set(oldKey, { op: 'D', values: oldIdentity, lsn: change.lsn });
      }
    }
    if (image.includes(UNCHANGED_TOAST) && previous?.op === 'U') {
      const earlier = previous.values;
      image = image.map((value, i) => (value === UNCHANGED_TOAST ? (earlier[i] ?? value) : value));
      if (!oldIdentity || keyOf(oldIdentity) === newKey) fillFrom = previous.fillFrom;
    }
    const row: StagedRow = { op: 'U', values: image, lsn: change.lsn };
    if (fillFrom && image.includes(UNCHANGED_TOAST)) row.fillFrom = fillFrom;
    // delete + set keeps a re-inserted key after later keys: order between keys does not matter, but it reads naturally.
    this.#rows.delete(newKey);
    this.#rows.set(newKey, row);
  }

  /** The row image with its unchanged-TOAST key values taken from the old key. */
  #withKnownKey(image: Tuple, oldIdentity: Tuple | undefined): Tuple {
    if (!this.table.keyIndexes.some((i) => image[i] === UNCHANGED_TOAST)) return image;
    const known = image.map((value, i) =>
      value === UNCHANGED_TOAST && this.table.keyIndexes.includes(i) && oldIdentity ? oldIdentity[i]! : value,
    );
    if (this.table.keyIndexes.some((i) => known[i] === UNCHANGED_TOAST)) {
      throw new TableFailure(
        this.table.sourceSchema,
        this.table.sourceTable,
        `An update of ${this.table.sourceSchema}.${this.table.sourceTable} left its out-of-line key unchanged and the source sent no old key to read it from.`,
        'Resync the table (POST /v1/resync) to copy its rows again.',
      );
    }
    return known;
  }

  rows(): IterableIterator<StagedRow> {
    return this.#rows.values();
  }
}

/**
 * A key's values as one string, equal exactly when the values are (latin1 maps each byte to one
 * character). Runs for every change: a one-column key, the common case, is its bytes behind a tag.
 */
export function keyString(tuple: Tuple, keyIndexes: readonly number[]): string {
  if (keyIndexes.length === 1) return keyPart(tuple[keyIndexes[0]!]!);
  return JSON.stringify(keyIndexes.map((i) => keyPart(tuple[i]!)));
}

function keyPart(value: ColumnValue): string {
  return value === null ? 'n' : value === UNCHANGED_TOAST ? 't' : 'v' + value.toString('latin1');
}

/** Changes of a table without a key, in commit order. */
export class OrderedChunk {
  readonly changes: RowChange[] = [];
  readonly counts: ChangeCounts = { inserts: 0, updates: 0, deletes: 0 };

  constructor(readonly table: TargetTable) {}

  get size(): number {
    return this.changes.length;
  }

  add(change: RowChange): void {
    if (change.op === 'insert') this.counts.inserts++;
    else if (change.op === 'update') this.counts.updates++;
    else this.counts.deletes++;
    this.changes.push(change);
  }
}

export type TableChunk = KeyedChunk | OrderedChunk;

export function newChunk(table: TargetTable): TableChunk {
  return table.keyIndexes.length > 0 ? new KeyedChunk(table) : new OrderedChunk(table);
}

/** Indexes of the columns that hold an unchanged-TOAST marker in any staged row. */
export function unchangedColumns(rows: Iterable<StagedRow>): number[] {
  const found = new Set<number>();
  for (const row of rows) {
    if (row.op !== 'U') continue;
    row.values.forEach((value, i) => {
      if (value === UNCHANGED_TOAST) found.add(i);
    });
  }
  return [...found].sort((a, b) => a - b);
}
