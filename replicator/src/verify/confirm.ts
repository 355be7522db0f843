/**
 * The second look: candidate differences found at a first point are read again, by identity,
 * at a later point. Only those that still differ, with the same source row versions and no
 * replica row written since the first point, are differences (./rows.ts says why).
 */
import { formatLsn, type Lsn } from '../lsn.js';
import { identity, identityIn, relation, replicaChanged, rowHash, SOURCE_VERSION } from './chunk-sql.js';
import { toReplicaRows, toSourceRows } from './chunk.js';
import { openPoint, type PointContext } from './point.js';
import { byId, confirms, type Candidate } from './rows.js';
import type { TablePlan } from './table-plan.js';

export async function confirmCandidates(
  ctx: PointContext,
  plan: TablePlan,
  candidates: Candidate[],
  firstLsn: Lsn,
): Promise<Candidate[]> {
  if (candidates.length === 0) return [];
  const ids = JSON.stringify(candidates.map((c) => JSON.parse(c.id) as string[]));
  const point = await openPoint(ctx);
  try {
    const source = await ctx.source.query<{ k: string[]; h: string; v: string }>(
      `SELECT ${identity(plan, 'source')} AS k, ${rowHash(plan, 'source')} AS h, ${SOURCE_VERSION} AS v FROM ${relation(plan, 'source')}
       WHERE ${identityIn(plan, 'source', 1)}`,
      [ids],
    );
    const replica = await ctx.replica.query<{ k: string[]; h: string; v: string; deleted: boolean; changed: boolean }>(
      `SELECT ${identity(plan, 'replica')} AS k, ${rowHash(plan, 'replica')} AS h, coalesce(_lsn::text, '') AS v, _deleted AS deleted,
         ${replicaChanged(2)} AS changed
       FROM ${relation(plan, 'replica')} WHERE ${identityIn(plan, 'replica', 1)}`,
      [ids, formatLsn(firstLsn)],
    );
    const sourceRows = byId(toSourceRows(source.rows));
    const present = byId(toReplicaRows(replica.rows.filter((r) => !r.deleted)));
    const changed = new Set(replica.rows.filter((r) => r.changed).map((r) => JSON.stringify(r.k)));
    return candidates.filter((c) =>
      confirms(c, {
        source: sourceRows.get(c.id) ?? [],
        replica: present.get(c.id) ?? [],
        replicaChanged: changed.has(c.id),
      }),
    );
  } finally {
    await point.close();
  }
}
