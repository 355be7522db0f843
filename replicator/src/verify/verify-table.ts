/**
 * Verify one table: chunk after chunk in key order (or the whole table when it has no key),
 * the chunks of about two seconds per point so that no source transaction stays open long; the candidate
 * differences of each group are confirmed at a later point before they count.
 */
import type { Lsn } from '../lsn.js';
import { checkChunk, type ChunkResult } from './chunk.js';
import { checkWholeTable } from './whole-table.js';
import { confirmCandidates } from './confirm.js';
import { openPoint, type PointContext } from './point.js';
import type { RateLimiter } from './rate-limit.js';
import type { Candidate, DiffKind } from './rows.js';
import { NotVerifiable, readTablePlan, type TablePlan } from './table-plan.js';

/**
 * Chunks are compared inside one source snapshot for up to this long (and at most
 * MAX_CHUNKS_PER_POINT of them): each point costs a slot creation and a wait for the replica.
 */
const POINT_BUDGET_MS = 2_000;
const MAX_CHUNKS_PER_POINT = 20;
/** Differing rows listed in a result (all are counted). */
export const LISTED_DIFFERENCES = 1_000;

export interface Difference {
  kind: DiffKind;
  /** The key's values as the source prints them; for a table without a key, the row's md5. */
  key: Record<string, string>;
  /** 1, or for a table without a key, how many copies of the row are missing or extra. */
  rows: number;
}

export interface TableResult {
  schema: string;
  table: string;
  outcome: 'equal' | 'differs' | 'skipped' | 'failed';
  rowsChecked: number;
  rowsDiffering: number;
  /** The first LISTED_DIFFERENCES differing rows, in key order within each chunk. */
  differences: Difference[];
  startedAt: Date;
  finishedAt: Date;
  /** Why the table was skipped or the verification failed. */
  reason: string | null;
}

export async function verifyTable(
  ctx: PointContext,
  limiter: RateLimiter,
  schema: string,
  table: string,
  onRows: (rows: number) => void,
): Promise<TableResult> {
  const startedAt = new Date();
  const result = (outcome: TableResult['outcome'], fields: Partial<TableResult>): TableResult => ({
    schema,
    table,
    outcome,
    rowsChecked: 0,
    rowsDiffering: 0,
    differences: [],
    startedAt,
    finishedAt: new Date(),
    reason: null,
    ...fields,
  });
  let plan: TablePlan | null = null;
  let lo: string[] | null = null;
  let rowsChecked = 0;
  let rowsDiffering = 0;
  /** The first LISTED_DIFFERENCES confirmed differences (all are counted). */
  const listed: Candidate[] = [];
  try {
    for (let done = false; !done;) {
      const group: Candidate[] = [];
      let groupRows = 0;
      const point = await openPoint(ctx);
      let lsn: Lsn;
      try {
        lsn = point.lsn;
        plan ??= await readTablePlan(ctx.source, ctx.replica, ctx.slot, schema, table);
        const until = Date.now() + POINT_BUDGET_MS;
        for (let i = 0; i < MAX_CHUNKS_PER_POINT && !done && Date.now() < until; i++) {
          const chunk: ChunkResult =
            plan.key.length === 0
              ? await checkWholeTable({ ...ctx, lsn }, plan)
              : await checkChunk({ ...ctx, lsn }, plan, lo);
          groupRows += chunk.rows;
          group.push(...chunk.candidates);
          lo = chunk.hi;
          done = chunk.hi === null;
        }
      } finally {
        await point.close();
      }
      for (const c of await confirmCandidates(ctx, plan, group, lsn)) {
        rowsDiffering += c.rows;
        if (listed.length < LISTED_DIFFERENCES) listed.push(c);
      }
      rowsChecked += groupRows;
      onRows(groupRows);
      await limiter.take(groupRows, ctx.signal);
      if (ctx.signal?.aborted) throw new Error('verification stopped');
    }
  } catch (error) {
    if (error instanceof NotVerifiable) return result('skipped', { reason: error.message });
    throw error;
  }
  const differences = listed.map((c) => describe(plan!, c));
  return result(rowsDiffering > 0 ? 'differs' : 'equal', { rowsChecked, rowsDiffering, differences });
}

function describe(plan: TablePlan, candidate: Candidate): Difference {
  const values = JSON.parse(candidate.id) as string[];
  const key =
    plan.key.length === 0
      ? { row_md5: values[0]! }
      : Object.fromEntries(plan.key.map((c, i) => [c.source, values[i]!]));
  return { kind: candidate.kind, key, rows: candidate.rows };
}
