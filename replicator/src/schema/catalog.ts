/**
 * What the source's catalog says about the published tables: their columns (by attnum),
 * the types those columns use (and the types those types use), the indexes on them, and
 * which objects belong to an extension. Read inside the caller's transaction, so that the
 * snapshot reads the catalog exactly at its exported snapshot.
 *
 * Nothing here guesses from text: a type is a user's when its namespace is a replicated
 * schema and pg_depend does not make it an extension member; an index belongs to a table
 * because pg_index says so. Expressions (generated columns, index expressions and
 * predicates) are printed by the server with `pg_catalog, <replicated schemas>` on the search_path, and
 * carry the list of non-built-in objects they depend on (pg_depend), so the plan can tell an
 * extension's function from one the replica does not have.
 */
import type { ClientBase } from 'pg';
import { ident } from '../sql.js';

export interface CatalogColumn {
  attnum: number;
  name: string;
  typeOid: number;
  /** format_type(type, typmod) with only pg_catalog on the search_path: qualified where not built in. */
  typeText: string;
  /**
   * The type (an array's element type too) has binary send and receive functions and is not a
   * composite (a record's binary form carries its fields' type OIDs, and fields of types
   * binary cannot carry): binary COPY can carry it.
   */
  binaryIo: boolean;
  /** The column's collation where it differs from its type's, as `schema.name`. */
  collation: CatalogObjectRef | null;
  /** 's' for a stored generated column, '' otherwise. */
  generated: '' | 's';
  /** The generation expression, printed with the replicated schemas on the search_path. */
  generationExpr: string | null;
  /** Objects outside pg_catalog the generation expression uses. */
  generationDeps: CatalogDependency[];
  comment: string | null;
}

export interface CatalogObjectRef {
  oid: number;
  schema: string;
  name: string;
}

/** An object an expression depends on, outside pg_catalog. */
export interface CatalogDependency {
  /** pg_proc, pg_type, pg_operator, pg_collation, pg_class… */
  catalog: string;
  schema: string;
  name: string;
  /** The extension it belongs to, if any. */
  extension: string | null;
}

export interface CatalogIndexColumn {
  /** The table column's attnum; 0 for an expression. */
  attnum: number;
  /** A column name (quoted) or an expression, as pg_get_indexdef prints it. */
  definition: string;
  /** The operator class, as `schema.name`, when it is not the default for the column's type. */
  opclass: { schema: string; name: string; extension: string | null } | null;
  collation: CatalogObjectRef | null;
  descending: boolean;
  nullsFirst: boolean;
}

export interface CatalogIndex {
  oid: number;
  name: string;
  unique: boolean;
  primary: boolean;
  /** The index of REPLICA IDENTITY USING INDEX. */
  replicaIdentity: boolean;
  /** Backs an exclusion constraint. */
  exclusion: boolean;
  method: string;
  keyColumns: CatalogIndexColumn[];
  /** INCLUDE columns (names). */
  includeColumns: string[];
  predicate: string | null;
  /** Objects outside pg_catalog its expressions and predicate use (the table itself excluded). */
  deps: CatalogDependency[];
  /** The constraint it backs (primary key, unique, exclusion), if any. */
  constraintName: string | null;
}

export interface CatalogTable {
  oid: number;
  schema: string;
  name: string;
  /** r = table, p = partitioned table */
  kind: 'r' | 'p';
  replicaIdentity: 'd' | 'i' | 'f' | 'n';
  columns: CatalogColumn[];
  indexes: CatalogIndex[];
  comment: string | null;
}

/** The index that identifies rows: the primary key (REPLICA IDENTITY DEFAULT) or the identity index. */
export function identityIndexOf(table: CatalogTable): CatalogIndex | null {
  if (table.replicaIdentity === 'd') return table.indexes.find((i) => i.primary) ?? null;
  if (table.replicaIdentity === 'i') return table.indexes.find((i) => i.replicaIdentity) ?? null;
  return null;
}

export interface CatalogType {
  oid: number;
  schema: string;
  name: string;
  /** b base, c composite, d domain, e enum, r range, m multirange, p pseudo */
  typtype: string;
  /** For an array type, its element type; 0 otherwise. */
  elementOid: number;
  extension: string | null;
  /** For a composite: the relkind of its relation (c = a standalone composite type, r/p/v… = a row type). */
  relkind: string | null;
  /** format_type(oid, NULL) with only pg_catalog on the search_path. */
  printed: string;
  enumLabels: string[];
  /** Domain base type, composite attributes and range subtype, each as a typed reference. */
  domainBase: TypeUse | null;
  attributes: (TypeUse & { name: string })[];
  rangeSubtype: TypeUse | null;
  /** The range's subtype operator class when it is not the default one. */
  rangeOpclass: { schema: string; name: string } | null;
  multirangeName: string | null;
  /** For a multirange: its range type. */
  rangeOfMultirange: number;
}

