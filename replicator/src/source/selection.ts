/**
 * Which tables of the replicated schemas are replicated: ELT_INCLUDE_TABLES and
 * ELT_EXCLUDE_TABLES, comma-separated `schema.table` globs (`*` any run of characters, `?`
 * one), matched case-sensitively against the source's schema and table names, each part on
 * its own (a `*` never crosses the dot). No include list: every table. An exclude pattern wins
 * over an include pattern. Pure: every decision carries the reason a person can act on.
 */

export interface TablePattern {
  /** As the user wrote it, for the reasons shown. */
  text: string;
  schema: RegExp;
  table: RegExp;
}

export interface SelectionDecision {
  selected: boolean;
  reason: string;
}

/** One `schema.table` glob; throws a sentence when it is not one. */
export function parsePattern(text: string): TablePattern {
  const parts = text.split('.');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '')
    throw new Error(`'${text}' is not a schema.table pattern (like public.orders or sales.*)`);
  return { text, schema: globRegExp(parts[0]!), table: globRegExp(parts[1]!) };
}

/** A comma-separated list of patterns (empty items ignored). */
export function parsePatterns(list: string): TablePattern[] {
  return list
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map(parsePattern);
}

/** A glob as a whole-string regular expression: `*` any run of characters, `?` one, everything else literal. */
export function globRegExp(glob: string): RegExp {
  const body = [...glob]
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 's');
}

function matches(pattern: TablePattern, schema: string, table: string): boolean {
  return pattern.schema.test(schema) && pattern.table.test(table);
}

export class TableSelection {
  readonly include: TablePattern[];
  readonly exclude: TablePattern[];

  constructor(include: string[] = [], exclude: string[] = []) {
    this.include = include.map(parsePattern);
    this.exclude = exclude.map(parsePattern);
  }

  /** Whether any pattern is set: without one, every table is selected and nothing differs from before selections existed. */
  get isSet(): boolean {
    return this.include.length > 0 || this.exclude.length > 0;
  }

  decide(schema: string, table: string): SelectionDecision {
    const excluded = this.exclude.find((p) => matches(p, schema, table));
    if (excluded)
      return {
        selected: false,
        reason: `Not selected: ELT_EXCLUDE_TABLES pattern '${excluded.text}' matches it. Remove that pattern to replicate it.`,
      };
    if (this.include.length === 0) return { selected: true, reason: 'Selected: ELT_INCLUDE_TABLES is not set.' };
    const included = this.include.find((p) => matches(p, schema, table));
    if (included)
      return { selected: true, reason: `Selected: ELT_INCLUDE_TABLES pattern '${included.text}' matches it.` };
    return {
      selected: false,
      reason: `Not selected: no ELT_INCLUDE_TABLES pattern matches it (${this.include.map((p) => p.text).join(',')}). Add ${schema}.${table} to ELT_INCLUDE_TABLES to replicate it.`,
    };
  }

  selects(schema: string, table: string): boolean {
    return this.decide(schema, table).selected;
  }
}
