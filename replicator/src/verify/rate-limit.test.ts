import { describe, expect, it } from 'vitest';
import { delayFor } from './rate-limit.js';

describe('verify rate limit', () => {
  it('waits until the rows read fit the rate, and never when within it', () => {
    expect(delayFor(10_000, 0, 5_000)).toBe(2_000);
    expect(delayFor(10_000, 1_500, 5_000)).toBe(500);
    expect(delayFor(10_000, 3_000, 5_000)).toBe(0);
  });
});
