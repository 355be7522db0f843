/**
 * The column policy (./column-policy.ts) applied to the decoded stream, right after the decoder,
 * before anything else sees a message: batches, the resync delta table, schema following, merge
 * SQL, errors and logs only ever hold what the replica may hold.
 *
 * A Relation message loses its excluded columns, and a column masked to text (hash, redact) is
 * announced as text; every tuple of that relation (new, old, key) loses the same columns and
 * has its masked values replaced. Downstream, a left-out column does not exist. A table whose
 * key the policy would break keeps being filtered, and its Relation message carries the refusal:
 * the apply session stops that table.
 *
 * Stateful only in the relations seen (pgoutput sends a relation's Relation message before its
 * first change in every session).
 */
import { TEXT_TYPE_OID, type ColumnPolicy, type ColumnDecision } from './column-policy.js';
import { masksToText } from './mask.js';
import { UNCHANGED_TOAST, type PgoutputMessage, type Tuple } from './pgoutput.js';

type RelationMessage = Extract<PgoutputMessage, { tag: 'relation' }>;

interface RelationFilter {
  /** Each source column's decision, in message order. */
  decisions: ColumnDecision[];
}

export class ColumnFilter {
  readonly #relations = new Map<number, RelationFilter | null>();

  constructor(private readonly policy: ColumnPolicy) {}

  apply(message: PgoutputMessage): PgoutputMessage {
    switch (message.tag) {
      case 'relation':
        return this.#relation(message);
      case 'insert':
        return { ...message, new: this.#tuple(message.relationId, message.new) };
      case 'update':
        return {
          ...message,
          new: this.#tuple(message.relationId, message.new),
          ...(message.key && { key: this.#tuple(message.relationId, message.key) }),
          ...(message.old && { old: this.#tuple(message.relationId, message.old) }),
        };
      case 'delete':
        return {
          ...message,
          ...(message.key && { key: this.#tuple(message.relationId, message.key) }),
          ...(message.old && { old: this.#tuple(message.relationId, message.old) }),
        };
      default:
        return message;
    }
  }

  #relation(message: RelationMessage): RelationMessage {
    const { schema, name } = message;
    if (!this.policy.touches(schema, name)) {
      this.#relations.set(message.relationId, null);
      return message;
    }
    const decisions = message.columns.map((c) => this.policy.decide(schema, name, c.name));
    this.#relations.set(message.relationId, { decisions });
    const columns = message.columns.flatMap((column, i) => {
      const decision = decisions[i]!;
      if (decision.action === 'exclude') return [];
      if (decision.action === 'mask' && masksToText(decision.method))
        return [{ ...column, typeOid: TEXT_TYPE_OID, typeMod: -1 }];
      return [column];
    });
    const refused = this.policy.refusal(schema, name, message.columns);
    return { ...message, columns, ...(refused && { refused }) };
  }

  #tuple(relationId: number, tuple: Tuple): Tuple {
    const filter = this.#relations.get(relationId);
    if (filter === null) return tuple;
    if (filter === undefined)
      throw new Error(`a change of relation ${relationId} came before its Relation message: its columns are unknown`);
    const out: Tuple = [];
    filter.decisions.forEach((decision, i) => {
      const value = tuple[i] ?? null;
      if (decision.action === 'exclude') return;
      if (decision.action === 'keep' || value === null || value === UNCHANGED_TOAST) out.push(value);
      else out.push(this.policy.mask(decision.method, value));
    });
    return out;
  }
}
