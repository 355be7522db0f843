/**
 * The check every scenario ends with: each destination holds exactly the source's rows.
 *
 * Per table: row count and an order-independent checksum, the sum of the first 64 bits of
 * md5(row::text) over the source's columns (the replica's _synced_at/_lsn/_deleted are
 * left out). Summing instead of string_agg(... ORDER BY) needs no sort, so the check of a
 * 2 M-row table takes seconds, not minutes; a missing, extra or different row changes the
 * sum except with probability about 2^-64.
 */
import pg from 'pg';
import { replicatedTables, sourceColumns } from '../harness/replication.js';
import { ident, qualified } from '../replicator/src/sql.js';

export interface TableCheck {
  table: string;
  source: { rows: number; sum: string };
  replica: { rows: number; sum: string } | null;
}

export interface CopyCheck {
  ok: boolean;
  tables: number;
  rows: number;
  /** Tables that differ (or are missing in the replica). */
  differences: TableCheck[];
}

async function tableSum(
  client: pg.Client,
  schema: string,
  table: string,
  columns: string[],
): Promise<{ rows: number; sum: string } | null> {
  const exists = await client.query('SELECT to_regclass($1) IS NOT NULL AS ok', [qualified(schema, table)]);
  if (!exists.rows[0]?.ok) return null;
  const list = columns.map(ident).join(', ');
  const { rows } = await client.query<{ n: string; s: string | null }>(
    `SELECT count(*) AS n, sum(('x' || left(md5(r::text), 16))::bit(64)::bigint::numeric)::text AS s
     FROM (SELECT ${list} FROM ${qualified(schema, table)}) r`,
  );
  return { rows: Number(rows[0]!.n), sum: rows[0]!.s ?? '0' };
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'elt-bench-verify' });
  await client.connect();
  await client.query("SET timezone = 'UTC'; SET extra_float_digits = 3; SET DateStyle = 'ISO, MDY'");
  return client;
}

/** Compare every table of the source's `public` schema with its copy in `targetSchema` at `destinationUrl`. */
export async function checkCopy(sourceUrl: string, destinationUrl: string, targetSchema: string): Promise<CopyCheck> {
  const [source, replica] = await Promise.all([connect(sourceUrl), connect(destinationUrl)]);
  try {
    const differences: TableCheck[] = [];
    const tables = await replicatedTables(sourceUrl, 'public');
    let rows = 0;
    for (const table of tables) {
      const columns = await sourceColumns(sourceUrl, 'public', table);
      const [s, r] = await Promise.all([
        tableSum(source, 'public', table, columns),
        tableSum(replica, targetSchema, table, columns),
      ]);
      rows += s!.rows;
      if (!r || r.rows !== s!.rows || r.sum !== s!.sum) differences.push({ table, source: s!, replica: r });
    }
    return { ok: differences.length === 0, tables: tables.length, rows, differences };
  } finally {
    await Promise.allSettled([source.end(), replica.end()]);
  }
}

/** One line for a failed check: which tables, and how their counts differ. */
export function describeCheck(check: CopyCheck): string {
  if (check.ok) return `ok (${check.tables} tables, ${check.rows} rows)`;
  return check.differences
    .map(
      (d) =>
        `${d.table}: source ${d.source.rows} rows, replica ${d.replica ? `${d.replica.rows} rows${d.replica.rows === d.source.rows ? ' (checksum differs)' : ''}` : 'missing'}`,
    )
    .join('; ');
}

/** Check a copy and describe it in one line; never throws (an error is a failed check). */
export async function verifyCopy(
  sourceUrl: string,
  destinationUrl: string,
  targetSchema: string,
): Promise<{ ok: boolean; detail: string }> {
  try {
    const check = await checkCopy(sourceUrl, destinationUrl, targetSchema);
    return { ok: check.ok, detail: describeCheck(check) };
  } catch (error) {
    return { ok: false, detail: `check failed: ${(error as Error).message}` };
  }
}
