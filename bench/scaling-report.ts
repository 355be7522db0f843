/**
 * Runs of bench/run.ts at two or more scales, side by side: for each scenario and system, the
 * seconds per million rows (or changes) at each scale and how time grew against the rows.
 * Growth = (seconds at the larger scale / seconds at the smallest) / (rows there / rows at the
 * smallest): 1.00 is linear, 1.25 means each row cost a quarter more at the larger size.
 */
import type { BenchResults } from './context.js';
import { MB, int, num, table } from './markdown.js';

/** One figure of one run: a scenario, the system measured, how much it moved and how long it took. */
export interface Measurement {
  scenario: 'snapshot' | 'backlog drain' | 'big transaction';
  system: string;
  /** Rows copied (snapshot, big transaction) or changes applied (backlog). */
  items: number;
  seconds: number;
  peakRssBytes: number | null;
  ok: boolean;
}

/** The measurements of one run that scale with the data (pgbench's tables). */
export function measurements(results: BenchResults): Measurement[] {
  const rowsOf = (dataset: string) => results.datasets.find((d) => d.name === dataset)?.rows ?? Number.NaN;
  return [
    ...results.snapshot.map((r) => ({
      scenario: 'snapshot' as const,
      system: `${r.method} (${r.dataset})`,
      items: rowsOf(r.dataset),
      seconds: r.seconds,
      peakRssBytes: null,
      ok: r.check.ok,
    })),
    ...results.backlog.map((r) => ({
      scenario: 'backlog drain' as const,
      system: r.system,
      items: r.changes,
      seconds: r.seconds,
      peakRssBytes: null,
      ok: r.check.ok,
    })),
    ...results.bigTransaction.map((r) => ({
      scenario: 'big transaction' as const,
      system: r.system,
      items: r.rows,
      seconds: r.commitToAppliedSeconds,
      peakRssBytes: r.peakRssBytes,
      ok: r.check.ok,
    })),
  ];
}

/** Time growth over item growth from `small` to `large`; NaN when either is missing or failed. */
export function growth(small: Measurement | undefined, large: Measurement | undefined): number {
  if (!small?.ok || !large?.ok || small.seconds <= 0 || small.items <= 0) return Number.NaN;
  return large.seconds / small.seconds / (large.items / small.items);
}

export interface ScaledRun {
  scale: number;
  results: BenchResults;
}

/** The markdown of a scaling run: one row per scenario and system, columns per scale. */
export function renderScaling(runs: ScaledRun[], command: string): string {
  const sorted = [...runs].sort((a, b) => a.scale - b.scale);
  const perRun = sorted.map((run) => measurements(run.results));
  const keys = [...new Map(perRun.flat().map((m) => [`${m.scenario}\u0000${m.system}`, m])).values()];
  const find = (list: Measurement[], key: Measurement) =>
    list.find((m) => m.scenario === key.scenario && m.system === key.system);
  const largest = perRun.at(-1) ?? [];

  const header = [
    'scenario',
    'system',
    ...sorted.flatMap((r) => [`scale ${r.scale}: rows`, `s`, `s per M rows`]),
    `growth ${sorted[0]?.scale}→${sorted.at(-1)?.scale} (1.00 = linear)`,
  ];
  const rows = keys.map((key) => [
    key.scenario,
    key.system,
    ...perRun.flatMap((list) => {
      const m = find(list, key);
      if (!m) return ['–', '–', '–'];
      if (!m.ok) return [int(m.items), 'FAIL', 'FAIL'];
      return [int(m.items), num(m.seconds), num(m.seconds / (m.items / 1e6))];
    }),
    num(growth(find(perRun[0] ?? [], key), find(largest, key))),
  ]);

  const memory = keys
    .filter((key) => key.peakRssBytes !== null)
    .map((key) => [
      key.system,
      ...perRun.map((list) => {
        const m = find(list, key);
        return m?.peakRssBytes == null ? '–' : num(m.peakRssBytes / MB, 0);
      }),
    ]);

  const first = sorted[0]?.results;
  const out = [
    `## elt bench at scales ${sorted.map((r) => r.scale).join(', ')}, ${first?.startedAt.slice(0, 10) ?? ''}`,
    '',
    first
      ? `${first.machine.cpus} × ${first.machine.cpuModel}; ${first.machine.postgres}; Node ${first.machine.node}. Command: \`${command}\`; ` +
        'each scale is a run of bench/run.ts on fresh clusters (its own tables in the files beside this one).'
      : '',
    '',
    table(header, rows),
  ];
  if (memory.length)
    out.push(
      '',
      'Peak RSS of the replicator during the big transaction (MB):',
      '',
      table(['system', ...sorted.map((r) => `scale ${r.scale}`)], memory),
    );
  const errors = sorted.flatMap((r) =>
    r.results.errors.map((e) => `- scale ${r.scale}, ${e.scenario}: ${e.message.split('\n')[0]}`),
  );
  if (errors.length) out.push('', '### Scenarios that did not finish (FAIL)', '', ...errors);
  return out.join('\n') + '\n';
}
