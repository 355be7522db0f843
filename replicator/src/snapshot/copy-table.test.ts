import { describe, expect, test } from 'vitest';
import { copyFormatFor } from './copy-table.js';

// int4 23, text 25, numeric 1700, timestamptz 1184, jsonb 3802, int4[] 1007, regclass 2205,
// regtype[] 2211, int2vector 22, oidvector 30, aclitem 1033 (no binary I/O); 16385 stands for a type created on the source
// (an enum, a domain, an extension's).
const builtIn = (...oids: number[]) => oids.map((typeOid) => ({ typeOid, binaryIo: true }));

describe('copyFormatFor', () => {
  test.each([
    { what: 'built-in types', columns: builtIn(23, 25, 1700, 1184, 3802, 1007), format: 'binary' },
    { what: 'no columns', columns: [], format: 'binary' },
    { what: 'a type created on the source', columns: builtIn(23, 16385), format: 'text' },
    { what: 'a reg* type', columns: builtIn(23, 2205), format: 'text' },
    { what: 'an array of a reg* type', columns: builtIn(2211), format: 'text' },
    { what: 'int2vector', columns: builtIn(23, 22), format: 'text' },
    { what: 'oidvector', columns: builtIn(30), format: 'text' },
    {
      what: 'a type without binary I/O',
      columns: [...builtIn(23), { typeOid: 1033, binaryIo: false }],
      format: 'text',
    },
    { what: 'an unknown column', columns: [{ typeOid: Number.POSITIVE_INFINITY, binaryIo: false }], format: 'text' },
  ])('$what: $format', ({ columns, format }) => {
    expect(copyFormatFor({ columns, masked: false, serversMatch: true })).toBe(format);
  });

  test('text when a column is masked or the servers differ in major version or encoding', () => {
    const columns = builtIn(23, 25);
    expect(copyFormatFor({ columns, masked: true, serversMatch: true })).toBe('text');
    expect(copyFormatFor({ columns, masked: false, serversMatch: false })).toBe('text');
  });
});
