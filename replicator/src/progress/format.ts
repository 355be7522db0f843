/**
 * The one line a person sees for a table being copied (pure), e.g.
 * `snapshot public.orders  1,234,567 / 2,000,000 rows  61.7%  12.3 MB/s  ETA 0:42`.
 */
import { figures, type Progress } from './meter.js';

export type Phase = 'snapshot' | 'resync';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** h:mm:ss or m:ss; "?" when unknown. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '?';
  const total = Math.ceil(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export function formatMegabytesPerSecond(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1_000_000).toFixed(1)} MB/s`;
}

export function formatProgressLine(phase: Phase, table: string, p: Progress): string {
  const f = figures(p);
  const of = p.rowsEstimated > 0 ? ` / ${integer.format(p.rowsEstimated)}` : '';
  const percent = f.percent === null ? '' : `  ${f.percent.toFixed(1)}%`;
  return `${phase} ${table}  ${integer.format(p.rows)}${of} rows${percent}  ${formatMegabytesPerSecond(f.bytesPerSecond)}  ETA ${formatDuration(f.etaSeconds)}`;
}
