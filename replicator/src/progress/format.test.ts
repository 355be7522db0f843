import { describe, expect, it } from 'vitest';
import { formatDuration, formatProgressLine } from './format.js';

describe('the progress line', () => {
  it('shows table, rows of the estimate, percent, MB/s and ETA', () => {
    const line = formatProgressLine('snapshot', 'public.orders', {
      rows: 1_234_567,
      bytes: 123_000_000,
      rowsEstimated: 2_000_000,
      elapsedMs: 10_000,
      done: false,
    });
    expect(line).toBe('snapshot public.orders  1,234,567 / 2,000,000 rows  61.7%  12.3 MB/s  ETA 0:07');
  });

  it('leaves out what it does not know', () => {
    const line = formatProgressLine('resync', 'public.notes', {
      rows: 10,
      bytes: 0,
      rowsEstimated: 0,
      elapsedMs: 0,
      done: false,
    });
    expect(line).toBe('resync public.notes  10 rows  0.0 MB/s  ETA ?');
  });

  it('writes durations as m:ss or h:mm:ss', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(61.2)).toBe('1:02');
    expect(formatDuration(3 * 3600 + 5 * 60 + 9)).toBe('3:05:09');
    expect(formatDuration(null)).toBe('?');
  });
});
