/**
 * The API compares bearer tokens in constant time (api/src/plugins/auth.ts): both sides are
 * hashed to 32-byte SHA-256 digests and compared with crypto.timingSafeEqual, so how long the
 * comparison takes says nothing about how much of the token a guess got right, nor about its
 * length. Shown by what is compared, never by a stopwatch: node:crypto's timingSafeEqual is
 * wrapped in a spy, and every token tried (right, wrong, a prefix, longer, shorter, empty,
 * non-ASCII) must reach it exactly once, as two 32-byte buffers, and none may throw.
 * No database: the app's auth hook refuses before any query, and a right token is seen to
 * pass it when the (unreachable) database answers 503.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { freePort } from '../harness/pg-cluster.js';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const { tokenMatches } = await import('../api/src/plugins/auth.js');
const { buildApp } = await import('../api/src/app.js');

const AUTH_SOURCE = fileURLToPath(new URL('../api/src/plugins/auth.ts', import.meta.url));
const TOKEN = 'tokJr8WmApi-0123456789';
const spy = vi.mocked(timingSafeEqual);
const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Candidates: only the first is right. */
const CANDIDATES: [string, string][] = [
  ['the token', TOKEN],
  ['empty', ''],
  ['one character', 't'],
  ['its first character', TOKEN.slice(0, 1)],
  ['all but its last character', TOKEN.slice(0, -1)],
  ['one character more', `${TOKEN}x`],
  ['last character changed', `${TOKEN.slice(0, -1)}8`],
  ['first character changed', `X${TOKEN.slice(1)}`],
  ['upper-cased', TOKEN.toUpperCase()],
  ['ten thousand characters', TOKEN.repeat(500)],
  ['non-ASCII', `${TOKEN.slice(0, -1)}é`],
  ['NUL inside', `${TOKEN.slice(0, 5)}\u0000${TOKEN.slice(6)}`],
];

beforeEach(() => {
  spy.mockClear();
});

describe('tokenMatches', () => {
  const expected = sha256(TOKEN);

  it.each(CANDIDATES)('%s: one timingSafeEqual of two 32-byte digests, no exception', (_what, candidate) => {
    let result: boolean | undefined;
    expect(() => (result = tokenMatches(candidate, expected))).not.toThrow();
    expect(result).toBe(candidate === TOKEN);
    expect(spy).toHaveBeenCalledTimes(1);
    const [given, wanted] = spy.mock.calls[0]!;
    expect(Buffer.isBuffer(given) && given.length).toBe(32);
    expect(wanted).toBe(expected);
    expect(Buffer.from(given as Buffer).equals(sha256(candidate))).toBe(true);
  });

  it('every candidate, whatever its length, reaches the same comparison of equal-length buffers', () => {
    for (const [, candidate] of CANDIDATES) tokenMatches(candidate, expected);
    expect(spy).toHaveBeenCalledTimes(CANDIDATES.length);
    expect(new Set(spy.mock.calls.map(([a, b]) => `${(a as Buffer).length}/${(b as Buffer).length}`))).toEqual(
      new Set(['32/32']),
    );
  });

  it('relies on timingSafeEqual, which refuses buffers of unequal length (so the digest is what equalises them)', () => {
    expect(() => tokenMatches(TOKEN, expected.subarray(0, 16))).toThrow(RangeError);
  });

  it('auth.ts compares the presented token nowhere else (source check)', async () => {
    const source = await readFile(AUTH_SOURCE, 'utf8');
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    // The header's token (match[1]) goes only into tokenMatches; tokenMatches only into timingSafeEqual.
    expect(code.match(/match\[1\]/g)).toHaveLength(1);
    expect(code).toMatch(/tokenMatches\(match\[1\]!?, expected\)/);
    expect(code).toMatch(/return timingSafeEqual\(digest\(given\), expectedDigest\);/);
    // Any other comparison that touches the token or a digest only asks whether one is set.
    const touchesToken = /\b(token|expected|expectedDigest|given)\b|match\[1\]/;
    const compares = /===|!==|[^=!<>]==[^=]|!=[^=]|\.equals\(|\.compare\(|localeCompare|\.startsWith\(|\.includes\(/;
    const comparisons = code
      .split('\n')
      .filter((line) => touchesToken.test(line) && compares.test(line))
      .map((line) => line.trim());
    expect(comparisons.length).toBeGreaterThan(0);
    for (const line of comparisons) {
      expect(line).not.toMatch(/\.equals\(|\.compare\(|localeCompare|\.startsWith\(|\.includes\(/);
      const rightSides = [...line.matchAll(/(?:===|!==|(?<![=!<>])==(?!=)|(?<![=!])!=(?!=))\s*([\w.]+)/g)].map(
        (m) => m[1],
      );
      expect(rightSides.length, line).toBeGreaterThan(0);
      for (const side of rightSides) expect(['undefined', 'null'], line).toContain(side);
    }
  });
});

describe('the auth hook of the app', () => {
  let app: Awaited<ReturnType<typeof buildApp>>;

  beforeAll(async () => {
    // Nothing listens there: a request that passes the hook gets 503 from the database plugin.
    app = await buildApp({
      database: `postgres://nobody@127.0.0.1:${await freePort()}/none`,
      token: TOKEN,
      slot: 'elt_slot',
      readsNeedToken: true,
      logger: false,
    });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
  });

  const headers: [string, string | undefined, number, number][] = [
    // what, Authorization, status, timingSafeEqual calls
    ['no header', undefined, 401, 0],
    ['malformed', 'Bearer', 401, 0],
    ['basic', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, 401, 0],
    ['wrong', 'Bearer tokWrongXq5-0123456789', 403, 1],
    ['prefix', `Bearer ${TOKEN.slice(0, -1)}`, 403, 1],
    ['one character', 'Bearer t', 403, 1],
    ['longer', `Bearer ${TOKEN}${TOKEN}`, 403, 1],
    ['right', `Bearer ${TOKEN}`, 503, 1],
  ];

  it.each(headers)('%s: %s → %i after %i constant-time comparison(s)', async (_what, authorization, status, calls) => {
    const response = await app.inject({
      method: 'GET',
      url: '/v1/status',
      headers: authorization === undefined ? {} : { authorization },
    });
    expect(response.statusCode).toBe(status);
    expect(spy).toHaveBeenCalledTimes(calls);
    expect(response.body).not.toContain(TOKEN.slice(3, 12));
  });
});
