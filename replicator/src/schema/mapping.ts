/**
 * From a source relation (pgoutput's Relation message) to its table in the target schema:
 * the destination's column types, in the order pgoutput sends values, and which columns
 * identify a row. Partitioned tables arrive under their root's name (publish_via_partition_root).
 */
import type { ClientBase } from 'pg';
import { EltError } from '../errors.js';
import type { PgoutputMessage, ReplicaIdentity } from '../source/pgoutput.js';
import { qualified } from '../sql.js';

/** Columns the replicator adds to every replicated table. */
export const METADATA_COLUMNS = ['_synced_at', '_lsn', '_deleted'] as const;

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

  /** The replica table for a relation, with the destination's column types. */
  async resolve(db: ClientBase, relationId: number): Promise<TargetTable> {
    const known = this.#tables.get(relationId);
    if (known) return known;
    const relation = this.#relations.get(relationId);
    if (!relation) throw new Error(`change for relation ${relationId} before its Relation message`);
    const table = await this.#lookUp(db, relation);
    this.#tables.set(relationId, table);
    return table;
  }

  async #lookUp(db: ClientBase, relation: RelationMessage): Promise<TargetTable> {
    const target = qualified(this.targetSchema, relation.name);
    const { rows } = await db.query<{ name: string; type: string }>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [target],
    );
    if (rows.length === 0) {
      throw new EltError(
        `The source table ${relation.schema}.${relation.name} has no replica table ${this.targetSchema}.${relation.name}.`,
        'It was created on the source after the snapshot; resync it (or restart with a full resync) to start replicating it.',
      );
    }
    const types = new Map(rows.map((r) => [r.name, r.type]));
    const columns = relation.columns.map((column) => {
      const type = types.get(column.name);
      if (!type) {
        throw new EltError(
          `The source table ${relation.schema}.${relation.name} has a column ${column.name} that ${this.targetSchema}.${relation.name} lacks.`,
          'The source schema changed after the snapshot; resync the table to pick up the change.',
        );
      }
      return { name: column.name, type };
    });
    const keyIndexes = relation.replicaIdentity === 'f' || relation.replicaIdentity === 'n' ? [] : relation.columns.flatMap((c, i) => (c.isKey ? [i] : []));
    return {
      relationId: relation.relationId,
      sourceSchema: relation.schema,
      sourceTable: relation.name,
      targetSchema: this.targetSchema,
      targetTable: relation.name,
      columns,
      keyIndexes,
      replicaIdentity: relation.replicaIdentity,
      signature: `${relation.relationId}:${relation.replicaIdentity}:${columns.map((c) => `${c.name}/${c.type}`).join(',')}:${keyIndexes.join(',')}`,
      stageTable: `elt_stage_${relation.relationId}`,
    };
  }
}