export interface TypeUse {
  typeOid: number;
  /** format_type with the typmod, only pg_catalog on the search_path. */
  typeText: string;
  collation: CatalogObjectRef | null;
}

export interface CatalogCollation extends CatalogObjectRef {
  extension: string | null;
  provider: string;
  collate: string;
  ctype: string;
  iculocale: string | null;
  deterministic: boolean;
}

export interface SourceCatalog {
  tables: CatalogTable[];
  types: Map<number, CatalogType>;
  collations: Map<number, CatalogCollation>;
}

/**
 * Read the catalog for the tables (by OID), with `schemas` (the replicated ones) on the
 * search_path while expressions are printed. Runs in the caller's transaction and leaves
 * its search_path as it found it.
 */
export async function readCatalog(db: ClientBase, tableOids: number[], schemas: string[]): Promise<SourceCatalog> {
  await db.query(`SELECT set_config('search_path', $1, true)`, ['pg_catalog']);
  const tables = await readTables(db, tableOids);
  const columnRows = await readColumns(db, tableOids);
  await db.query(`SELECT set_config('search_path', $1, true)`, [['pg_catalog', ...schemas.map(ident)].join(', ')]);
  const expressions = await readGenerationExpressions(db, tableOids);
  const indexes = await readIndexes(db, tableOids);
  await db.query(`SELECT set_config('search_path', $1, true)`, ['pg_catalog']);
  for (const table of tables) {
    table.columns = columnRows
      .filter((c) => c.tableOid === table.oid)
      .map(({ tableOid: _tableOid, ...column }) => ({
        ...column,
        ...(expressions.get(`${table.oid}:${column.attnum}`) ?? { generationExpr: null, generationDeps: [] }),
      }));
    table.indexes = indexes.filter((i) => i.tableOid === table.oid).map(({ tableOid: _tableOid, ...index }) => index);
  }
  const types = await readTypes(
    db,
    columnRows.map((c) => c.typeOid),
  );
  const collationOids = [
    ...columnRows.flatMap((c) => (c.collation ? [c.collation.oid] : [])),
    ...[...types.values()].flatMap((t) =>
      [t.domainBase, ...t.attributes, t.rangeSubtype].flatMap((u) => (u?.collation ? [u.collation.oid] : [])),
    ),
    ...indexes.flatMap((i) => i.keyColumns.flatMap((k) => (k.collation ? [k.collation.oid] : []))),
  ];
  const collations = await readCollations(db, collationOids);
  await db.query(`SELECT set_config('search_path', $1, true)`, ['pg_catalog']);
  return { tables, types, collations };
}

async function readTables(db: ClientBase, oids: number[]): Promise<CatalogTable[]> {
  const { rows } = await db.query<{
    oid: number;
    schema: string;
    name: string;
    kind: 'r' | 'p';
    identity: CatalogTable['replicaIdentity'];
    comment: string | null;
  }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind, c.relreplident AS identity,
       obj_description(c.oid, 'pg_class') AS comment
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = ANY($1::oid[]) ORDER BY n.nspname, c.relname`,
    [oids],
  );
  return rows.map((r) => ({
    oid: r.oid,
    schema: r.schema,
    name: r.name,
    kind: r.kind,
    replicaIdentity: r.identity,
    columns: [],
    indexes: [],
    comment: r.comment,
  }));
}

const COLLATION_REF = (oid: string) =>
  `(SELECT json_build_object('oid', co.oid::int, 'schema', cn.nspname, 'name', co.collname)
     FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ${oid})`;

async function readColumns(
  db: ClientBase,
  oids: number[],
): Promise<(Omit<CatalogColumn, 'generationExpr' | 'generationDeps'> & { tableOid: number })[]> {
  const { rows } = await db.query(
    `SELECT a.attrelid::int AS "tableOid", a.attnum::int AS attnum, a.attname AS name, a.atttypid::int AS "typeOid",
       format_type(a.atttypid, a.atttypmod) AS "typeText", a.attgenerated AS generated,
       t.typsend::oid <> 0 AND t.typreceive::oid <> 0 AND t.typtype <> 'c'
         AND coalesce((SELECT e.typsend::oid <> 0 AND e.typreceive::oid <> 0 AND e.typtype <> 'c'
                       FROM pg_type e WHERE e.oid = t.typelem), true) AS "binaryIo",
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN ${COLLATION_REF('a.attcollation')} END AS collation,
       col_description(a.attrelid, a.attnum) AS comment
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  return rows;
}

