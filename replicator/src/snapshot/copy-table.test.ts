import { describe, expect, test } from 'vitest';
import { copyFormatFor } from './copy-table.js';

// int4 23, text 25, numeric 1700, timestamptz 1184, jsonb 3802, int4[] 1007, regclass 2205,
// regtype[] 2211; 16385 stands for a type created on the source (an enum, a domain, an extension's).
describe('copyFormatFor', () => {
  test.each([
    { typeOids: [23, 25, 1700, 1184, 3802, 1007], masked: false, same: true, format: 'binary' },
    { typeOids: [], masked: false, same: true, format: 'binary' },
    { typeOids: [23, 16385], masked: false, same: true, format: 'text' },
    { typeOids: [23, 2205], masked: false, same: true, format: 'text' },
    { typeOids: [2211], masked: false, same: true, format: 'text' },
    { typeOids: [23, 25], masked: true, same: true, format: 'text' },
    { typeOids: [23, 25], masked: false, same: false, format: 'text' },
    { typeOids: [Number.POSITIVE_INFINITY], masked: false, same: true, format: 'text' },
  ])('$typeOids, masked $masked, same major version $same: $format', ({ typeOids, masked, same, format }) => {
    expect(copyFormatFor({ typeOids, masked, sameMajorVersion: same })).toBe(format);
  });
});
