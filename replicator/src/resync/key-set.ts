/**
 * A repair's keys: the rows a resync copies again instead of the whole table (pure).
 *
 * The job names its keys by source column and gives each key's values as the source prints
 * them (as `elt verify` reports them). The copy reads those keys at its snapshot point L; the
 * changes held aside since L are replayed onto the copy; then the replica's rows of the keys
 * are replaced by the copy's. An update that moves a row's key while the copy waits is
 * followed: a row moved out of the set to a new key takes the new key into the set (the copy
 * holds that row exactly); a row moved into the set from a key outside it takes its key out
 * (the copy never held the row it came from, so the stream's row stays, as it is for the
 * rest of the table).
 */
import type { DeltaChange } from '../apply/apply-hooks.js';
import type { TargetTable } from '../schema/mapping.js';
import { UNCHANGED_TOAST, type Tuple } from '../source/pgoutput.js';
import { ident } from '../sql.js';
import type { RepairKeys } from '../state/resync-jobs.js';

/**
 * The keys in the order of the table's identity key columns, as JSON text arrays; null when the
 * table's identity is not those columns (no key, or another one): then the whole table is copied.
 */
export function keysInTableOrder(table: TargetTable, keys: RepairKeys): Set<string> | null {
  const names = table.keyIndexes.map((i) => table.columns[i]!.name);
  if (names.length === 0 || names.length !== keys.columns.length) return null;
  const positions = names.map((n) => keys.columns.indexOf(n));
  if (positions.some((p) => p < 0)) return null;
  return new Set(keys.values.map((v) => JSON.stringify(positions.map((p) => v[p]!))));
}

/** The key of a tuple as JSON text (the identity columns' text), or null when it is not known. */
function keyOf(table: TargetTable, tuple: Tuple): string | null {
  const values: string[] = [];
  for (const i of table.keyIndexes) {
    const value = tuple[i];
    if (value === undefined || value === null || value === UNCHANGED_TOAST) return null;
    values.push(value.toString('utf8'));
  }
  return JSON.stringify(values);
}

/** Follow one replayed change's key moves in `keys` (see the file comment). */
export function followKeyMove(table: TargetTable, keys: Set<string>, change: DeltaChange): void {
  if (change.op !== 'update') return;
  const identity = change.key ?? change.old;
  const before = identity ? keyOf(table, identity) : null;
  const known = change.new.map((v, i) => (v === UNCHANGED_TOAST && identity ? identity[i]! : v));
  const after = keyOf(table, known);
  if (before === null || after === null || before === after) return;
  if (keys.has(before)) keys.add(after);
  else keys.delete(after);
}

/**
 * `alias`'s key is one of the keys in `json` (SQL giving a JSON array of text arrays in identity
 * key order: a parameter or a literal), cast to `types` (by column; the table's own by default).
 */
export function keyIn(table: TargetTable, alias: string, json: string, types: string[] = []): string {
  const columns = table.keyIndexes.map((i) => `${alias}.${ident(table.columns[i]!.name)}`);
  const casts = table.keyIndexes.map((i, j) => `(x->>${j})::${types[i] ?? table.columns[i]!.type}`);
  return `(${columns.join(', ')}) IN (SELECT ${casts.join(', ')} FROM jsonb_array_elements(${json}::jsonb) x)`;
}

/** The keys as the JSON parameter keyIn reads. */
export function keysParam(keys: Set<string>): string {
  return `[${[...keys].join(',')}]`;
}
