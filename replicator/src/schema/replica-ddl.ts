/**
 * The replica's DDL, planned from the source catalog (./catalog.ts). Pure: catalog in,
 * statements out.
 *
 * - Types the user defined (enums, domains, composites, ranges, their arrays) are created
 *   in the target schema; a type or operator class of an extension keeps its schema and
 *   must exist in the destination (each table lists the extensions it needs).
 * - The replica never refuses a row its source accepted: no CHECK, no NOT NULL but on the
 *   row identity, domains without their CHECKs or NOT NULL, no defaults, no foreign keys,
 *   no triggers; identity columns lose their generator (the replica takes the source's values).
 * - Generated columns are computed in the replica from the source's expression (pgoutput
 *   does not send them); one that calls a function the replica lacks stops its table.
 * - The row identity (primary key or REPLICA IDENTITY USING INDEX) stays unique; every other
 *   index becomes a plain index (apply is set-based, so other unique keys could collide
 *   for a moment). Exclusion constraints, and indexes that call a function of the user's or
 *   use a user's operator class, are left out: the source enforces, the replica only reads.
 * - A partitioned table becomes one plain table named after its root.
 *
 * Expressions are printed by the source with `pg_catalog, <source schemas>` on the
 * search_path (a name that a built-in would shadow comes out qualified); the statements run
 * with `pg_catalog, <target>, <source schemas>`, where the names they use resolve to the same
 * objects (built-ins, recreated types, extension members).
 */
import { ident, literal, qualified } from '../sql.js';
import type {
  CatalogCollation,
  CatalogColumn,
  CatalogDependency,
  CatalogIndex,
  CatalogObjectRef,
  CatalogTable,
  CatalogType,
  SourceCatalog,
  TypeUse,
} from './catalog.js';
import { identityIndexOf } from './catalog.js';
import type { TargetSchemas } from './target-schemas.js';
import { METADATA_COLUMN_DDL, metadataClash, metadataClashReason } from './metadata-columns.js';
import type { ColumnPolicy, TablePolicy } from '../source/column-policy.js';
import type { MaskMethod } from '../source/mask.js';
import { applyColumnPolicy } from './policy-plan.js';
import { noColumnsFailure } from './no-columns.js';
import { tableFailureReason } from '../failures.js';

export interface ReplicaDdlOptions {
  sourceSchemas: string[];
  /** Each source schema's target schema; recreated types and collations go to the default one. */
  targets: TargetSchemas;
  /** ELT_EXCLUDE_COLUMNS / ELT_MASK_COLUMNS (./policy-plan.ts); none when absent. */
  columns?: ColumnPolicy;
}

/** A type or collation created in the target schema before the tables that use it. */
export interface ReplicaObject {
  key: string;
  kind: 'type' | 'collation';
  /** Its qualified name in the target schema. */
  name: string;
  /** What the user would call it on the source, e.g. `public.mood`. */
  label: string;
  sql: string;
  /** Why it cannot be created, if it cannot. */
  problem: string | null;
}

export interface RequiredExtension {
  name: string;
  /** The schema its objects live in on the source (and must live in on the destination). */
  schema: string;
}

export interface TablePlan {
  table: CatalogTable;
  /** The schema its replica lands in (ELT_TARGET_SCHEMA_MAP, else ELT_TARGET_SCHEMA). */
  targetSchema: string;
  /** Keys of the objects it needs, in creation order. */
  needs: string[];
  extensions: RequiredExtension[];
  /** CREATE TABLE and comments: before the data. */
  create: string[];
  /** The row identity first, then the other indexes: after the data. */
  identityIndex: string | null;
  indexes: { name: string; sql: string }[];
  skippedIndexes: { name: string; reason: string }[];
  /** The columns copied and streamed (generated ones are computed here), in attnum order. */
  copyColumns: string[];
  /** How each copied column is masked (ELT_MASK_COLUMNS), null for none; every entry null when nothing is masked. */
  copyMasks: (MaskMethod | null)[];
  /** The column policy the replica is planned with, as elt.tables records it. */
  columnPolicy: TablePolicy;
  /** Why the table cannot be replicated (message and what to do); null when it can. */
  problem: string | null;
}

