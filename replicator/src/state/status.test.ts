import { describe, expect, it } from 'vitest';
import { roundSeconds } from './status.js';

describe('roundSeconds', () => {
  it.each([
    [0.53434912109375, 0.534],
    [12.0005, 12.001],
    [-0.2, 0],
    [null, null],
  ])('%s s shows as %s', (seconds, shown) => {
    expect(roundSeconds(seconds)).toBe(shown);
  });
});