/** Non-pg_catalog objects an object (classid, objid) depends on, as a JSON array, for the queries below. */
const DEPENDENCIES = (classid: string, objid: string, exceptRelation: string) => `
  coalesce((SELECT json_agg(json_build_object('catalog', dep.refclassid::regclass::text, 'schema', o.schema, 'name', o.name,
      'extension', (SELECT e.extname FROM pg_depend x JOIN pg_extension e ON e.oid = x.refobjid
                    WHERE x.classid = dep.refclassid AND x.objid = dep.refobjid AND x.refclassid = 'pg_extension'::regclass AND x.deptype = 'e')))
    FROM pg_depend dep
    CROSS JOIN LATERAL (SELECT n.nspname AS schema, coalesce(p.proname, ty.typname, op.oprname, co.collname, rc.relname, oc.opcname) AS name
      FROM pg_namespace n
      LEFT JOIN pg_proc p ON dep.refclassid = 'pg_proc'::regclass AND p.oid = dep.refobjid
      LEFT JOIN pg_type ty ON dep.refclassid = 'pg_type'::regclass AND ty.oid = dep.refobjid
      LEFT JOIN pg_operator op ON dep.refclassid = 'pg_operator'::regclass AND op.oid = dep.refobjid
      LEFT JOIN pg_collation co ON dep.refclassid = 'pg_collation'::regclass AND co.oid = dep.refobjid
      LEFT JOIN pg_class rc ON dep.refclassid = 'pg_class'::regclass AND rc.oid = dep.refobjid
      LEFT JOIN pg_opclass oc ON dep.refclassid = 'pg_opclass'::regclass AND oc.oid = dep.refobjid
      WHERE n.oid = coalesce(p.pronamespace, ty.typnamespace, op.oprnamespace, co.collnamespace, rc.relnamespace, oc.opcnamespace)) o
    WHERE dep.classid = ${classid} AND dep.objid = ${objid} AND dep.deptype = 'n'
      AND NOT (dep.refclassid = 'pg_class'::regclass AND dep.refobjid = ${exceptRelation})
      AND o.schema <> 'pg_catalog'), '[]'::json)`;

async function readGenerationExpressions(
  db: ClientBase,
  oids: number[],
): Promise<Map<string, Pick<CatalogColumn, 'generationExpr' | 'generationDeps'>>> {
  const { rows } = await db.query<{ key: string; expr: string; deps: CatalogDependency[] }>(
    `SELECT d.adrelid::int || ':' || d.adnum AS key, pg_get_expr(d.adbin, d.adrelid, true) AS expr,
       ${DEPENDENCIES("'pg_attrdef'::regclass", 'd.oid', 'd.adrelid')} AS deps
     FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
     WHERE d.adrelid = ANY($1::oid[]) AND a.attgenerated <> '' AND NOT a.attisdropped`,
    [oids],
  );
  return new Map(rows.map((r) => [r.key, { generationExpr: r.expr, generationDeps: r.deps }]));
}

async function readIndexes(db: ClientBase, oids: number[]): Promise<(CatalogIndex & { tableOid: number })[]> {
  const { rows } = await db.query(
    `SELECT x.indrelid::int AS "tableOid", x.indexrelid::int AS oid, i.relname AS name, x.indisunique AS unique,
       x.indisprimary AS primary, x.indisreplident AS "replicaIdentity", am.amname AS method,
       coalesce(con.contype = 'x', false) AS exclusion, con.conname AS "constraintName",
       (SELECT json_agg(json_build_object(
            'attnum', x.indkey[k.n - 1],
            'definition', pg_get_indexdef(x.indexrelid, k.n, true),
            'opclass', CASE WHEN NOT oc.opcdefault OR oc.opcintype <> coalesce(
                               (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = x.indrelid AND a.attnum = x.indkey[k.n - 1]), oc.opcintype)
                          THEN json_build_object('schema', ocn.nspname, 'name', oc.opcname, 'extension',
                            (SELECT e.extname FROM pg_depend dx JOIN pg_extension e ON e.oid = dx.refobjid
                             WHERE dx.classid = 'pg_opclass'::regclass AND dx.objid = oc.oid AND dx.deptype = 'e')) END,
            'collation', CASE WHEN x.indcollation[k.n - 1] NOT IN (0, 100) THEN ${COLLATION_REF('x.indcollation[k.n - 1]')} END,
            'descending', (x.indoption[k.n - 1] & 1) <> 0,
            'nullsFirst', (x.indoption[k.n - 1] & 2) <> 0) ORDER BY k.n)
          FROM generate_series(1, x.indnkeyatts) AS k(n)
          JOIN pg_opclass oc ON oc.oid = x.indclass[k.n - 1] JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace) AS "keyColumns",
       coalesce((SELECT json_agg(pg_get_indexdef(x.indexrelid, k.n, true) ORDER BY k.n)
          FROM generate_series(x.indnkeyatts + 1, x.indnatts) AS k(n)), '[]'::json) AS "includeColumns",
       pg_get_expr(x.indpred, x.indrelid, true) AS predicate,
       ${DEPENDENCIES("'pg_class'::regclass", 'x.indexrelid', 'x.indrelid')} AS deps
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
     LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u', 'x')
     WHERE x.indrelid = ANY($1::oid[]) AND x.indisvalid AND x.indislive
     ORDER BY x.indrelid, i.relname`,
    [oids],
  );
  return rows;
}