export interface ReplicaPlan {
  objects: ReplicaObject[];
  tables: TablePlan[];
  /** The search_path the statements run with. */
  searchPath: string;
}

const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

/** Plan the replica of every table in the catalog. */
export function planReplica(catalog: SourceCatalog, options: ReplicaDdlOptions): ReplicaPlan {
  const planner = new Planner(catalog, options);
  const tables = catalog.tables.map((table) => planner.table(table));
  return { objects: planner.objects, tables, searchPath: replicaSearchPath(options) };
}

/** `pg_catalog, <default target>, <source schemas>`: built-ins first, then recreated types, then extension members. */
export function replicaSearchPath(options: ReplicaDdlOptions): string {
  const types = options.targets.defaultSchema;
  return ['pg_catalog', types, ...options.sourceSchemas.filter((s) => s !== types)].map(ident).join(', ');
}

/** A type's SQL in the replica, the objects it needs and the extension it belongs to. */
interface TypeRef {
  sql: string;
  needs: string[];
  extensions: RequiredExtension[];
  problem: string | null;
}

class Planner {
  readonly objects: ReplicaObject[] = [];
  readonly #byKey = new Map<string, ReplicaObject>();
  /** Type names taken in the default target schema (recreated types, tables' row types) → what holds them. */
  readonly #targetNames = new Map<string, string>();
  /** Relation names taken in each target schema (tables, then indexes), by `schema.name` → what holds them. */
  readonly #relationNames = new Map<string, string>();
  /** Recreated collation names in the default target schema → the source collation they stand for. */
  readonly #collationNames = new Map<string, string>();

  constructor(
    private readonly catalog: SourceCatalog,
    private readonly options: ReplicaDdlOptions,
  ) {
    // A table's row type takes its name among the types of its schema too.
    for (const t of catalog.tables) {
      const target = options.targets.of(t.schema);
      if (target === this.#typeSchema) this.#targetNames.set(t.name, `the table ${t.schema}.${t.name}`);
      this.#relationNames.set(`${target}.${t.name}`, `the table ${t.schema}.${t.name}`);
    }
  }

  /** Where recreated types and collations live. */
  get #typeSchema(): string {
    return this.options.targets.defaultSchema;
  }

  table(source: CatalogTable): TablePlan {
    const policy = applyColumnPolicy(source, this.options.columns);
    const table = policy.table;
    const label = `${table.schema}.${table.name}`;
    const problems: string[] = policy.problem ? [policy.problem] : [];
    const needs: string[] = [];
    const extensions: RequiredExtension[] = [];
    const clash = metadataClash(table.columns.map((c) => c.name));
    if (clash.length > 0) problems.push(metadataClashReason(label, clash));
    if (!table.columns.some((c) => c.generated === ''))
      problems.push(tableFailureReason(noColumnsFailure(table.schema, table.name)));

    const identity = identityIndexOf(table);
    const keyAttnums = new Set(identity?.keyColumns.map((k) => k.attnum) ?? []);
    const columns = table.columns.map((column) => {
      const type = this.typeUse(column);
      needs.push(...type.needs);
      extensions.push(...type.extensions);
      if (type.problem) problems.push(`Column ${column.name}: ${type.problem}`);
      const generated = column.generated === 's' ? this.generation(column, needs) : { sql: '', problem: null };
      if (generated.problem) problems.push(generated.problem);
      return `${ident(column.name)} ${type.sql}${keyAttnums.has(column.attnum) ? ' NOT NULL' : ''}${generated.sql}`;
    });
    const targetSchema = this.options.targets.of(table.schema);
    const target = qualified(targetSchema, table.name);
    const create = [
      `CREATE TABLE ${target} (${[...columns, METADATA_COLUMN_DDL].join(', ')})`,
      ...(table.comment ? [`COMMENT ON TABLE ${target} IS ${literal(table.comment)}`] : []),
      ...table.columns.flatMap((c) =>
        c.comment ? [`COMMENT ON COLUMN ${target}.${ident(c.name)} IS ${literal(c.comment)}`] : [],
      ),
    ];

    const identityIndex = identity ? this.#identitySql(target, table, identity, problems) : null;
    const indexes: TablePlan['indexes'] = [];
    const skippedIndexes: TablePlan['skippedIndexes'] = [...policy.skippedIndexes];
    for (const index of table.indexes) {
      if (index === identity) continue;
      const planned = this.index(table, index);
      if ('reason' in planned) skippedIndexes.push({ name: index.name, reason: planned.reason });
      else indexes.push({ name: index.name, sql: planned.sql });
    }
    return {
      table,
      targetSchema,
      needs: unique(needs),
      extensions: uniqueBy(extensions, (e) => `${e.schema}.${e.name}`),
      create,
      identityIndex,
      indexes,
      skippedIndexes,
      copyColumns: table.columns.filter((c) => c.generated === '').map((c) => c.name),
      copyMasks: table.columns.filter((c) => c.generated === '').map((c) => policy.masks.get(c.name) ?? null),
      columnPolicy: policy.recorded,
      problem: problems.length > 0 ? problems.join(' ') : null,
    };
  }

