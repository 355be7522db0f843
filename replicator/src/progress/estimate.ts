/**
 * How many rows a table holds, from what the catalog already knows (pure: the figures come
 * from ./table-estimate.ts).
 *
 * Per partition leaf (a plain table is its own only leaf), the way the planner does it:
 * pg_class.reltuples / relpages is the row density the last ANALYZE or VACUUM measured, and
 * the relation's current size in pages scales it to today. `reltuples = -1` (never
 * analyzed, as after a bulk load) gives no density: a table with such a leaf is counted
 * instead, through the table itself (the role may read it, not always its partitions):
 * exactly when it is small (16 MB at most), from a sample of about 1,000 of its pages
 * (TABLESAMPLE SYSTEM) when it is bigger.
 */

/** One partition leaf (or plain table) as pg_class and the file size see it. */
export interface LeafStatistics {
  /** pg_class.reltuples: -1 when never analyzed or vacuumed. */
  reltuples: number;
  /** pg_class.relpages at the time of reltuples. */
  relpages: number;
  /** The relation's size in pages now. */
  pages: number;
}

/** How a leaf without statistics is counted. */
export type CountPlan = { kind: 'exact' } | { kind: 'sample'; percent: number };

/** At most this many pages (16 MB) are counted exactly; bigger leaves are sampled. */
export const EXACT_COUNT_MAX_PAGES = 2_048;
/** About this many pages are read to sample a big leaf (TABLESAMPLE SYSTEM). */
export const SAMPLE_PAGES = 1_000;

/** Rows in the leaf from its statistics, or null when it has none to go on. */
export function leafRowsFromStatistics(leaf: LeafStatistics): number | null {
  if (leaf.pages === 0) return 0;
  if (leaf.reltuples < 0 || leaf.relpages <= 0) return null;
  return Math.round((leaf.reltuples / leaf.relpages) * leaf.pages);
}

/** Rows in all the leaves from their statistics, or null when one of them has none. */
export function rowsFromStatistics(leaves: LeafStatistics[]): number | null {
  let rows = 0;
  for (const leaf of leaves) {
    const n = leafRowsFromStatistics(leaf);
    if (n === null) return null;
    rows += n;
  }
  return rows;
}

/** How to count a table of `pages` pages (all leaves) that lacks statistics. */
export function countPlan(pages: number): CountPlan {
  if (pages <= EXACT_COUNT_MAX_PAGES) return { kind: 'exact' };
  return { kind: 'sample', percent: Math.min(100, (100 * SAMPLE_PAGES) / pages) };
}

/** The whole table's rows from a count under `plan`. */
export function rowsFromCount(counted: number, plan: CountPlan): number {
  return plan.kind === 'exact' ? counted : Math.round((counted * 100) / plan.percent);
}
