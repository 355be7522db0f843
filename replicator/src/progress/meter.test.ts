import { describe, expect, it } from 'vitest';
import { figures, percentOf } from './meter.js';

describe('progress figures', () => {
  it('gives rate, percent and time left from the rows copied so far', () => {
    const f = figures({ rows: 250_000, bytes: 50_000_000, rowsEstimated: 1_000_000, elapsedMs: 10_000, done: false });
    expect(f.rowsPerSecond).toBe(25_000);
    expect(f.bytesPerSecond).toBe(5_000_000);
    expect(f.percent).toBe(25);
    expect(f.etaSeconds).toBe(30);
  });

  it('measures the rate from the first sighting when the copy was seen late', () => {
    const f = figures({
      rows: 300,
      bytes: 3_000,
      rowsAtStart: 100,
      bytesAtStart: 1_000,
      rowsEstimated: 500,
      elapsedMs: 2_000,
      done: false,
    });
    expect(f).toEqual({ percent: 60, rowsPerSecond: 100, bytesPerSecond: 1_000, etaSeconds: 2 });
  });

  it('never says 100 % while the copy runs, even when the estimate fell short', () => {
    expect(percentOf(73_059, 35_416, false)).toBe(99.9);
    expect(percentOf(999_999, 1_000_000, false)).toBe(99.9);
    expect(percentOf(10, 35_416, true)).toBe(100);
    expect(figures({ rows: 73_059, bytes: 1, rowsEstimated: 35_416, elapsedMs: 1_000, done: false }).etaSeconds).toBe(
      0,
    );
  });

  it('has no percent or time left without an estimate, and no rate before any time has passed', () => {
    const f = figures({ rows: 100, bytes: 1_000, rowsEstimated: 0, elapsedMs: 0, done: false });
    expect(f).toEqual({ percent: null, rowsPerSecond: 0, bytesPerSecond: 0, etaSeconds: null });
  });
});