  /** A generated column's clause, or why the replica cannot compute it. */
  generation(column: CatalogColumn, needs: string[]): { sql: string; problem: string | null } {
    const missing = column.generationDeps.filter((d) => !this.#available(d, needs));
    if (missing.length > 0) {
      return {
        sql: '',
        problem:
          `The generated column ${column.name} is computed with ${missing.map(describeDependency).join(', ')}, which the replica does not have ` +
          '(PostgreSQL does not send generated values, so the replica computes them). Make the column a plain one filled by the application or a trigger, or leave the table out of the publication.',
      };
    }
    return { sql: ` GENERATED ALWAYS AS (${column.generationExpr}) STORED`, problem: null };
  }

  /** The statement that makes the row identity unique, or null (with a problem) when it cannot be built. */
  #identitySql(target: string, table: CatalogTable, index: CatalogIndex, problems: string[]): string | null {
    if (index.primary) {
      const names = new Map(table.columns.map((c) => [c.attnum, c.name]));
      const columns = index.keyColumns.map((k) => ident(names.get(k.attnum)!)).join(', ');
      return `ALTER TABLE ${target} ADD CONSTRAINT ${ident(this.#indexName(table, index))} PRIMARY KEY (${columns})`;
    }
    const planned = this.index(table, index, true);
    if ('sql' in planned) return planned.sql;
    problems.push(`Its replica identity index ${index.name} cannot be built: ${planned.reason}.`);
    return null;
  }

