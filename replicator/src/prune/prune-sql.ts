/**
 * The SQL of one prune chunk (pure): remove at most `limit` rows of a replica table that were
 * marked deleted before the pass's cutoff. The rows are found by a scan that stops at the
 * limit and removed by their ctid, so one statement touches a bounded number of rows and
 * holds their locks only for as long as it runs. The condition is checked again on each row.
 */
import { ident } from '../sql.js';

/** `$1` is the cutoff (timestamptz): rows whose `_synced_at` is before it go. */
export function pruneChunkSql(schema: string, table: string, limit: number): string {
  const target = `ONLY ${ident(schema)}.${ident(table)}`;
  const old = '_deleted AND _synced_at < $1::timestamptz';
  return `DELETE FROM ${target} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${target} WHERE ${old} LIMIT ${Math.trunc(limit)})) AND ${old}`;
}
