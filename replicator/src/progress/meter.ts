/**
 * Where one table's copy stands (pure): rows and bytes so far against the estimate, the
 * rate since the copy started, the time left at that rate, and a percent that stays below
 * 100 until the copy is done, however wrong the estimate was.
 */

export interface Progress {
  rows: number;
  bytes: number;
  rowsEstimated: number;
  /** Milliseconds since the copy started (or was first seen). */
  elapsedMs: number;
  done: boolean;
  /** Rows and bytes already copied when it was first seen (by a watcher that came late); 0 by default. */
  rowsAtStart?: number;
  bytesAtStart?: number;
}

export interface ProgressFigures {
  /** One decimal; null without an estimate; at most 99.9 while running, 100 when done. */
  percent: number | null;
  rowsPerSecond: number;
  bytesPerSecond: number;
  /** Seconds left at the current rate; null when unknown (no estimate, no rate yet) or done. */
  etaSeconds: number | null;
}

/** The highest percent shown while a copy runs: an estimate can be short, the copy is not done. */
export const RUNNING_PERCENT_MAX = 99.9;

export function percentOf(rows: number, estimated: number, done: boolean): number | null {
  if (done) return 100;
  if (estimated <= 0) return null;
  return Math.min(RUNNING_PERCENT_MAX, Math.floor((rows / estimated) * 1000) / 10);
}

export function figures(p: Progress): ProgressFigures {
  const seconds = p.elapsedMs / 1000;
  const rowsPerSecond = seconds > 0 ? (p.rows - (p.rowsAtStart ?? 0)) / seconds : 0;
  const bytesPerSecond = seconds > 0 ? (p.bytes - (p.bytesAtStart ?? 0)) / seconds : 0;
  let etaSeconds: number | null = null;
  if (!p.done && p.rowsEstimated > 0 && rowsPerSecond > 0)
    etaSeconds = Math.max(0, p.rowsEstimated - p.rows) / rowsPerSecond;
  return { percent: percentOf(p.rows, p.rowsEstimated, p.done), rowsPerSecond, bytesPerSecond, etaSeconds };
}
