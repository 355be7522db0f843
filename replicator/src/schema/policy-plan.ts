/**
 * The column policy (../source/column-policy.ts) applied to a table of the source catalog before
 * its replica is planned (./replica-ddl.ts), so that the plan never knows an excluded column and
 * sees a column masked to text as text. Pure.
 *
 * - An excluded column is left out: not in the replica, not in the copy's SELECT list (its
 *   values are never read).
 * - A column masked by hash or redact becomes `text` (no collation); one masked by null keeps
 *   its type. The row identity is the only NOT NULL the replica has, and only a hash may mask it.
 * - An index that uses a left-out or masked column (or, on a table with such columns, any
 *   expression or predicate, which may use one) is left out, with the reason; the row identity
 *   stays (only a hash may change it, and a hash keeps its values apart).
 * - A key column excluded, nulled or redacted refuses the table (the policy's sentence); so does
 *   a masked generated column: the replica computes generated values from the other columns.
 */
import type { ColumnPolicy, TablePolicy } from '../source/column-policy.js';
import { masksToText, type MaskMethod } from '../source/mask.js';
import { identityIndexOf, type CatalogIndex, type CatalogTable } from './catalog.js';

export interface PolicyTable {
  table: CatalogTable;
  /** Masked columns by name (the copy masks them). */
  masks: Map<string, MaskMethod>;
  skippedIndexes: { name: string; reason: string }[];
  /** Why the policy refuses the table (message and what to do), or null. */
  problem: string | null;
  /** The policy to record beside the replica (elt.tables.column_policy). */
  recorded: TablePolicy;
}

export function applyColumnPolicy(source: CatalogTable, policy: ColumnPolicy | undefined): PolicyTable {
  const none = {
    table: source,
    masks: new Map<string, MaskMethod>(),
    skippedIndexes: [],
    problem: null,
    recorded: { entries: [], keyFingerprint: null },
  };
  if (!policy?.touches(source.schema, source.name)) return none;
  const recorded = policy.forTable(source.schema, source.name, source.columns);
  const decisions = new Map(source.columns.map((c) => [c.attnum, policy.decide(source.schema, source.name, c.name)]));
  const touched = source.columns.filter((c) => decisions.get(c.attnum)!.action !== 'keep');
  if (touched.length === 0) return none;

  const identity = identityIndexOf(source);
  const keyAttnums = new Set(
    source.replicaIdentity === 'f'
      ? source.columns.map((c) => c.attnum)
      : (identity?.keyColumns.map((k) => k.attnum) ?? []),
  );
  const refusal = policy.refusal(
    source.schema,
    source.name,
    source.columns.map((c) => ({ name: c.name, isKey: keyAttnums.has(c.attnum) })),
  );
  const generated = touched.find((c) => c.generated === 's' && decisions.get(c.attnum)!.action === 'mask');
  const problem = refusal
    ? `${refusal.reason} ${refusal.hint}`
    : generated
      ? `The generated column ${generated.name} is masked by ELT_MASK_COLUMNS, but the replica computes generated values from the other columns. Exclude it (ELT_EXCLUDE_COLUMNS) instead.`
      : null;
  // A refused table is not created: planned as it is, it only carries the reason.
  if (problem) return { ...none, problem, recorded };

  const masks = new Map<string, MaskMethod>();
  const columns = source.columns.flatMap((column) => {
    const decision = decisions.get(column.attnum)!;
    if (decision.action === 'exclude') return [];
    if (decision.action === 'keep') return [column];
    masks.set(column.name, decision.method);
    return [masksToText(decision.method) ? { ...column, typeOid: 25, typeText: 'text', collation: null } : column];
  });

  const touchedNames = new Set(touched.map((c) => c.name));
  const skippedIndexes: PolicyTable['skippedIndexes'] = [];
  const indexes = source.indexes.filter((index) => {
    if (index === identity) return true;
    const reason = indexUse(index, touched, touchedNames);
    if (reason) skippedIndexes.push({ name: index.name, reason });
    return reason === null;
  });
  return { table: { ...source, columns, indexes }, masks, skippedIndexes, problem, recorded };
}

/** Why an index cannot stay under the policy, or null. */
function indexUse(index: CatalogIndex, touched: CatalogTable['columns'], touchedNames: Set<string>): string | null {
  const used = touched.find(
    (c) =>
      index.keyColumns.some((k) => k.attnum === c.attnum) ||
      index.includeColumns.some((n) => n === c.name || n === `"${c.name}"`),
  );
  if (used) return `it uses the column ${used.name}, which ELT_EXCLUDE_COLUMNS or ELT_MASK_COLUMNS leaves out or masks`;
  if (index.predicate !== null || index.keyColumns.some((k) => k.attnum === 0))
    return `its expression or predicate may use a column ELT_EXCLUDE_COLUMNS or ELT_MASK_COLUMNS leaves out or masks (${[...touchedNames].join(', ')})`;
  return null;
}
