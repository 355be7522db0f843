import { describe, expect, it } from 'vitest';
import { errorWithoutRowData } from './log.js';

describe('logged errors carry no row data', () => {
  it('drops the fields in which PostgreSQL quotes a row, from the error and its cause', () => {
    const pgError = Object.assign(new Error('new row for relation "vault" violates check constraint "probe"'), {
      code: '23514',
      detail: 'Failing row contains (ROWSECRET, 42).',
      where: 'COPY vault, line 1: "ROWSECRET\t42"',
      internalQuery: 'SELECT ROWSECRET',
      constraint: 'probe',
    });
    const logged = JSON.stringify(errorWithoutRowData(pgError));
    expect(logged).not.toContain('ROWSECRET');
    expect(logged).toContain('violates check constraint');
    expect(logged).toContain('23514');
    const wrapped = JSON.stringify(errorWithoutRowData(new Error('apply failed', { cause: pgError })));
    expect(wrapped).not.toContain('ROWSECRET');
    expect(wrapped).toContain('violates check constraint');
  });
});
