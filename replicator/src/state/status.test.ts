import { describe, expect, it } from 'vitest';
import { describeColumnPolicy, roundSeconds } from './status.js';

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

describe('describeColumnPolicy', () => {
  it.each([
    [[], [], null],
    [['ssn'], [], 'excluded columns: ssn'],
    [
      ['ssn', 'secret'],
      [
        { column: 'email', method: 'hash' },
        { column: 'phone', method: 'redact:3' },
      ],
      'excluded columns: ssn, secret; masked columns: email (hash), phone (redact:3)',
    ],
  ])('excluded %j masked %j: %j', (excluded, masked, line) => {
    expect(describeColumnPolicy({ excluded_columns: excluded, masked_columns: masked })).toBe(line);
  });
});
