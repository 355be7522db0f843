import { describe, expect, it } from 'vitest';
import { countPlan, EXACT_COUNT_MAX_PAGES, rowsFromCount, rowsFromStatistics } from './estimate.js';

describe('row estimates from the catalog', () => {
  it('scales the measured density to the current size, like the planner', () => {
    // Analyzed at 100 pages holding 10,000 rows; the table has grown to 150 pages since.
    expect(rowsFromStatistics([{ reltuples: 10_000, relpages: 100, pages: 150 }])).toBe(15_000);
  });

  it('sums the leaves of a partitioned table', () => {
    const leaves = [
      { reltuples: 1_000, relpages: 10, pages: 10 },
      { reltuples: 500, relpages: 5, pages: 5 },
      { reltuples: 0, relpages: 0, pages: 0 },
    ];
    expect(rowsFromStatistics(leaves)).toBe(1_500);
  });

  it('has no estimate for a table never analyzed (reltuples -1), even when one leaf of many lacks it', () => {
    expect(rowsFromStatistics([{ reltuples: -1, relpages: 0, pages: 400 }])).toBeNull();
    expect(
      rowsFromStatistics([
        { reltuples: 1_000, relpages: 10, pages: 10 },
        { reltuples: -1, relpages: 0, pages: 3 },
      ]),
    ).toBeNull();
  });

  it('knows an empty file holds no rows, whatever stale statistics say', () => {
    expect(rowsFromStatistics([{ reltuples: -1, relpages: 0, pages: 0 }])).toBe(0);
    expect(rowsFromStatistics([{ reltuples: 5_000, relpages: 50, pages: 0 }])).toBe(0);
  });

  it('counts small tables exactly and samples about 1,000 pages of big ones', () => {
    expect(countPlan(EXACT_COUNT_MAX_PAGES)).toEqual({ kind: 'exact' });
    const plan = countPlan(100_000);
    expect(plan).toEqual({ kind: 'sample', percent: 1 });
    expect(rowsFromCount(1_234, plan)).toBe(123_400);
    expect(rowsFromCount(1_234, { kind: 'exact' })).toBe(1_234);
  });
});