  /** The index's name in its table's target schema: its own, unless a table or another index there has it. */
  #indexName(table: CatalogTable, index: CatalogIndex): string {
    const label = `the index ${table.schema}.${index.name}`;
    const schema = this.options.targets.of(table.schema);
    const taken = this.#relationNames.get(`${schema}.${index.name}`);
    const name = taken === undefined || taken === label ? index.name : `${index.name.slice(0, 40)}_${index.oid}`;
    this.#relationNames.set(`${schema}.${name}`, label);
    return name;
  }

  /** An index's statement (unique only for the row identity), or why it is left out. */
  index(table: CatalogTable, index: CatalogIndex, unique = false): { sql: string } | { reason: string } {
    if (index.exclusion)
      return { reason: `it backs the exclusion constraint ${index.constraintName}, which the source enforces` };
    const userOpclass = index.keyColumns.find(
      (k) => k.opclass && k.opclass.extension === null && !SYSTEM_SCHEMAS.has(k.opclass.schema),
    );
    if (userOpclass)
      return {
        reason: `it uses the operator class ${userOpclass.opclass!.schema}.${userOpclass.opclass!.name}, which the replica does not have`,
      };
    const needs: string[] = [];
    const missing = index.deps.filter((d) => !this.#available(d, needs));
    if (missing.length > 0)
      return { reason: `it uses ${missing.map(describeDependency).join(', ')}, which the replica does not have` };
    const keys = index.keyColumns.map((k) => {
      const collation = k.collation ? ` COLLATE ${this.collation(k.collation, needs).sql}` : '';
      const opclass = k.opclass ? ` ${ident(k.opclass.schema)}.${ident(k.opclass.name)}` : '';
      const order = k.descending ? (k.nullsFirst ? ' DESC' : ' DESC NULLS LAST') : k.nullsFirst ? ' NULLS FIRST' : '';
      return `${k.definition}${collation}${opclass}${order}`;
    });
    const include = index.includeColumns.length > 0 ? ` INCLUDE (${index.includeColumns.join(', ')})` : '';
    const where = index.predicate ? ` WHERE ${index.predicate}` : '';
    const target = qualified(this.options.targets.of(table.schema), table.name);
    return {
      sql: `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${ident(this.#indexName(table, index))} ON ${target} USING ${ident(index.method)} (${keys.join(', ')})${include}${where}`,
    };
  }

  /** Is an object an expression uses there in the replica? Extension members are (checked per table); recreated types are. */
  #available(dep: CatalogDependency, needs: string[]): boolean {
    if (dep.extension !== null) return true;
    if (dep.catalog === 'pg_type') {
      const type = [...this.catalog.types.values()].find((t) => t.schema === dep.schema && t.name === dep.name);
      if (!type) return false;
      const ref = this.type(type);
      needs.push(...ref.needs);
      return ref.problem === null;
    }
    if (dep.catalog === 'pg_collation') {
      const collation = [...this.catalog.collations.values()].find(
        (c) => c.schema === dep.schema && c.name === dep.name,
      );
      return collation !== undefined && this.collation(collation, needs).problem === null;
    }
    return false;
  }

  typeUse(use: Pick<TypeUse, 'typeOid' | 'typeText' | 'collation'>): TypeRef {
    const type = this.catalog.types.get(use.typeOid);
    const ref: TypeRef = type
      ? this.type(type, use.typeText)
      : { sql: use.typeText, needs: [], extensions: [], problem: null };
    if (!use.collation) return ref;
    const collation = this.collation(use.collation, ref.needs);
    return { ...ref, sql: `${ref.sql} COLLATE ${collation.sql}`, problem: ref.problem ?? collation.problem };
  }

  /** How the replica names a type (with its modifier as `typeText` prints it), creating user types on first use. */
  type(type: CatalogType, typeText = type.printed): TypeRef {
    const element = type.elementOid ? this.catalog.types.get(type.elementOid) : undefined;
    const base = element ?? type;
    if (base.extension !== null)
      return { sql: typeText, needs: [], extensions: [{ name: base.extension, schema: base.schema }], problem: null };
    if (SYSTEM_SCHEMAS.has(base.schema)) return { sql: typeText, needs: [], extensions: [], problem: null };
    const object = this.#userType(base);
    const nested = this.#nestedRefs(base);
    return {
      sql: `${qualified(this.#typeSchema, base.name)}${element ? '[]' : ''}`,
      needs: [...nested.needs, object.key],
      extensions: nested.extensions,
      problem: object.problem,
    };
  }

  /** The types a user type is built from (they are created before it). */
  #nestedRefs(type: CatalogType): { needs: string[]; extensions: RequiredExtension[] } {
    const uses = [type.domainBase, type.rangeSubtype, ...type.attributes].filter((u): u is TypeUse => u !== null);
    if (type.typtype === 'm' && type.rangeOfMultirange)
      uses.push({ typeOid: type.rangeOfMultirange, typeText: '', collation: null });
    const refs = uses.map((u) => this.typeUse(u));
    return { needs: refs.flatMap((r) => r.needs), extensions: refs.flatMap((r) => r.extensions) };
  }

  #userType(type: CatalogType): ReplicaObject {
    const key = `type:${type.oid}`;
    const known = this.#byKey.get(key);
    if (known) return known;
    // A multirange is created with its range.
    if (type.typtype === 'm') {
      const range = this.catalog.types.get(type.rangeOfMultirange);
      return range
        ? this.#userType(range)
        : this.#add(
            key,
            `${type.schema}.${type.name}`,
            '',
            `the range of the multirange type ${type.schema}.${type.name} is unknown`,
          );
    }
    const label = `${type.schema}.${type.name}`;
    const name = qualified(this.#typeSchema, type.name);
    const clash = this.#targetNames.get(type.name);
    if (clash && clash !== `the type ${label}`) {
      return this.#add(
        key,
        label,
        '',
        `${clash} and the type ${label} would both be ${this.#typeSchema}.${type.name} in the replica`,
      );
    }
    this.#targetNames.set(type.name, `the type ${label}`);
    const part = (use: TypeUse) => this.typeUse(use);
    switch (type.typtype) {
      case 'e':
        return this.#add(key, label, `CREATE TYPE ${name} AS ENUM (${type.enumLabels.map(literal).join(', ')})`, null);
      case 'd': {
        const base = part(type.domainBase!);
        return this.#add(key, label, `CREATE DOMAIN ${name} AS ${base.sql}`, base.problem);
      }
      case 'c': {
        if (type.relkind !== 'c') {
          return this.#add(
            key,
            label,
            '',
            `${label} is the row type of a table; a replica table has more columns (elt's metadata), so it cannot stand for it`,
          );
        }
        const attributes = type.attributes.map((a) => ({ name: a.name, ref: part(a) }));
        const problem = attributes.find((a) => a.ref.problem)?.ref.problem ?? null;
        return this.#add(
          key,
          label,
          `CREATE TYPE ${name} AS (${attributes.map((a) => `${ident(a.name)} ${a.ref.sql}`).join(', ')})`,
          problem,
        );
      }
      case 'r': {
        const subtype = part({ ...type.rangeSubtype!, collation: null });
        const options = [`SUBTYPE = ${subtype.sql}`];
        if (type.rangeOpclass)
          options.push(`SUBTYPE_OPCLASS = ${ident(type.rangeOpclass.schema)}.${ident(type.rangeOpclass.name)}`);
        if (type.rangeSubtype!.collation)
          options.push(`COLLATION = ${this.collation(type.rangeSubtype!.collation, []).sql}`);
        if (type.multirangeName)
          options.push(`MULTIRANGE_TYPE_NAME = ${qualified(this.#typeSchema, type.multirangeName)}`);
        return this.#add(key, label, `CREATE TYPE ${name} AS RANGE (${options.join(', ')})`, subtype.problem);
      }
      default:
        return this.#add(
          key,
          label,
          '',
          `${label} is a base type defined outside an extension; the replica cannot create it (install it in the destination as an extension)`,
        );
    }
  }

  collation(ref: CatalogObjectRef, needs: string[]): { sql: string; problem: string | null } {
    const collation = this.catalog.collations.get(ref.oid);
    if (!collation || collation.extension !== null || SYSTEM_SCHEMAS.has(ref.schema))
      return { sql: `${ident(ref.schema)}.${ident(ref.name)}`, problem: null };
    const key = `collation:${ref.oid}`;
    const label = `${ref.schema}.${ref.name}`;
    const clash = this.#collationNames.get(ref.name);
    const problem =
      clash && clash !== label
        ? `the collations ${clash} and ${label} would both be ${this.#typeSchema}.${ref.name} in the replica`
        : null;
    if (!clash) this.#collationNames.set(ref.name, label);
    const object =
      this.#byKey.get(key) ??
      this.#add(key, label, createCollationSql(qualified(this.#typeSchema, ref.name), collation), problem);
    needs.push(object.key);
    return { sql: qualified(this.#typeSchema, ref.name), problem: object.problem };
  }

  #add(key: string, label: string, sql: string, problem: string | null): ReplicaObject {
    const [kind, oid] = key.split(':') as ['type' | 'collation', string];
    const name = qualified(
      this.#typeSchema,
      kind === 'type' ? this.catalog.types.get(Number(oid))!.name : this.catalog.collations.get(Number(oid))!.name,
    );
    const object = { key, kind, name, label, sql, problem };
    this.#byKey.set(key, object);
    this.objects.push(object);
    return object;
  }
}

function createCollationSql(name: string, c: CatalogCollation): string {
  const options =
    c.provider === 'i'
      ? [`provider = icu`, `locale = ${literal(c.iculocale ?? '')}`]
      : [`provider = libc`, `lc_collate = ${literal(c.collate)}`, `lc_ctype = ${literal(c.ctype)}`];
  if (!c.deterministic) options.push('deterministic = false');
  return `CREATE COLLATION ${name} (${options.join(', ')})`;
}

function describeDependency(dep: CatalogDependency): string {
  const kind =
    {
      pg_proc: 'the function',
      pg_operator: 'the operator',
      pg_type: 'the type',
      pg_collation: 'the collation',
      pg_opclass: 'the operator class',
    }[dep.catalog] ?? 'the object';
  return `${kind} ${dep.schema}.${dep.name}`;
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()];
}
