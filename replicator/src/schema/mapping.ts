/**
 * From a source relation (pgoutput's Relation message) to its table in the target schema:
 * the destination's column types, in the order pgoutput sends values, and which columns
 * identify a row. Partitioned tables arrive under their root's name (publish_via_partition_root).
 */
import type { DestColumn, SchemaContext } from './schema-changes.js';
import { followColumns } from './follow-columns.js';
import { identifyTable } from './table-identity.js';
import { classifyFailure, TableFailure, tableFailureReason } from '../failures.js';
import type { PgoutputMessage, ReplicaIdentity } from '../source/pgoutput.js';
import { qualified } from '../sql.js';

import { METADATA_COLUMNS } from './metadata-columns.js';
import type { TargetSchemas } from './target-schemas.js';
import { ensureErrorTableRow } from '../state/control.js';
import { noColumnsFailure } from './no-columns.js';

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

  constructor(private readonly targets: TargetSchemas) {}

  /** Record a Relation message; the next change of that relation resolves it again. */
  register(relation: RelationMessage): void {
    this.#relations.set(relation.relationId, relation);
    this.#tables.delete(relation.relationId);
  }

  relation(relationId: number): RelationMessage | undefined {
    return this.#relations.get(relationId);
  }

  /**
   * The replica table for a relation, with the destination's column types. A first change
   * after a Relation message brings the replica table along (./table-identity.ts,
   * ./follow-columns.ts). A change the replica cannot follow throws a TableFailure.
   */
  async resolve(ctx: SchemaContext, relationId: number): Promise<TargetTable> {
    const known = this.#tables.get(relationId);
    if (known) return known;
    const relation = this.#relations.get(relationId);
    if (!relation) throw new Error(`change for relation ${relationId} before its Relation message`);
    await followSchema(ctx, relation);
    const targetSchema = this.targets.of(relation.schema);
    const dest = await destColumns(ctx, targetSchema, relation.name);
    const table = buildTarget(targetSchema, relation, new Map(dest.map((c) => [c.name, c.type])));
    this.#tables.set(relationId, table);
    return table;
  }
}

/**
 * Follow the source table's identity and columns, under a savepoint: a statement the replica
 * refuses (a failure retrying cannot fix) is rolled back and stops this table alone.
 */
async function followSchema(ctx: SchemaContext, relation: RelationMessage): Promise<void> {
  await ctx.dest.query('SAVEPOINT elt_follow_schema');
  try {
    // New with no columns, or every column dropped: nothing to build a replica or a stage from.
    if (relation.columns.length === 0) throw noColumnsFailure(relation.schema, relation.name);
    const recorded = await identifyTable(ctx, relation);
    if (recorded)
      await followColumns(
        ctx,
        relation,
        recorded,
        await destColumns(ctx, ctx.targets.of(relation.schema), relation.name),
      );
    await ctx.dest.query('RELEASE SAVEPOINT elt_follow_schema');
  } catch (error) {
    if (classifyFailure(error) === 'transient') throw error;
    await ctx.dest.query('ROLLBACK TO SAVEPOINT elt_follow_schema');
    // The table may have no row yet (a new or renamed table): it needs one to show its state.
    await ensureErrorTableRow(ctx.dest, ctx.slot, relation.schema, relation.name, ctx.targets.of(relation.schema));
    if (error instanceof TableFailure) throw error;
    const label = `${relation.schema}.${relation.name}`;
    throw new TableFailure(
      relation.schema,
      relation.name,
      `The replica cannot follow a change of the source table ${label}: ${tableFailureReason(error)}.`,
      'Fix what stops it in the destination, then resync the table.',
      { cause: error },
    );
  }
}

/** The replica table's own columns (without the metadata columns and the columns it computes), in order. */
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

/**
 * Which columns identify a row: the key columns of the primary key or identity index; none
 * for REPLICA IDENTITY FULL or NOTHING (rows are then matched by their whole old image).
 */
export function identityKeyIndexes(identity: ReplicaIdentity, isKey: boolean[]): number[] {
  return identity === 'f' || identity === 'n' ? [] : isKey.flatMap((key, i) => (key ? [i] : []));
}

function buildTarget(targetSchema: string, relation: RelationMessage, types: Map<string, string>): TargetTable {
  const columns = relation.columns.map((column) => {
    const type = types.get(column.name);
    if (!type) throw new Error(`${targetSchema}.${relation.name} still lacks ${column.name}`);
    return { name: column.name, type };
  });
  const keyIndexes = identityKeyIndexes(
    relation.replicaIdentity,
    relation.columns.map((c) => c.isKey),
  );
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
