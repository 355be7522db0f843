import { describe, expect, test } from 'vitest';
import { EltError, UnreachableError } from './errors.js';
import { classifyFailure, sqlState, tableFailureReason, TableFailure } from './failures.js';

function pgError(code: string, message = 'x'): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyFailure', () => {
  test.each([
    ['08006', 'transient'], // connection failure
    ['57P01', 'transient'], // admin shutdown
    ['57P03', 'transient'], // cannot connect now
    ['57014', 'transient'], // statement timeout
    ['40001', 'transient'], // serialization failure
    ['40P01', 'transient'], // deadlock
    ['55P03', 'transient'], // lock timeout
    ['53100', 'transient'], // disk full
    ['53200', 'transient'], // out of memory
    ['23514', 'deterministic'], // check violation: a refused row
    ['23502', 'deterministic'], // not null violation
    ['22P02', 'deterministic'], // invalid text representation
    ['42704', 'deterministic'], // undefined object: a missing type
    ['42P07', 'deterministic'], // duplicate table
    ['42601', 'deterministic'], // syntax error
    ['0A000', 'deterministic'], // feature not supported
  ])('SQLSTATE %s is %s', (code, kind) => {
    expect(classifyFailure(pgError(code))).toBe(kind);
  });

  test.each(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'])('network error %s is transient', (code) => {
    expect(classifyFailure(pgError(code))).toBe('transient');
  });

  test('a connection that ends without a code is transient', () => {
    expect(classifyFailure(new Error('Connection terminated unexpectedly'))).toBe('transient');
  });

  test('an unreachable server is transient, a hinted user error deterministic', () => {
    expect(classifyFailure(new UnreachableError('gone', 'wait'))).toBe('transient');
    expect(classifyFailure(new EltError('bad', 'fix it'))).toBe('deterministic');
  });

  test('the SQLSTATE is found through causes', () => {
    const wrapped = new EltError('loading failed', 'see below', { cause: pgError('23505') });
    expect(sqlState(wrapped)).toBe('23505');
    expect(classifyFailure(wrapped)).toBe('deterministic');
  });
});

test('a table failure reads as its message and hint', () => {
  const failure = new TableFailure(
    'public',
    'orders',
    'The type public.citext is missing.',
    'Run CREATE EXTENSION citext.',
  );
  expect(tableFailureReason(failure)).toBe('The type public.citext is missing. Run CREATE EXTENSION citext.');
  expect(tableFailureReason(pgError('23514', 'new row violates check constraint'))).toBe(
    'new row violates check constraint (SQLSTATE 23514)',
  );
});
