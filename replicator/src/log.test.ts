import { describe, expect, it } from 'vitest';
import { errorWithoutRowData, prettyTransport } from './log.js';

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

describe('ELT_LOG_PRETTY=1', () => {
  it('uses pino-pretty where it is installed', () => {
    expect(prettyTransport(() => '/x/node_modules/pino-pretty/index.js')).toEqual({
      target: 'pino-pretty',
      options: { destination: 2 },
    });
  });

  it('falls back to JSON with a warning where a production install left it out', () => {
    const missing = prettyTransport(() => {
      throw Object.assign(new Error("Cannot find module 'pino-pretty'"), { code: 'MODULE_NOT_FOUND' });
    });
    expect(missing).toEqual({
      warning: expect.stringMatching(
        /^ELT_LOG_PRETTY=1 needs the pino-pretty package, which this install lacks .*logging JSON instead/,
      ),
    });
  });
});
