/**
 * Which columns of a replicated table are left out or masked: ELT_EXCLUDE_COLUMNS, comma-separated
 * `schema.table.column` globs, and ELT_MASK_COLUMNS, comma-separated `schema.table.column:method`
 * (./mask.ts). Each part of a pattern is a glob of its own (./selection.ts: `*`, `?`, never
 * crossing a dot), matched case-sensitively against the column's current name. Exclusion wins
 * over a mask: the stronger promise (nothing written at all) is kept. The first matching mask
 * applies.
 *
 * A column that identifies rows (in the replica identity: the primary key, the identity index,
 * or every column under REPLICA IDENTITY FULL) cannot be left out, nulled or redacted: rows could
 * no longer be told apart. Its table is refused with the column and the setting to change;
 * `hash` keeps rows apart (one value, one hash) and is allowed there.
 *
 * Pure: every decision carries the pattern a person can act on.
 */
import { globRegExp } from './selection.js';
import { maskKeyFingerprint, maskMethodText, maskValue, parseMaskMethod, type MaskMethod } from './mask.js';

/** pg_type's OID of text: a column masked to text is announced with it. */
export const TEXT_TYPE_OID = 25;

export interface ColumnPattern {
  /** As the user wrote it, for the reasons shown. */
  text: string;
  schema: RegExp;
  table: RegExp;
  column: RegExp;
}

export interface MaskRule {
  /** As the user wrote it (`public.users.email:hash`). */
  text: string;
  pattern: ColumnPattern;
  method: MaskMethod;
}

export type ColumnDecision =
  { action: 'keep' } | { action: 'exclude'; pattern: string } | { action: 'mask'; method: MaskMethod; pattern: string };

/** A column as the policy needs to see it. */
export interface PolicyColumn {
  name: string;
  /** Part of the replica identity (every column under REPLICA IDENTITY FULL). */
  isKey: boolean;
}

/** One non-default column policy as elt.tables records it (by attnum: names change). */
export interface ColumnPolicyEntry {
  attnum: number;
  column: string;
  /** `exclude`, `hash`, `null` or `redact:N`. */
  policy: string;
}

/** A table's policy as recorded beside its replica. */
export interface TablePolicy {
  entries: ColumnPolicyEntry[];
  /** The hash key's fingerprint when a column is hashed, else null. */
  keyFingerprint: string | null;
}

export interface PolicyRefusal {
  reason: string;
  hint: string;
}

/** One `schema.table.column` glob; throws a sentence when it is not one. */
export function parseColumnPattern(text: string): ColumnPattern {
  const parts = text.split('.');
  if (parts.length !== 3 || parts.some((p) => p === ''))
    throw new Error(`'${text}' is not a schema.table.column pattern (like public.users.email or *.*.ssn)`);
  return { text, schema: globRegExp(parts[0]!), table: globRegExp(parts[1]!), column: globRegExp(parts[2]!) };
}

/** `schema.table.column:method`; throws a sentence when it is not one. */
export function parseMaskRule(text: string): MaskRule {
  const colon = text.indexOf(':');
  if (colon < 0) throw new Error(`'${text}' names no mask method (write schema.table.column:hash, :null or :redact:N)`);
  return { text, pattern: parseColumnPattern(text.slice(0, colon)), method: parseMaskMethod(text.slice(colon + 1)) };
}

