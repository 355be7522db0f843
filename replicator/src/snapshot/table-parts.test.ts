import { describe, expect, test } from 'vitest';
import { partCondition, splitTable, type SplitInput } from './table-parts.js';

const MB = 1024 * 1024;
const big: SplitInput = { blocks: 32_000, bytes: 250 * MB, partBytes: 64 * MB, tidRangeScan: true, partitioned: false };

describe('splitTable', () => {
  test.each([
    ['splitting is off', { ...big, partBytes: 0 }],
    ['the table is not bigger than a part', { ...big, bytes: 64 * MB }],
    ['the source has no TID range scan (before PostgreSQL 14)', { ...big, tidRangeScan: false }],
    ['the table is a partitioned root', { ...big, partitioned: true }],
    ['the table has a single block', { ...big, blocks: 1 }],
  ])('copies the whole table in one part when %s', (_why, input) => {
    expect(splitTable(input)).toEqual([{ index: 0, fromBlock: 0, toBlock: null }]);
  });

  test.each([
    [big, 4],
    [{ ...big, bytes: 10_000 * MB }, 64],
    [{ ...big, blocks: 3 }, 3],
  ])('splits into contiguous block ranges that cover the table, the last without an end', (input, count) => {
    const parts = splitTable(input);
    expect(parts).toHaveLength(count);
    expect(parts[0]!.fromBlock).toBe(0);
    for (let i = 1; i < parts.length; i++) expect(parts[i]!.fromBlock).toBe(parts[i - 1]!.toBlock);
    expect(parts.at(-1)!.toBlock).toBeNull();
    expect(parts.map((p) => p.index)).toEqual([...parts.keys()]);
  });
});

describe('partCondition', () => {
  test.each([
    [{ index: 0, fromBlock: 0, toBlock: null }, null],
    [{ index: 0, fromBlock: 0, toBlock: 100 }, "ctid >= '(0,0)'::tid AND ctid < '(100,0)'::tid"],
    [{ index: 3, fromBlock: 300, toBlock: null }, "ctid >= '(300,0)'::tid"],
  ])('%o reads %s', (part, condition) => {
    expect(partCondition(part)).toBe(condition);
  });
});
