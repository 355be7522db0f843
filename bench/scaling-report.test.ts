import { describe, expect, test } from 'vitest';
import type { BenchResults } from './context.js';
import { growth, measurements, renderScaling, type Measurement } from './scaling-report.js';

const ok = { ok: true, detail: 'ok' };

function results(
  scale: number,
  seconds: { snapshot: number; backlog: number; bigtx: number },
  rss: number,
): BenchResults {
  const rows = scale * 100_000;
  return {
    startedAt: '2026-12-02T01:00:00.000Z',
    finishedAt: '',
    command: '',
    machine: { cpus: 2, cpuModel: 'cpu', memoryBytes: 1, postgres: 'PostgreSQL 15', node: '20' },
    options: {} as BenchResults['options'],
    datasets: [{ name: 'pgbench', db: 'pgbench', sourceUrl: '', rows: rows + scale * 11, bytes: 1 }],
    snapshot: [
      {
        dataset: 'pgbench',
        method: 'pg_dump | psql',
        system: 'pg_dump | psql',
        seconds: seconds.snapshot,
        mbPerSecond: 1,
        rowsPerSecond: 1,
        speedVsDumpPsql: 1,
        check: ok,
      },
    ],
    steady: [],
    backlog: [
      {
        system: 'elt',
        changes: scale * 20_000,
        seconds: seconds.backlog,
        changesPerSecond: 1,
        startupSeconds: 0.1,
        speedVsNative: 1,
        check: ok,
      },
    ],
    bigTransaction: [
      {
        system: 'elt',
        rows,
        sourceSeconds: 1,
        commitToAppliedSeconds: seconds.bigtx,
        timeVsNative: 1,
        peakRssBytes: rss * 1024 * 1024,
        check: ok,
      },
    ],
    verify: [],
    errors: [],
  };
}

const m = (items: number, seconds: number, ok = true): Measurement => ({
  scenario: 'backlog drain',
  system: 'elt',
  items,
  seconds,
  peakRssBytes: null,
  ok,
});

describe('growth', () => {
  test.each([
    { name: 'linear', small: m(1e6, 10), large: m(5e6, 50), expected: 1 },
    { name: 'each row a quarter dearer', small: m(1e6, 10), large: m(5e6, 62.5), expected: 1.25 },
    { name: 'faster per row at size', small: m(2e6, 10), large: m(10e6, 40), expected: 0.8 },
  ])('$name', ({ small, large, expected }) => {
    expect(growth(small, large)).toBeCloseTo(expected, 6);
  });

  test('is not a number when either run failed its check or is missing', () => {
    expect(growth(m(1e6, 10, false), m(5e6, 50))).toBeNaN();
    expect(growth(m(1e6, 10), undefined)).toBeNaN();
  });
});

test('measurements take the rows of the dataset for a snapshot, the changes for a backlog', () => {
  const list = measurements(results(20, { snapshot: 3, backlog: 8, bigtx: 20 }, 200));
  expect(list.map((x) => [x.scenario, x.system, x.items, x.seconds])).toEqual([
    ['snapshot', 'pg_dump | psql (pgbench)', 2_000_220, 3],
    ['backlog drain', 'elt', 400_000, 8],
    ['big transaction', 'elt', 2_000_000, 20],
  ]);
});

test('the report sets the scales side by side with the growth and the peak memory', () => {
  const markdown = renderScaling(
    [
      { scale: 100, results: results(100, { snapshot: 15, backlog: 40, bigtx: 125 }, 210) },
      { scale: 20, results: results(20, { snapshot: 3, backlog: 8, bigtx: 20 }, 200) },
    ],
    'npx tsx bench/scaling.ts',
  );
  const lines = markdown.split('\n');
  expect(lines.find((l) => l.startsWith('| backlog drain | elt |'))).toBe(
    '| backlog drain | elt | 400,000 | 8.00 | 20.00 | 2,000,000 | 40.00 | 20.00 | 1.00 |',
  );
  expect(lines.find((l) => l.startsWith('| big transaction | elt |'))).toBe(
    '| big transaction | elt | 2,000,000 | 20.00 | 10.00 | 10,000,000 | 125.00 | 12.50 | 1.25 |',
  );
  expect(lines).toContain('| elt | 200 | 210 |');
});
