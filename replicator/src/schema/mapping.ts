/**
 * From a source relation (pgoutput's Relation message) to its table in the target schema:
 * the destination's column types, in the order pgoutput sends values, and which columns
 * identify a row. Partitioned tables arrive under their root's name (publish_via_partition_root).
 */
import { createReplicaTable, followColumns, replicaType, sameType, type DestColumn, type SchemaContext } from './schema-changes.js';
import type { PgoutputMessage, ReplicaIdentity } from '../source/pgoutput.js';
import { qualified } from '../sql.js';

import { METADATA_COLUMNS } from './metadata-columns.js';

export interface TargetColumn {
  name: string;
  /** The destination type, as format_type prints it (schema-qualified where needed). */
  type: string;
}

export interface TargetTable {
  relationId: number;
  sourceSchema: string;
  sourceTable: string;
  targetSchema: string;
  targetTable: string;
  /** In the order of the values in pgoutput tuples. */
  columns: TargetColumn[];
  /** Indexes into `columns` of the replica identity key; empty for REPLICA IDENTITY FULL/NOTHING. */
  keyIndexes: number[];
  replicaIdentity: ReplicaIdentity;
  /** Identifies this shape of the table (changes when the source's columns change). */
  signature: string;
  /** The session's temp table that stages this table's changes. */
  stageTable: string;
}

type RelationMessage = Extract<PgoutputMessage, { tag: 'relation' }>;

/**
 * Relations as the stream announces them, resolved against the destination on first use.
 * pgoutput also announces partitions whose changes it then publishes under the root, so a
 * Relation message alone must not require a replica table.
 */
export class TableRegistry {
  readonly #relations = new Map<number, RelationMessage>();
  readonly #tables = new Map<number, TargetTable>();

  constructor(private readonly targetSchema: string) {}

  /** Record a Relation message; the next change of that relation resolves it again. */
  register(relation: RelationMessage): void {
    this.#relations.set(relation.relationId, relation);
    this.#tables.delete(relation.relationId);
  }

  relation(relationId: number): RelationMessage | undefined {
    return this.#relations.get(relationId);
  }

  /**
   * The replica table for a relation, with the destination's column types. A first
   * change after a source DDL brings the replica table along (./schema-changes.ts).
   */
  async resolve(ctx: SchemaContext, relationId: number): Promise<TargetTable> {
    const known = this.#tables.get(relationId);
    if (known) return known;
    const relation = this.#relations.get(relationId);
    if (!relation) throw new Error(`change for relation ${relationId} before its Relation message`);
    let dest = await destColumns(ctx, this.targetSchema, relation.name);
    if (dest.length === 0) {
      await createReplicaTable(ctx, relation);
      dest = await destColumns(ctx, this.targetSchema, relation.name);
    }
    const types = new Map(dest.map((c) => [c.name, c.type]));
    if (relation.columns.length !== dest.length || relation.columns.some((c) => !types.has(c.name)) || (await typesDiffer(ctx, relation, types))) {
      await followColumns(ctx, relation, dest);
      dest = await destColumns(ctx, this.targetSchema, relation.name);
    }
    const table = buildTarget(this.targetSchema, relation, new Map(dest.map((c) => [c.name, c.type])));
    this.#tables.set(relationId, table);
    return table;
  }
}

/** The replica table's own columns (without the metadata columns), in order. */
async function destColumns(ctx: SchemaContext, targetSchema: string, table: string): Promise<DestColumn[]> {
  const { rows } = await ctx.dest.query(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
       AND a.attname <> ALL($2::text[])
     ORDER BY a.attnum`,
    [qualified(targetSchema, table), METADATA_COLUMNS],
  );
  return rows as DestColumn[];
}

/** Did a column change type? Compared by OID for built-in types (cheap), as regtypes otherwise. */
async function typesDiffer(ctx: SchemaContext, relation: RelationMessage, types: Map<string, string>): Promise<boolean> {
  const builtins = relation.columns.filter((c) => c.typeOid < FIRST_NORMAL_OID);
  if (builtins.length > 0) {
    const { rows } = await ctx.dest.query('SELECT format_type(oid, mod) AS type FROM unnest($1::oid[], $2::int[]) AS t(oid, mod)', [
      builtins.map((c) => c.typeOid),
      builtins.map((c) => c.typeMod),
    ]);
    if (builtins.some((c, i) => rows[i]?.type !== types.get(c.name))) return true;
  }
  for (const column of relation.columns.filter((c) => c.typeOid >= FIRST_NORMAL_OID)) {
    if (!(await sameType(ctx, await replicaType(ctx, column.typeOid, column.typeMod), types.get(column.name) ?? null))) return true;
  }
  return false;
}

/**
 * Which columns identify a row: the key columns of the primary key or identity index; none
 * for REPLICA IDENTITY FULL or NOTHING (rows are then matched by their whole old image).
 */
export function identityKeyIndexes(identity: ReplicaIdentity, isKey: boolean[]): number[] {
  return identity === 'f' || identity === 'n' ? [] : isKey.flatMap((key, i) => (key ? [i] : []));
}

/** OIDs below this are PostgreSQL's own (built-in types have the same OID on every server). */
const FIRST_NORMAL_OID = 16384;

function buildTarget(targetSchema: string, relation: RelationMessage, types: Map<string, string>): TargetTable {
  const columns = relation.columns.map((column) => {
    const type = types.get(column.name);
    if (!type) throw new Error(`${targetSchema}.${relation.name} still lacks ${column.name}`);
    return { name: column.name, type };
  });
  const keyIndexes = identityKeyIndexes(relation.replicaIdentity, relation.columns.map((c) => c.isKey));
  return {
    relationId: relation.relationId,
    sourceSchema: relation.schema,
    sourceTable: relation.name,
    targetSchema,
    targetTable: relation.name,
    columns,
    keyIndexes,
    replicaIdentity: relation.replicaIdentity,
    signature: `${relation.relationId}:${relation.replicaIdentity}:${columns.map((c) => `${c.name}/${c.type}`).join(',')}:${keyIndexes.join(',')}`,
    stageTable: `elt_stage_${relation.relationId}`,
  };
}
