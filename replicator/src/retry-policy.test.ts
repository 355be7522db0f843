import { expect, test } from 'vitest';
import { EltError, UnreachableError } from './errors.js';
import { DETERMINISTIC_ATTEMPTS, RetryPolicy, UNEXPLAINED_ATTEMPTS } from './retry-policy.js';

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

test('transient failures in between do not start the count again; an hour between repeats does', () => {
  const policy = new RetryPolicy();
  expect(policy.shouldRetry(pgError('42703'), true, 0)).toBe(true);
  expect(policy.shouldRetry(pgError('57P01'), true, 1)).toBe(true);
  expect(policy.shouldRetry(pgError('42703'), true, 2)).toBe(true);
  expect(policy.shouldRetry(pgError('57P01'), true, 3)).toBe(true);
  expect(policy.shouldRetry(pgError('42703'), true, 4)).toBe(false);
  const patient = new RetryPolicy();
  for (let i = 0; i < 5; i++) expect(patient.shouldRetry(pgError('42703'), true, i * 60 * 60_000)).toBe(true);
});

test('the same failure with other numbers in its message (a PID, an LSN) is the same failure', () => {
  const policy = new RetryPolicy();
  expect(policy.shouldRetry(pgError('55000', 'could not import snapshot 00000004-00000002-1'), true)).toBe(true);
  expect(policy.shouldRetry(pgError('55000', 'could not import snapshot 00000005-0000000A-1'), true)).toBe(true);
  expect(policy.shouldRetry(pgError('55000', 'could not import snapshot 00000006-00000003-1'), true)).toBe(false);
});

test(`an unexplained failure (a bug) is given ${UNEXPLAINED_ATTEMPTS} attempts`, () => {
  const policy = new RetryPolicy();
  const decisions = Array.from({ length: UNEXPLAINED_ATTEMPTS }, () =>
    policy.shouldRetry(new TypeError('x.map is not a function'), true),
  );
  expect(decisions.at(-1)).toBe(false);
  expect(decisions.slice(0, -1).every(Boolean)).toBe(true);
  expect(new RetryPolicy().shouldRetry(new Error('Connection terminated unexpectedly'), true)).toBe(true);
});

test.each([
  ['an unreachable server at start-up', new UnreachableError('gone', 'check'), false, false],
  ['an unreachable server after both were reached', new UnreachableError('gone', 'check'), true, true],
  [
    'a server starting up, even at start-up',
    new UnreachableError('starting', 'wait', { cause: pgError('57P03') }),
    false,
    true,
  ],
  ['a configuration error', new EltError('bad', 'fix it'), true, false],
])('%s: retry %s', (_what, error, connectedOnce, expected) => {
  expect(new RetryPolicy().shouldRetry(error, connectedOnce)).toBe(expected);
});
