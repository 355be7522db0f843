import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { maskValue, parseMaskMethod } from './mask.js';

const key = Buffer.from('a key of sixteen+ characters');

describe('maskValue', () => {
  it('hashes with HMAC-SHA256 of the value text, as hex: the same value gives the same hash', () => {
    const expected = createHmac('sha256', key).update('alice@example.com').digest('hex');
    expect(maskValue({ kind: 'hash' }, Buffer.from('alice@example.com'), key)!.toString()).toBe(expected);
    expect(maskValue({ kind: 'hash' }, Buffer.from('bob@example.com'), key)!.toString()).not.toBe(expected);
    expect(
      maskValue({ kind: 'hash' }, Buffer.from('alice@example.com'), Buffer.from('another key!!!!!!'))!.toString(),
    ).not.toBe(expected);
  });

  it.each([
    ['redact:4', '+33 6 12 34 56 78', '+33 ***'],
    ['redact:2', 'éàü-x', 'éà***'],
    ['redact:0', 'secret', '***'],
    ['redact:10', 'short', 'short***'],
    ['redact:1', '😀x', '😀***'],
  ])('%s of %j is %j', (method, value, masked) => {
    expect(maskValue(parseMaskMethod(method), Buffer.from(value), key)!.toString()).toBe(masked);
  });

  it('nulls', () => {
    expect(maskValue({ kind: 'null' }, Buffer.from('x'), key)).toBeNull();
  });
});
