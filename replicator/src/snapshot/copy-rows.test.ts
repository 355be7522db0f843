import { describe, expect, test } from 'vitest';
import { BinaryRowCounter, CopyRowCounter } from './copy-rows.js';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

function header(extension = Buffer.alloc(0)): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt32BE(extension.length, 4);
  return Buffer.concat([SIGNATURE, fixed, extension]);
}

/** One binary COPY row: each value's bytes, or null for NULL. */
function row(values: (Buffer | null)[]): Buffer {
  const parts = [int16(values.length)];
  for (const value of values) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(value === null ? -1 : value.length);
    parts.push(length);
    if (value) parts.push(value);
  }
  return Buffer.concat(parts);
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

const TRAILER = int16(-1);

function countInChunks(data: Buffer, chunkSize: number): number {
  const counter = new BinaryRowCounter();
  let rows = 0;
  for (let at = 0; at < data.length; at += chunkSize) rows += counter.push(data.subarray(at, at + chunkSize));
  return rows;
}

describe('BinaryRowCounter', () => {
  const rows = [
    row([Buffer.from([0, 0, 0, 1]), Buffer.from('hello'), null]),
    row([Buffer.from([0, 0, 0, 2]), Buffer.alloc(0), Buffer.from('x'.repeat(300))]),
    row([null, null, null]),
    row([]),
    row([Buffer.from([0, 0, 0, 3]), Buffer.from('\n\n'), Buffer.from([0xff, 0xff, 0xff, 0xff])]),
  ];

  test.each([1, 2, 3, 5, 7, 19, 20, 64, 100_000])('counts every row in chunks of %i bytes', (chunkSize) => {
    const data = Buffer.concat([header(), ...rows, TRAILER]);
    expect(countInChunks(data, chunkSize)).toBe(rows.length);
  });

  test('skips a header extension', () => {
    const data = Buffer.concat([header(Buffer.from('ext-bytes')), ...rows, TRAILER]);
    expect(countInChunks(data, 3)).toBe(rows.length);
  });

  test('counts nothing after the trailer and nothing before a row is complete', () => {
    const counter = new BinaryRowCounter();
    const first = rows[0]!;
    expect(counter.push(Buffer.concat([header(), first.subarray(0, first.length - 1)]))).toBe(0);
    expect(counter.push(first.subarray(first.length - 1))).toBe(1);
    expect(counter.push(Buffer.concat([TRAILER, rows[1]!]))).toBe(0);
  });
});

describe('CopyRowCounter', () => {
  test('text: one row per newline, bytes as they pass', async () => {
    const seen: [number, number][] = [];
    const counter = new CopyRowCounter('text', (r, b) => seen.push([r, b]));
    counter.resume();
    counter.write(Buffer.from('1\ta\\nb\n2\t'));
    counter.end(Buffer.from('c\n'));
    await new Promise((resolve) => counter.on('finish', resolve));
    expect(seen).toEqual([
      [1, 9],
      [2, 11],
    ]);
  });
});
