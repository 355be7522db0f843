import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('durations', () => {
  it.each([
    ['30d', 2_592_000],
    ['12h', 43_200],
    ['90m', 5_400],
    ['45s', 45],
    [' 7D ', 604_800],
  ])('%j is %d seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', '30', 'd', '1.5d', '-1d', '3w', '1d2h', 'off'])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it('formats with the largest exact unit', () => {
    expect([2_592_000, 3_600, 5_400, 90, 0].map(formatDuration)).toEqual(['30d', '1h', '90m', '90s', '0s']);
  });
});
