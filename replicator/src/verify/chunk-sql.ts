/**
 * The SQL the verifier runs on each side (pure): a row's identity and hash, key ranges,
 * and lists of identities passed as one JSON parameter.
 *
 * A row's hash is md5 of the row of its compared columns as text, as each server prints it
 * (the sessions pin DateStyle, TimeZone, extra_float_digits, bytea_output), so a value the
 * replica holds differently from the source shows. A row's identity is its key as text, or,
 * in a table without a key, its hash. A chunk's checksum is the count and the sum of the
 * first 64 bits of its rows' hashes: order does not matter.
 */
import { ident, qualified } from '../sql.js';
import type { PlanColumn, TablePlan } from './table-plan.js';

export type Side = 'source' | 'replica';

const name = (c: PlanColumn, side: Side) => ident(side === 'source' ? c.source : c.replica);
const type = (c: PlanColumn, side: Side) => (side === 'source' ? c.sourceType : c.replicaType);

export function relation(plan: TablePlan, side: Side): string {
  if (side === 'replica') return qualified(plan.targetSchema, plan.targetTable);
  return `${plan.partitioned ? '' : 'ONLY '}${qualified(plan.schema, plan.table)}`;
}

export function rowHash(plan: TablePlan, side: Side): string {
  return `md5(ROW(${plan.columns.map((c) => name(c, side)).join(', ')})::text)`;
}

/** The row's identity as text[]: its key, or its hash when the table has none. */
export function identity(plan: TablePlan, side: Side): string {
  if (plan.key.length === 0) return `ARRAY[${rowHash(plan, side)}]`;
  return `ARRAY[${plan.key.map((c) => `${name(c, side)}::text`).join(', ')}]`;
}

export function keyOrder(plan: TablePlan, side: Side): string {
  return plan.key.map((c) => name(c, side)).join(', ');
}

function keyRow(plan: TablePlan, side: Side): string {
  return `ROW(${keyOrder(plan, side)})`;
}

/** The key given as text[] in parameter $n, cast back to the side's types. */
function keyParam(plan: TablePlan, side: Side, n: number): string {
  return `ROW(${plan.key.map((c, i) => `($${n}::text[])[${i + 1}]::${type(c, side)}`).join(', ')})`;
}

/** Rows with key > $lo (when lo) and <= $hi (when hi); parameters numbered from `first`. */
export function keyRange(plan: TablePlan, side: Side, bounds: { lo: boolean; hi: boolean }, first: number): string {
  const parts: string[] = [];
  let n = first;
  if (bounds.lo) parts.push(`${keyRow(plan, side)} > ${keyParam(plan, side, n++)}`);
  if (bounds.hi) parts.push(`${keyRow(plan, side)} <= ${keyParam(plan, side, n)}`);
  return parts.length === 0 ? 'true' : parts.join(' AND ');
}

/** The row's identity is one of those in parameter $n (a JSON array of text arrays). */
export function identityIn(plan: TablePlan, side: Side, n: number): string {
  if (plan.key.length === 0)
    return `${rowHash(plan, side)} IN (SELECT x->>0 FROM jsonb_array_elements($${n}::jsonb) x)`;
  const casts = plan.key.map((c, i) => `(x->>${i})::${type(c, side)}`).join(', ');
  return `${keyRow(plan, side)} IN (SELECT ${casts} FROM jsonb_array_elements($${n}::jsonb) x)`;
}

/** count and sum of the rows' 64-bit hash prefixes, as text, over `from`. */
export function checksumOf(hashes: string): string {
  return `SELECT count(*)::text AS n, coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0)::text AS s FROM (${hashes}) r`;
}

/** A source row's version: which table and tuple holds it, and the transaction that wrote it. */
export const SOURCE_VERSION = `tableoid::oid::text || ':' || ctid::text || ':' || xmin::text`;

/** A replica row is present unless soft-deleted; it changed since the point at LSN $n when its _lsn is at or past it. */
export const REPLICA_PRESENT = 'NOT _deleted';
export const replicaUnchanged = (n: number) => `coalesce(_lsn < $${n}::pg_lsn, true)`;
export const replicaChanged = (n: number) => `coalesce(_lsn >= $${n}::pg_lsn, false)`;
