/**
 * What the verifier compares for one table: which source column each replica column holds
 * (by attnum, from elt.table_columns, never by name), and the key that orders the chunks (the
 * source's primary key, else its replica identity index; none for a table without either).
 * The replica's metadata columns (_synced_at, _lsn, _deleted) are never part of it, nor are
 * columns masked by ELT_MASK_COLUMNS (elt.tables.column_policy); excluded ones are not held.
 */
import type { ClientBase } from 'pg';
import { METADATA_COLUMNS } from '../schema/metadata-columns.js';
import { readRecordedColumnTypes, readVerifiedTable } from '../state/replica-columns.js';

export interface PlanColumn {
  attnum: number;
  /** The column's name in the source. */
  source: string;
  /** Its name in the replica table. */
  replica: string;
  sourceType: string;
  replicaType: string;
}

export interface TablePlan {
  schema: string;
  table: string;
  targetSchema: string;
  targetTable: string;
  /** A partitioned source table is read whole (its partitions), any other with ONLY. */
  partitioned: boolean;
  /** The compared columns, in attnum order. */
  columns: PlanColumn[];
  /** The key columns, in key order; empty when the table has no key (compared as a whole). */
  key: PlanColumn[];
}

/** The table cannot be verified now (it is not streaming, or the source table changed): why. */
export class NotVerifiable extends Error {
  override readonly name = 'NotVerifiable';
}

/** Read the plan: the control schema on the destination, the catalog on the source (inside the caller's snapshot). */
export async function readTablePlan(
  source: ClientBase,
  dest: ClientBase,
  slot: string,
  schema: string,
  table: string,
): Promise<TablePlan> {
  const row = await readVerifiedTable(dest, slot, schema, table);
  if (!row) throw new NotVerifiable(`${schema}.${table} is not replicated by slot ${slot}`);
  if (row.state !== 'streaming') throw new NotVerifiable(`${schema}.${table} is ${row.state}, not streaming`);
  const recorded = await readRecordedColumnTypes(dest, slot, schema, table, row.targetSchema, row.targetTable);
  const { rows: sourceColumns } = await source.query<{
    oid: string;
    kind: string;
    attnum: number;
    name: string;
    type: string;
    key: number[] | null;
  }>(
    `SELECT c.oid::bigint::text AS oid, c.relkind AS kind, a.attnum, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       (SELECT i.indkey::int2[] FROM pg_index i WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident)
        ORDER BY i.indisprimary DESC LIMIT 1) AS key
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE n.nspname = $1 AND c.relname = $2 ORDER BY a.attnum`,
    [schema, table],
  );
  const first = sourceColumns[0];
  if (!first || (row.oid !== null && first.oid !== row.oid))
    throw new NotVerifiable(`the source table ${schema}.${table} was dropped or replaced`);
  // A masked column differs from its source by design (ELT_MASK_COLUMNS): it is not compared; a
  // table whose key is masked is compared as a whole, by its other columns.
  return buildPlan(
    { schema, table, targetSchema: row.targetSchema, targetTable: row.targetTable, partitioned: first.kind === 'p' },
    recorded.filter((r) => !row.masked.includes(r.attnum)),
    sourceColumns,
  );
}

/** Pair the recorded replica columns with the source's by attnum (pure). */
export function buildPlan(
  names: Omit<TablePlan, 'columns' | 'key'>,
  recorded: { attnum: number; name: string; type: string | null }[],
  sourceColumns: { attnum: number; name: string; type: string; key: number[] | null }[],
): TablePlan {
  const byAttnum = new Map(sourceColumns.map((c) => [c.attnum, c]));
  const columns: PlanColumn[] = [];
  for (const r of recorded) {
    const s = byAttnum.get(r.attnum);
    if (!s || r.type === null || (METADATA_COLUMNS as readonly string[]).includes(r.name)) continue;
    columns.push({ attnum: r.attnum, source: s.name, replica: r.name, sourceType: s.type, replicaType: r.type });
  }
  if (columns.length === 0) throw new NotVerifiable(`${names.schema}.${names.table} has no column the replica holds`);
  const keyAttnums = sourceColumns[0]?.key ?? [];
  const key = keyAttnums.map((attnum) => columns.find((c) => c.attnum === attnum));
  const whole = key.length > 0 && key.every((c) => c !== undefined);
  return { ...names, columns, key: whole ? key.filter((c): c is PlanColumn => c !== undefined) : [] };
}
