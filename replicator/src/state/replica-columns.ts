/**
 * What the replica knows of each source table's identity, kept in the control schema and
 * written in the transaction that changes the replica table: the relation OID, which source
 * column (attnum, never reused) each replica column holds, the highest attnum seen, and the
 * table's storage (relfilenodes: a change says the table was rewritten).
 *
 * Names and positions are not identity: two renames, a swap of names, a drop and re-add, a
 * table dropped and created again all look alike by name. Attnums and OIDs do not.
 */
import type pg from 'pg';
import { qualified } from '../sql.js';

/** A connection, or the apply transaction. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
}

export interface RecordedColumn {
  attnum: number;
  /** The column's name in the replica (the source's name when it was last followed). */
  name: string;
}

export interface TableIdentity {
  schema: string;
  table: string;
  /** The source relation's OID. */
  oid: number;
  /** The source table's relfilenodes when recorded; null when unknown. */
  storage?: string | null;
  /** The highest attnum of the source table when recorded (pg_class.relnatts); null when unknown. */
  natts?: number | null;
  columns: RecordedColumn[];
}

/**
 * Record which source columns the replica table holds (after a snapshot, a resync's copy or
 * a followed schema change). The table's row in elt.tables must exist.
 */
export async function recordReplicaColumns(db: Queryable, slot: string, identity: TableIdentity): Promise<void> {
  const { schema, table } = identity;
  await db.query(
    `UPDATE elt.tables SET source_oid = $4, source_storage = $5, source_natts = $6
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3`,
    [slot, schema, table, identity.oid, identity.storage ?? null, identity.natts ?? null],
  );
  await db.query('DELETE FROM elt.table_columns WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3', [
    slot,
    schema,
    table,
  ]);
  await db.query(
    `INSERT INTO elt.table_columns (slot_name, source_schema, source_table, attnum, column_name)
     SELECT $1, $2, $3, c.attnum, c.name FROM unnest($4::smallint[], $5::text[]) AS c(attnum, name)`,
    [slot, schema, table, identity.columns.map((c) => c.attnum), identity.columns.map((c) => c.name)],
  );
}

/**
 * Record what a copy taken by name holds (a resync's swap), refusing it when the replica table
 * now holds another source table (replaced or renamed on the source while it was copied): its
 * rows must not land there.
 */
export async function recordCopiedColumns(db: Queryable, slot: string, identity: TableIdentity): Promise<void> {
  const { rows } = await db.query(
    'SELECT source_oid::bigint AS oid FROM elt.tables WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3',
    [slot, identity.schema, identity.table],
  );
  const held = rows[0]?.oid as string | null | undefined;
  if (held != null && Number(held) !== identity.oid) {
    throw new Error(
      `${identity.schema}.${identity.table} was replaced on the source while it was copied (OID ${identity.oid}, the replica follows ${held}): the copy is not swapped in`,
    );
  }
  await recordReplicaColumns(db, slot, identity);
}

/** The recorded identity of a table, or null when elt.tables has no row for it. `oid` is null when never recorded. */
export async function readRecordedTable(
  db: Queryable,
  slot: string,
  schema: string,
  table: string,
): Promise<(Omit<TableIdentity, 'oid'> & { oid: number | null }) | null> {
  const { rows } = await db.query(
    `SELECT t.source_oid::bigint AS oid, t.source_storage AS storage, t.source_natts AS natts,
       coalesce((SELECT json_agg(json_build_object('attnum', c.attnum, 'name', c.column_name) ORDER BY c.attnum) FROM elt.table_columns c
                 WHERE c.slot_name = t.slot_name AND c.source_schema = t.source_schema AND c.source_table = t.source_table), '[]') AS columns
     FROM elt.tables t WHERE t.slot_name = $1 AND t.source_schema = $2 AND t.source_table = $3`,
    [slot, schema, table],
  );
  const row = rows[0] as
    { oid: string | null; storage: string | null; natts: number | null; columns: RecordedColumn[] } | undefined;
  if (!row) return null;
  return {
    schema,
    table,
    oid: row.oid === null ? null : Number(row.oid),
    storage: row.storage,
    natts: row.natts,
    columns: row.columns,
  };
}

/** What verification needs of a table's row: its state, replica, recorded OID and the attnums of its masked columns. */
export interface VerifiedTable {
  state: string;
  targetSchema: string;
  targetTable: string;
  /** The recorded source OID as text; null when never recorded. */
  oid: string | null;
  /** Columns whose policy is not `exclude` (so a mask): their replica differs from the source by design. */
  masked: number[];
}

export async function readVerifiedTable(
  db: Queryable,
  slot: string,
  schema: string,
  table: string,
): Promise<VerifiedTable | null> {
  const { rows } = await db.query(
    `SELECT state, target_schema AS "targetSchema", target_table AS "targetTable", source_oid::bigint::text AS oid,
       ARRAY(SELECT (e->>'attnum')::int FROM jsonb_array_elements(column_policy) e WHERE e->>'policy' <> 'exclude') AS masked
     FROM elt.tables
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3`,
    [slot, schema, table],
  );
  return (rows[0] as VerifiedTable | undefined) ?? null;
}

