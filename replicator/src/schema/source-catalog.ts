/**
 * The source catalog's view of a table, by relation OID: its live columns with their
 * attnums, its storage and its highest attnum. Read when a Relation message arrives (the
 * catalog may have moved on since: ./column-plan.ts decides what that proves), and at the
 * snapshot point of a copy (what the copy holds).
 */
import { TEXT_TYPE_OID, type ColumnPolicy } from '../source/column-policy.js';
import { masksToText } from '../source/mask.js';
import type { Queryable, TableIdentity } from '../state/replica-columns.js';

export interface CatalogColumn {
  attnum: number;
  name: string;
  typeOid: number;
  typeMod: number;
  /** Generated columns are not sent by pgoutput (PostgreSQL 15). */
  generated: boolean;
  /** The value rows stored before the column was added read as (attmissingval), as text. */
  missing: string | null;
  hasDefault: boolean;
}

export interface CatalogTable {
  oid: number;
  /** Live columns (dropped ones left out), in attnum order. */
  columns: CatalogColumn[];
  /** Attnums of dropped columns. */
  dropped: number[];
  /** The highest attnum ever given (pg_class.relnatts). */
  natts: number;
  /** The relfilenodes of the table (its leaf partitions for a partitioned table): a rewrite changes them. */
  storage: string;
}

const TABLE_SQL = `
SELECT c.oid::bigint AS oid, c.relnatts AS natts,
  CASE WHEN c.relkind = 'p' THEN (SELECT string_agg(p.relid::oid::text || ':' || pc.relfilenode::text, ',' ORDER BY p.relid)
    FROM pg_partition_tree(c.oid) p JOIN pg_class pc ON pc.oid = p.relid WHERE p.isleaf) ELSE c.relfilenode::text END AS storage,
  coalesce((SELECT json_agg(json_build_object(
      'attnum', a.attnum, 'name', a.attname, 'typeOid', a.atttypid::bigint, 'typeMod', a.atttypmod, 'generated', a.attgenerated <> '',
      'dropped', a.attisdropped, 'missing', CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END, 'hasDefault', a.atthasdef)
    ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0), '[]') AS columns
FROM pg_class c`;

/** The table with this OID, or null when the source has no such relation (any more). */
export async function readCatalogTable(source: Queryable, oid: number): Promise<CatalogTable | null> {
  const { rows } = await source.query(`${TABLE_SQL} WHERE c.oid = $1`, [oid]);
  return rows[0] ? toCatalogTable(rows[0]) : null;
}

/** The table by name (inside a snapshot's transaction: as the snapshot sees it), or null. */
export async function readCatalogTableByName(
  source: Queryable,
  schema: string,
  table: string,
): Promise<CatalogTable | null> {
  const { rows } = await source.query(
    `${TABLE_SQL} JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, table],
  );
  return rows[0] ? toCatalogTable(rows[0]) : null;
}

/**
 * The table as the replica may hold it under the column policy, decided by the catalog's
 * current names: excluded columns left out (as if the table never had them, so adding or
 * dropping one changes nothing in the replica), a column masked to text announced as text
 * (as the filtered stream announces it), and a missing value (what the existing rows read as)
 * masked like any value.
 */
export function withColumnPolicy(
  catalog: CatalogTable,
  policy: ColumnPolicy,
  schema: string,
  table: string,
): CatalogTable {
  if (!policy.touches(schema, table)) return catalog;
  const columns = catalog.columns.flatMap((column) => {
    const decision = policy.decide(schema, table, column.name);
    if (decision.action === 'exclude') return [];
    if (decision.action === 'keep') return [column];
    const missing = column.missing === null ? null : policy.mask(decision.method, Buffer.from(column.missing));
    return [
      {
        ...column,
        ...(masksToText(decision.method) && { typeOid: TEXT_TYPE_OID, typeMod: -1 }),
        missing: missing === null ? null : missing.toString(),
      },
    ];
  });
  return { ...catalog, columns };
}

/** What a copy of these columns of the table holds, as elt.table_columns records it. */
export function copiedIdentity(
  schema: string,
  table: string,
  catalog: CatalogTable,
  copiedNames: string[],
): TableIdentity {
  return {
    schema,
    table,
    oid: catalog.oid,
    storage: catalog.storage,
    natts: catalog.natts,
    columns: catalog.columns
      .filter((c) => !c.generated && copiedNames.includes(c.name))
      .map((c) => ({ attnum: c.attnum, name: c.name })),
  };
}

function toCatalogTable(row: {
  oid: string;
  natts: number;
  storage: string | null;
  columns: (CatalogColumn & { dropped: boolean })[];
}): CatalogTable {
  const live = row.columns.filter((c) => !c.dropped);
  return {
    oid: Number(row.oid),
    columns: live.map(({ dropped: _dropped, ...c }) => c),
    dropped: row.columns.filter((c) => c.dropped).map((c) => c.attnum),
    natts: row.natts,
    storage: row.storage ?? '',
  };
}
