/**
 * The one place SQL identifiers are quoted. Values always travel as parameters.
 */

/** Quote an identifier the way PostgreSQL's quote_ident does (always quoted: simpler, never wrong). */
export function ident(name: string): string {
  if (name.includes('\0')) throw new Error(`identifier contains a NUL byte: ${JSON.stringify(name)}`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** schema.table, both quoted. */
export function qualified(schema: string, table: string): string {
  return `${ident(schema)}.${ident(table)}`;
}

/** A string literal, for the few statements that cannot take parameters (replication commands, DDL defaults). */
export function literal(value: string): string {
  if (value.includes('\0')) throw new Error('literal contains a NUL byte');
  return `'${value.replaceAll("'", "''")}'`;
}
