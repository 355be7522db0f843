/**
 * One chunk of a table with a key, compared at a point: the rows whose key is above the last
 * chunk's end, up to the next CHUNK_ROWS of the source's key order (the last chunk has no end,
 * so rows the replica has past the source's last key are in it). Replica rows written since
 * the point (_lsn) are left out on both sides; then the checksums are compared, and only when
 * they differ are the chunk's rows compared one by one.
 */
import type pg from 'pg';
import { formatLsn, type Lsn } from '../lsn.js';
import {
  checksumOf,
  identity,
  identityIn,
  keyOrder,
  keyRange,
  relation,
  REPLICA_PRESENT,
  replicaChanged,
  replicaUnchanged,
  rowHash,
  SOURCE_VERSION,
  type Side,
} from './chunk-sql.js';
import { diffRows, type Candidate, type ReplicaRow, type SourceRow } from './rows.js';
import type { TablePlan } from './table-plan.js';

export const CHUNK_ROWS = 10_000;

export interface ChunkResult {
  /** The chunk's last key (text), or null when it was the table's last chunk. */
  hi: string[] | null;
  /** Source rows compared. */
  rows: number;
  candidates: Candidate[];
}

interface Sides {
  source: pg.Client;
  replica: pg.Client;
  lsn: Lsn;
}

export async function checkChunk(
  db: Sides,
  plan: TablePlan,
  lo: string[] | null,
  chunkRows = CHUNK_ROWS,
): Promise<ChunkResult> {
  const src = relation(plan, 'source');
  const bounds = { lo: lo !== null, hi: false };
  const { rows: ends } = await db.source.query<{ k: string[] }>(
    `SELECT ${identity(plan, 'source')} AS k FROM ${src} WHERE ${keyRange(plan, 'source', bounds, 1)} ORDER BY ${keyOrder(plan, 'source')} OFFSET $${lo ? 2 : 1} LIMIT 1`,
    [...(lo ? [lo] : []), chunkRows - 1],
  );
  const hi = ends[0]?.k ?? null;
  const range = { lo: lo !== null, hi: hi !== null };
  const params = [...(lo ? [lo] : []), ...(hi ? [hi] : [])];
  const where = (side: Side) => keyRange(plan, side, range, 1);
  const next = params.length + 1;
  const lsn = formatLsn(db.lsn);

  const { rows: changed } = await db.replica.query<{ k: string[] }>(
    `SELECT ${identity(plan, 'replica')} AS k FROM ${relation(plan, 'replica')} WHERE ${where('replica')} AND ${replicaChanged(next)}`,
    [...params, lsn],
  );
  const excluded = JSON.stringify(changed.map((r) => r.k));
  const sourceHashes = `SELECT ${rowHash(plan, 'source')} AS h FROM ${src} WHERE ${where('source')} AND NOT ${identityIn(plan, 'source', next)}`;
  const replicaHashes = `SELECT ${rowHash(plan, 'replica')} AS h FROM ${relation(plan, 'replica')} WHERE ${where('replica')} AND ${REPLICA_PRESENT} AND ${replicaUnchanged(next)}`;
  const [sourceSum] = (await db.source.query<{ n: string; s: string }>(checksumOf(sourceHashes), [...params, excluded]))
    .rows;
  const [replicaSum] = (await db.replica.query<{ n: string; s: string }>(checksumOf(replicaHashes), [...params, lsn]))
    .rows;
  const rows = Number(sourceSum!.n);
  if (sourceSum!.n === replicaSum!.n && sourceSum!.s === replicaSum!.s) return { hi, rows, candidates: [] };

  const sourceRows = await db.source.query<{ k: string[]; h: string; v: string }>(
    `SELECT ${identity(plan, 'source')} AS k, ${rowHash(plan, 'source')} AS h, ${SOURCE_VERSION} AS v FROM ${src}
     WHERE ${where('source')} AND NOT ${identityIn(plan, 'source', next)}`,
    [...params, excluded],
  );
  const replicaRows = await db.replica.query<{ k: string[]; h: string; v: string }>(
    `SELECT ${identity(plan, 'replica')} AS k, ${rowHash(plan, 'replica')} AS h, coalesce(_lsn::text, '') AS v FROM ${relation(plan, 'replica')}
     WHERE ${where('replica')} AND ${REPLICA_PRESENT} AND ${replicaUnchanged(next)}`,
    [...params, lsn],
  );
  return { hi, rows, candidates: diffRows(toSourceRows(sourceRows.rows), toReplicaRows(replicaRows.rows)) };
}

export function toSourceRows(rows: { k: string[]; h: string; v: string }[]): SourceRow[] {
  return rows.map((r) => ({ id: JSON.stringify(r.k), hash: r.h, version: r.v }));
}

export function toReplicaRows(rows: { k: string[]; h: string; v: string }[]): ReplicaRow[] {
  return rows.map((r) => ({ id: JSON.stringify(r.k), hash: r.h, lsn: r.v }));
}
