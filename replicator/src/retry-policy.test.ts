import { expect, test } from 'vitest';
import { EltError, UnreachableError } from './errors.js';
import { DETERMINISTIC_ATTEMPTS, RetryPolicy } from './retry-policy.js';

const pgError = (code: string, message = `failed with ${code}`) => Object.assign(new Error(message), { code });

test('a transient failure is retried however often it happens', () => {
  const policy = new RetryPolicy();
  for (let i = 0; i < 50; i++) expect(policy.shouldRetry(pgError('08006'), true)).toBe(true);
});

test(`the same deterministic failure ${DETERMINISTIC_ATTEMPTS} times in a row is final`, () => {
  const policy = new RetryPolicy();
  const decisions = Array.from({ length: DETERMINISTIC_ATTEMPTS }, () => policy.shouldRetry(pgError('42703'), true));
  expect(decisions).toEqual([...Array<boolean>(DETERMINISTIC_ATTEMPTS - 1).fill(true), false]);
});

test('a transient failure in between starts the count again', () => {
  const policy = new RetryPolicy();
  expect(policy.shouldRetry(pgError('42703'), true)).toBe(true);
  expect(policy.shouldRetry(pgError('42703'), true)).toBe(true);
  expect(policy.shouldRetry(pgError('57P01'), true)).toBe(true);
  expect(policy.shouldRetry(pgError('42703'), true)).toBe(true);
  expect(policy.shouldRetry(pgError('42703'), true)).toBe(true);
});

test.each([
  ['an unreachable server at start-up', new UnreachableError('gone', 'check'), false, false],
  ['an unreachable server after both were reached', new UnreachableError('gone', 'check'), true, true],
  ['a server starting up, even at start-up', new UnreachableError('starting', 'wait', { cause: pgError('57P03') }), false, true],
  ['a configuration error', new EltError('bad', 'fix it'), true, false],
])('%s: retry %s', (_what, error, connectedOnce, expected) => {
  expect(new RetryPolicy().shouldRetry(error, connectedOnce)).toBe(expected);
});