/** The types the columns use, and every type those types use (arrays, domains, composites, ranges), by OID. */
async function readTypes(db: ClientBase, rootOids: number[]): Promise<Map<number, CatalogType>> {
  const types = new Map<number, CatalogType>();
  let pending = [...new Set(rootOids)];
  while (pending.length > 0) {
    const { rows } = await db.query<CatalogType>(
      `SELECT t.oid::int AS oid, n.nspname AS schema, t.typname AS name, t.typtype,
         CASE WHEN t.typcategory = 'A' OR t.typsubscript = 'array_subscript_handler'::regproc THEN t.typelem::int ELSE 0 END AS "elementOid",
         (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
          WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') AS extension,
         (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) AS relkind,
         format_type(t.oid, NULL) AS printed,
         coalesce((SELECT array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid), '{}'::text[]) AS "enumLabels",
         CASE WHEN t.typtype = 'd' THEN json_build_object('typeOid', t.typbasetype::int, 'typeText', format_type(t.typbasetype, t.typtypmod),
           'collation', CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)
                             THEN ${COLLATION_REF('t.typcollation')} END) END AS "domainBase",
         coalesce((SELECT json_agg(json_build_object('name', a.attname, 'typeOid', a.atttypid::int, 'typeText', format_type(a.atttypid, a.atttypmod),
             'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation THEN ${COLLATION_REF('a.attcollation')} END) ORDER BY a.attnum)
           FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
           WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '[]'::json) AS attributes,
         CASE WHEN r.rngtypid IS NOT NULL THEN json_build_object('typeOid', r.rngsubtype::int, 'typeText', format_type(r.rngsubtype, NULL),
           'collation', CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> (SELECT s.typcollation FROM pg_type s WHERE s.oid = r.rngsubtype)
                             THEN ${COLLATION_REF('r.rngcollation')} END) END AS "rangeSubtype",
         CASE WHEN r.rngtypid IS NOT NULL AND NOT ro.opcdefault THEN json_build_object('schema', ron.nspname, 'name', ro.opcname) END AS "rangeOpclass",
         (SELECT m.typname FROM pg_type m WHERE m.oid = r.rngmultitypid) AS "multirangeName",
         coalesce((SELECT mr.rngtypid::int FROM pg_range mr WHERE t.typtype = 'm' AND mr.rngmultitypid = t.oid), 0) AS "rangeOfMultirange"
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
       LEFT JOIN pg_range r ON r.rngtypid = t.oid
       LEFT JOIN pg_opclass ro ON ro.oid = r.rngsubopc LEFT JOIN pg_namespace ron ON ron.oid = ro.opcnamespace
       WHERE t.oid = ANY($1::oid[])`,
      [pending],
    );
    for (const row of rows) types.set(row.oid, row);
    pending = [
      ...new Set(
        rows.flatMap((t) => [
          t.elementOid,
          t.domainBase?.typeOid ?? 0,
          ...t.attributes.map((a) => a.typeOid),
          t.rangeSubtype?.typeOid ?? 0,
          t.rangeOfMultirange,
        ]),
      ),
    ].filter((oid) => oid !== 0 && !types.has(oid));
  }
  return types;
}

async function readCollations(db: ClientBase, oids: number[]): Promise<Map<number, CatalogCollation>> {
  if (oids.length === 0) return new Map();
  const { rows } = await db.query<CatalogCollation>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.collname AS name, c.collprovider AS provider,
       c.collcollate AS collate, c.collctype AS ctype, c.colliculocale AS iculocale, c.collisdeterministic AS deterministic,
       (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
        WHERE d.classid = 'pg_collation'::regclass AND d.objid = c.oid AND d.deptype = 'e') AS extension
     FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace WHERE c.oid = ANY($1::oid[])`,
    [[...new Set(oids)]],
  );
  return new Map(rows.map((r) => [r.oid, r]));
}