/** The recorded columns of a table with their type in its replica (null when the replica lacks the column). */
export async function readRecordedColumnTypes(
  db: Queryable,
  slot: string,
  schema: string,
  table: string,
  targetSchema: string,
  targetTable: string,
): Promise<{ attnum: number; name: string; type: string | null }[]> {
  const { rows } = await db.query(
    `SELECT c.attnum, c.column_name AS name, format_type(a.atttypid, a.atttypmod) AS type
     FROM elt.table_columns c
     LEFT JOIN pg_attribute a ON a.attrelid = to_regclass($4) AND a.attname = c.column_name AND NOT a.attisdropped
     WHERE c.slot_name = $1 AND c.source_schema = $2 AND c.source_table = $3 ORDER BY c.attnum`,
    [slot, schema, table, qualified(targetSchema, targetTable)],
  );
  return rows as { attnum: number; name: string; type: string | null }[];
}

/** The name under which a source relation OID is recorded, if any. */
export async function findRecordedOid(
  db: Queryable,
  slot: string,
  schema: string,
  oid: number,
): Promise<string | null> {
  const { rows } = await db.query(
    'SELECT source_table FROM elt.tables WHERE slot_name = $1 AND source_schema = $2 AND source_oid = $3',
    [slot, schema, oid],
  );
  return (rows[0]?.source_table as string | undefined) ?? null;
}

/**
 * Where else (another source schema) a source relation OID is recorded by a row that follows it:
 * one that streams or stopped in error, or is marked gone. Not a row excluded for another reason
 * (left out by the selection, say), nor one being copied: their table is a new one here.
 */
export async function findRecordedOidElsewhere(
  db: Queryable,
  slot: string,
  schema: string,
  oid: number,
): Promise<RecordedElsewhere | null> {
  const { rows } = await db.query(
    `SELECT source_schema AS schema, source_table AS table, target_schema AS "targetSchema", source_gone_at IS NOT NULL AS gone
     FROM elt.tables WHERE slot_name = $1 AND source_schema <> $2 AND source_oid = $3
       AND (state IN ('streaming', 'error') OR source_gone_at IS NOT NULL)
     ORDER BY source_gone_at NULLS FIRST LIMIT 1`,
    [slot, schema, oid],
  );
  return (rows[0] as RecordedElsewhere | undefined) ?? null;
}

export interface RecordedElsewhere {
  schema: string;
  table: string;
  targetSchema: string;
  /** Marked gone (../schema/gone-tables.ts): every change made before the move is applied. */
  gone: boolean;
}

/**
 * The source moved a table to another schema (ALTER TABLE … SET SCHEMA): its control rows follow
 * (its columns cascade). A row marked gone (../schema/gone-tables.ts: every change made before the
 * move was applied, none since) streams again.
 */
export async function moveRecordedTable(
  db: Queryable,
  slot: string,
  from: { schema: string; table: string },
  to: { schema: string; table: string; targetSchema: string },
): Promise<void> {
  await db.query(
    `UPDATE elt.tables SET source_schema = $4, source_table = $5, target_schema = $6, target_table = $5,
       state = CASE WHEN source_gone_at IS NULL THEN state ELSE 'streaming' END,
       last_error = CASE WHEN source_gone_at IS NULL THEN last_error END,
       last_error_at = CASE WHEN source_gone_at IS NULL THEN last_error_at END,
       source_gone_at = NULL
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3`,
    [slot, from.schema, from.table, to.schema, to.table, to.targetSchema],
  );
}

/** The source renamed a table: its control rows follow (its columns cascade). */
export async function renameRecordedTable(
  db: Queryable,
  slot: string,
  schema: string,
  from: string,
  to: string,
): Promise<void> {
  await db.query(
    'UPDATE elt.tables SET source_table = $4, target_table = $4 WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3',
    [slot, schema, from, to],
  );
}

/** The source table is gone (dropped, or replaced by another under its name): its control rows go (its columns cascade). */
export async function forgetRecordedTable(db: Queryable, slot: string, schema: string, table: string): Promise<void> {
  await db.query('DELETE FROM elt.tables WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3', [
    slot,
    schema,
    table,
  ]);
}

/**
 * Forget which source table and columns the replica holds, keeping the table's row: its replica
 * (kept from before, or none) is copied again and the copy records what it holds.
 */
export async function clearRecordedIdentity(db: Queryable, slot: string, schema: string, table: string): Promise<void> {
  await db.query(
    `UPDATE elt.tables SET source_oid = NULL, source_storage = NULL, source_natts = NULL
     WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3`,
    [slot, schema, table],
  );
  await db.query('DELETE FROM elt.table_columns WHERE slot_name = $1 AND source_schema = $2 AND source_table = $3', [
    slot,
    schema,
    table,
  ]);
}
