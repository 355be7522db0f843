/**
 * Turns `pg_dump --schema-only` output for the source schemas into DDL for the replica's
 * target schema. Pure text in, text out.
 *
 * pg_dump writes one TOC entry per object, each behind a header comment
 * (`-- Name: orders orders_pkey; Type: CONSTRAINT; Schema: public; Owner: -`). We keep or
 * drop whole entries by their Type, then rewrite what remains:
 *
 * - schema-qualified names move from each source schema to the target schema;
 * - a partitioned table becomes one plain table named after its root (changes arrive via
 *   the root, publish_via_partition_root), and its partitions disappear;
 * - foreign keys, triggers, rules, policies and views go: the replica receives rows in
 *   batches, not in the source's statement order, and the source already enforced them;
 * - identity columns lose their generator: the replica takes the source's values;
 * - of the unique constraints, only the replica-identity key stays unique (apply is
 *   set-based, so other unique keys could collide transiently); the rest become plain
 *   indexes, still useful for queries.
 */

export interface DumpEntry {
  name: string;
  type: string;
  schema: string;
  sql: string;
}

export interface DdlPlan {
  /** Types, domains, functions, sequences, tables: run before the data. */
  preData: string;
  /** Primary keys and indexes: run after the data (faster bulk load). */
  postData: string;
}

export interface DumpFilterOptions {
  sourceSchemas: string[];
  targetSchema: string;
  /** Qualified names (as pg_dump prints them) of relations that must not appear: partitions, unpublished tables. */
  excludedRelations: string[];
  /** Names of the unique indexes that identify rows (primary key or replica identity index). */
  identityIndexes: string[];
}

const HEADER = /^--\n-- (?:Data for )?Name: (.*); Type: (.*); Schema: (.*); Owner: .*\n--\n/gm;

const DROPPED_TYPES = new Set([
  'SCHEMA',
  'VIEW',
  'MATERIALIZED VIEW',
  'MATERIALIZED VIEW DATA',
  'RULE',
  'TRIGGER',
  'EVENT TRIGGER',
  'FK CONSTRAINT',
  'POLICY',
  'ROW SECURITY',
  'PUBLICATION',
  'PUBLICATION TABLE',
  'PUBLICATION TABLES IN SCHEMA',
  'SUBSCRIPTION',
  'TABLE ATTACH',
  'INDEX ATTACH',
  'ACL',
  'DEFAULT ACL',
  'EXTENSION',
]);

const POST_DATA_TYPES = new Set(['CONSTRAINT', 'INDEX', 'STATISTICS']);

/** Split pg_dump's plain-text output into its preamble (SET lines) and TOC entries. */
export function splitDump(dump: string): { preamble: string; entries: DumpEntry[] } {
  const matches = [...dump.matchAll(HEADER)];
  const preamble = dump.slice(0, matches[0]?.index ?? dump.length);
  const entries = matches.map((match, i) => {
    const start = match.index! + match[0].length;
    const end = matches[i + 1]?.index ?? dump.length;
    // psql meta-commands (\restrict, \unrestrict) and comments are not SQL we run.
    const sql = dump
      .slice(start, end)
      .split('\n')
      .filter((line) => !line.startsWith('\\') && !line.startsWith('--'))
      .join('\n')
      .trim();
    return { name: match[1]!, type: match[2]!, schema: match[3]!, sql };
  });
  return { preamble, entries };
}

/** The way pg_dump prints an identifier: bare when it can be, else double-quoted. */
export function dumpIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

function quoteTarget(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replace `source.` qualifiers (outside identifiers) by `"target".` */
export function requalify(sql: string, sourceSchemas: string[], targetSchema: string): string {
  let out = sql;
  for (const schema of sourceSchemas) {
    const pattern = new RegExp(`(^|[^\\w."$])${escapeRegex(dumpIdent(schema))}\\.`, 'g');
    out = out.replace(pattern, `$1${quoteTarget(targetSchema)}.`);
  }
  return out;
}

function mentions(sql: string, qualifiedName: string): boolean {
  return new RegExp(`(^|[^\\w."$])${escapeRegex(qualifiedName)}($|[^\\w"$])`).test(sql);
}

function preambleStatements(preamble: string): string {
  return preamble
    .split('\n')
    .filter((line) => line.startsWith('SET ') || line.startsWith('SELECT pg_catalog.set_config'))
    .join('\n');
}

/** Rewrite a non-identity PRIMARY KEY / UNIQUE constraint as a plain index. */
function uniqueConstraintToIndex(sql: string): string | null {
  const match = /^ALTER TABLE ONLY (\S+)\s+ADD CONSTRAINT (\S+) (?:PRIMARY KEY|UNIQUE(?: NULLS NOT DISTINCT)?) (\([^)]*\))(?: INCLUDE (\([^)]*\)))?.*;$/s.exec(sql);
  if (!match) return null;
  const [, table, name, columns, include] = match;
  return `CREATE INDEX ${name} ON ${table} ${columns}${include ? ` INCLUDE ${include}` : ''};`;
}

function transformEntry(entry: DumpEntry, options: DumpFilterOptions): string | null {
  if (DROPPED_TYPES.has(entry.type)) return null;
  if (entry.type === 'COMMENT' && entry.name.startsWith('SCHEMA ')) return null;
  if (entry.type === 'SEQUENCE' && /ADD GENERATED (ALWAYS|BY DEFAULT) AS IDENTITY/.test(entry.sql)) return null;
  if (options.excludedRelations.some((relation) => mentions(entry.sql, relation))) return null;

  let sql = entry.sql;
  const constraintName = entry.name.split(' ').at(-1)!;
  if (entry.type === 'TABLE') sql = sql.replace(/\)\s*PARTITION BY [^;]*;$/s, ');');
  if (entry.type === 'INDEX') {
    sql = sql.replace(/ ON ONLY /, ' ON ');
    if (!options.identityIndexes.includes(entry.name)) sql = sql.replace(/^CREATE UNIQUE INDEX /, 'CREATE INDEX ');
  }
  if (entry.type === 'CONSTRAINT') {
    if (/\bEXCLUDE\b/.test(sql)) return null;
    if (/ (PRIMARY KEY|UNIQUE)\b/.test(sql) && !options.identityIndexes.includes(constraintName)) {
      sql = uniqueConstraintToIndex(sql) ?? sql;
    }
  }
  return requalify(sql, options.sourceSchemas, options.targetSchema);
}

export function planReplicaDdl(dump: string, options: DumpFilterOptions): DdlPlan {
  const { preamble, entries } = splitDump(dump);
  const settings = preambleStatements(preamble);
  const pre: string[] = [settings];
  const post: string[] = [settings];
  for (const entry of entries) {
    const sql = transformEntry(entry, options);
    if (sql === null) continue;
    (POST_DATA_TYPES.has(entry.type) ? post : pre).push(sql);
  }
  return { preData: pre.join('\n\n') + '\n', postData: post.join('\n\n') + '\n' };
}

/**
 * Rewrite the `COPY source.table (...) FROM stdin;` header of a data-only dump so that
 * the rows land in the target schema. Returns null for lines that are not COPY headers.
 */
export function rewriteCopyHeader(line: string, sourceSchemas: string[], targetSchema: string): string | null {
  if (!line.startsWith('COPY ')) return null;
  return requalify(line, sourceSchemas, targetSchema);
}
