import { describe, expect, it } from 'vitest';
import { formatLsn, lastRecordEnd, maxLsn, parseLsn } from './lsn.js';

describe('lsn', () => {
  it.each([
    ['0/0', 0n],
    ['0/16B3748', 0x16b3748n],
    ['16/B374D848', (0x16n << 32n) | 0xb374d848n],
    ['FFFFFFFF/FFFFFFFF', 0xffffffffffffffffn],
  ])('%s round-trips', (text, value) => {
    expect(parseLsn(text)).toBe(value);
    expect(formatLsn(value)).toBe(text);
  });

  it('compares across the 32-bit boundary', () => {
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    expect(maxLsn(parseLsn('1/0'), parseLsn('0/FFFFFFFF'))).toBe(parseLsn('1/0'));
  });

  it('rejects what is not an LSN', () => {
    expect(() => parseLsn('16B374D848')).toThrow(/Not an LSN/);
    expect(() => parseLsn('')).toThrow(/Not an LSN/);
  });
});

describe('lastRecordEnd', () => {
  it.each([
    ['0/16B3748', '0/16B3748'], // inside a page: the insert position is the last record's end
    ['0/2018', '0/2000'], // just past a page header: the record ended at the page boundary
    ['0/1000028', '0/1000000'], // just past a segment's long header
    ['0/2028', '0/2028'], // a record may end there (page 0/2000 has a short header)
  ])('insert position %s: the stream reaches %s', (insert, end) => {
    expect(formatLsn(lastRecordEnd(parseLsn(insert)))).toBe(end);
  });
});
