import { describe, expect, it } from 'vitest';
import { AlreadyRunningError, ConfigError, EltError } from '../errors.js';
import { describeFailure, exitCodeFor, NotConfirmedError } from './exit-codes.js';

describe('exit codes', () => {
  it.each([
    [new ConfigError('Invalid configuration: ELT_SLOT (--slot) must be …', 'Fix it.'), 2],
    [new NotConfirmedError('Nothing was dropped.', 'Add --yes.'), 2],
    [new AlreadyRunningError('The replication slot elt_slot is in use.', 'Stop it first.'), 3],
    [new EltError('Cannot log in to the source database.', 'Check the password.'), 1],
    [new Error('boom'), 1],
  ])('%s exits %i', (error, code) => {
    expect(exitCodeFor(error)).toBe(code);
  });
});

describe('describeFailure', () => {
  it('prints an elt error as its sentence and what to do', () => {
    expect(
      describeFailure(
        new EltError('Cannot reach the source database at h:5432/db.', 'Check that the server is running.'),
      ),
    ).toBe('elt: Cannot reach the source database at h:5432/db.\n     Check that the server is running.\n');
  });

  it('prints a server error with its SQLSTATE and no stack, unless the level is debug', () => {
    const refused = Object.assign(new Error('permission denied for schema elt'), { code: '42501', severity: 'ERROR' });
    const text = describeFailure(refused);
    expect(text).toBe(
      "elt: The server refused: permission denied for schema elt (SQLSTATE 42501).\n     Check the role's privileges; ELT_LOG_LEVEL=debug shows where it happened.\n",
    );
    expect(describeFailure(refused, 'debug')).toContain('    at ');
  });

  it('calls anything else a bug, without a stack trace at the default level', () => {
    const text = describeFailure(new TypeError("Cannot read properties of undefined (reading 'x')"));
    expect(text).toMatch(
      /^elt: Unexpected error: Cannot read properties of undefined \(reading 'x'\)\n\s+This is a bug in elt/,
    );
    expect(text).not.toContain('    at ');
  });
});