function splitList(list: string): string[] {
  return list
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

export const parseColumnPatterns = (list: string): ColumnPattern[] => splitList(list).map(parseColumnPattern);
export const parseMaskRules = (list: string): MaskRule[] => splitList(list).map(parseMaskRule);

function matches(pattern: ColumnPattern, schema: string, table: string, column: string): boolean {
  return pattern.schema.test(schema) && pattern.table.test(table) && pattern.column.test(column);
}

/** The label of a decision as recorded and shown (`exclude`, `hash`, `null`, `redact:N`), null to keep. */
export function decisionLabel(decision: ColumnDecision): string | null {
  if (decision.action === 'keep') return null;
  return decision.action === 'exclude' ? 'exclude' : maskMethodText(decision.method);
}

export class ColumnPolicy {
  readonly exclude: ColumnPattern[];
  readonly masks: MaskRule[];
  readonly #key: Buffer | null;

  /** `key`: ELT_MASK_KEY, needed by a hash mask (the configuration refuses a hash mask without it). */
  constructor(exclude: string[] = [], masks: string[] = [], key: string | null = null) {
    this.exclude = exclude.map(parseColumnPattern);
    this.masks = masks.map(parseMaskRule);
    this.#key = key === null ? null : Buffer.from(key);
  }

  /** A fingerprint of the hash key, recorded with the policy (a new key means new hashes); null without a hash mask. */
  get keyFingerprint(): string | null {
    return this.#key && this.masks.some((m) => m.method.kind === 'hash') ? maskKeyFingerprint(this.#key) : null;
  }

  /** A non-null value masked by the method. */
  mask(method: MaskMethod, value: Buffer): Buffer | null {
    if (method.kind === 'hash' && this.#key === null) throw new Error('a hash mask needs ELT_MASK_KEY');
    return maskValue(method, value, this.#key ?? Buffer.alloc(0));
  }

  /** Whether any column may be left out or masked: without a pattern every value goes through untouched. */
  get isSet(): boolean {
    return this.exclude.length > 0 || this.masks.length > 0;
  }

  /** Whether some pattern may match a column of this table (what needs a closer look). */
  touches(schema: string, table: string): boolean {
    return [...this.exclude, ...this.masks.map((m) => m.pattern)].some(
      (p) => p.schema.test(schema) && p.table.test(table),
    );
  }

  decide(schema: string, table: string, column: string): ColumnDecision {
    const excluded = this.exclude.find((p) => matches(p, schema, table, column));
    if (excluded) return { action: 'exclude', pattern: excluded.text };
    const mask = this.masks.find((m) => matches(m.pattern, schema, table, column));
    if (mask) return { action: 'mask', method: mask.method, pattern: mask.text };
    return { action: 'keep' };
  }

  /** Why the table cannot be replicated under this policy, or null: a key column left out, nulled or redacted. */
  refusal(schema: string, table: string, columns: PolicyColumn[]): PolicyRefusal | null {
    for (const column of columns) {
      if (!column.isKey) continue;
      const decision = this.decide(schema, table, column.name);
      if (decision.action === 'keep' || (decision.action === 'mask' && decision.method.kind === 'hash')) continue;
      const setting = decision.action === 'exclude' ? 'ELT_EXCLUDE_COLUMNS' : 'ELT_MASK_COLUMNS';
      const what = decision.action === 'exclude' ? 'leaves it out' : `masks it with ${decisionLabel(decision)}`;
      return {
        reason:
          `Column ${column.name} of ${schema}.${table} identifies its rows (replica identity), and the ${setting} ` +
          `pattern '${decision.pattern}' ${what}: the replica could no longer tell its rows apart.`,
        hint: `Change '${decision.pattern}' in ${setting} so that it does not match ${schema}.${table}.${column.name} (a hash mask is allowed on a key), restart elt with it, then resync the table if it is still in error.`,
      };
    }
    return null;
  }

  /** The table's policy: its non-default column policies by attnum, in attnum order, and the key's fingerprint if one is hashed. */
  forTable(schema: string, table: string, columns: { attnum: number; name: string }[]): TablePolicy {
    const entries = columns.flatMap((c) => {
      const policy = decisionLabel(this.decide(schema, table, c.name));
      return policy === null ? [] : [{ attnum: c.attnum, column: c.name, policy }];
    });
    return { entries, keyFingerprint: entries.some((e) => e.policy === 'hash') ? this.keyFingerprint : null };
  }
}

/**
 * What differs between a recorded and a current policy, as a sentence; null when the same. By
 * attnum, not name, and only for the attnums in `scope`: the live columns the replica already
 * knew (a column added since has no policy to change, a dropped one none to keep).
 */
export function policyChange(recorded: TablePolicy, current: TablePolicy, scope: Set<number>): string | null {
  const changes = transitions(recorded, current, scope)
    .filter((t) => t.was !== t.is)
    .map((t) => `${t.column} ${t.was} → ${t.is}`);
  if (changes.length > 0) return `column policy changed (${changes.join(', ')})`;
  if (current.keyFingerprint !== null && recorded.keyFingerprint !== current.keyFingerprint)
    return 'ELT_MASK_KEY changed: the hashes change';
  return null;
}

/** How much of a value a policy keeps from the destination: the higher, the less it shows. */
function strictness(policy: string): number {
  if (policy === 'exclude') return 4;
  if (policy === 'null') return 3;
  if (policy === 'hash') return 2;
  return policy === 'kept' ? 0 : 1; // redact:N shows its first characters
}

/**
 * The columns (by their name now) whose values `current` would show more of than `recorded`
 * did: excluded or masked before, kept (or masked less) now. Only a rename can do that while
 * streaming (a pattern matches names), and following it would send the values in clear.
 */
export function liftedColumns(recorded: TablePolicy, current: TablePolicy, scope: Set<number>): string[] {
  return transitions(recorded, current, scope)
    .filter((t) => strictness(t.is) < strictness(t.was))
    .map((t) => t.column);
}

/** Each column of `scope`, in attnum order: its name (now, else as recorded) and its policy before and now (`kept` when none). */
function transitions(
  recorded: TablePolicy,
  current: TablePolicy,
  scope: Set<number>,
): { column: string; was: string; is: string }[] {
  const before = new Map(recorded.entries.map((e) => [e.attnum, e]));
  const after = new Map(current.entries.map((e) => [e.attnum, e]));
  return [...scope]
    .sort((a, b) => a - b)
    .map((attnum) => ({
      column: after.get(attnum)?.column ?? before.get(attnum)?.column ?? String(attnum),
      was: before.get(attnum)?.policy ?? 'kept',
      is: after.get(attnum)?.policy ?? 'kept',
    }));
}

/** The attnums a policy comparison covers: live now, and known to the replica (held, or recorded with a policy). */
export function policyScope(live: number[], held: number[], recorded: TablePolicy): Set<number> {
  const known = new Set([...held, ...recorded.entries.map((e) => e.attnum)]);
  return new Set(live.filter((attnum) => known.has(attnum)));
}

/** The policy of the settings (ELT_EXCLUDE_COLUMNS, ELT_MASK_COLUMNS, ELT_MASK_KEY), as the configuration parsed them. */
export function columnPolicyFrom(settings: {
  excludeColumns: string[];
  maskColumns: string[];
  maskKey: string | null;
}): ColumnPolicy {
  return new ColumnPolicy(settings.excludeColumns, settings.maskColumns, settings.maskKey);
}
