/**
 * A table without a key, compared whole at one point: its rows are a multiset, identified by
 * their hash. The rows fall into 256 buckets by the first byte of their hash; each bucket's
 * checksum is compared, and only the rows of buckets that differ are read. Replica rows
 * written since the point are left out of the replica's side (the source cannot tell which
 * rows they were): such a row's old version looks missing, and the confirmation at a later
 * point, where that source version is gone, dismisses it.
 */
import type pg from 'pg';
import { formatLsn, type Lsn } from '../lsn.js';
import { relation, REPLICA_PRESENT, replicaUnchanged, rowHash, SOURCE_VERSION } from './chunk-sql.js';
import { toReplicaRows, toSourceRows, type ChunkResult } from './chunk.js';
import { diffRows } from './rows.js';
import type { TablePlan } from './table-plan.js';

interface Sides {
  source: pg.Client;
  replica: pg.Client;
  lsn: Lsn;
}

const bucketSums = (hashes: string) =>
  `SELECT left(h, 2) AS b, count(*)::text AS n, sum(('x' || left(h, 16))::bit(64)::bigint::numeric)::text AS s FROM (${hashes}) r GROUP BY 1`;

export async function checkWholeTable(db: Sides, plan: TablePlan): Promise<ChunkResult> {
  const lsn = formatLsn(db.lsn);
  const src = relation(plan, 'source');
  const rep = relation(plan, 'replica');
  const sourceHash = rowHash(plan, 'source');
  const replicaHash = rowHash(plan, 'replica');
  const source = await db.source.query<{ b: string; n: string; s: string }>(
    bucketSums(`SELECT ${sourceHash} AS h FROM ${src}`),
  );
  const replica = await db.replica.query<{ b: string; n: string; s: string }>(
    bucketSums(`SELECT ${replicaHash} AS h FROM ${rep} WHERE ${REPLICA_PRESENT} AND ${replicaUnchanged(1)}`),
    [lsn],
  );
  const rows = source.rows.reduce((sum, r) => sum + Number(r.n), 0);
  const replicaBuckets = new Map(replica.rows.map((r) => [r.b, `${r.n}/${r.s}`]));
  const sourceBuckets = new Map(source.rows.map((r) => [r.b, `${r.n}/${r.s}`]));
  const differing = [...new Set([...sourceBuckets.keys(), ...replicaBuckets.keys()])].filter(
    (b) => sourceBuckets.get(b) !== replicaBuckets.get(b),
  );
  if (differing.length === 0) return { hi: null, rows, candidates: [] };
  const sourceRows = await db.source.query<{ k: string[]; h: string; v: string }>(
    `SELECT ARRAY[h] AS k, h, v FROM (SELECT ${sourceHash} AS h, ${SOURCE_VERSION} AS v FROM ${src}) r WHERE left(h, 2) = ANY($1)`,
    [differing],
  );
  const replicaRows = await db.replica.query<{ k: string[]; h: string; v: string }>(
    `SELECT ARRAY[h] AS k, h, v FROM (SELECT ${replicaHash} AS h, coalesce(_lsn::text, '') AS v FROM ${rep}
     WHERE ${REPLICA_PRESENT} AND ${replicaUnchanged(2)}) r WHERE left(h, 2) = ANY($1)`,
    [differing, lsn],
  );
  return { hi: null, rows, candidates: diffRows(toSourceRows(sourceRows.rows), toReplicaRows(replicaRows.rows)) };
}
