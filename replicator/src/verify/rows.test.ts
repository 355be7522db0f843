import { describe, expect, it } from 'vitest';
import { confirms, diffRows, type ReplicaRow, type SourceRow } from './rows.js';

const s = (id: string, hash: string, version = `v${id}`): SourceRow => ({ id, hash, version });
const r = (id: string, hash: string, lsn = '0/10'): ReplicaRow => ({ id, hash, lsn });

describe('row comparison', () => {
  it('finds missing, extra and differing rows by key, and nothing for equal rows', () => {
    const candidates = diffRows([s('1', 'a'), s('2', 'b'), s('3', 'c')], [r('1', 'a'), r('3', 'x'), r('4', 'd')]);
    expect(candidates.map((c) => [c.id, c.kind, c.rows])).toEqual([
      ['2', 'missing', 1],
      ['3', 'differs', 1],
      ['4', 'extra', 1],
    ]);
    expect(diffRows([s('1', 'a')], [r('1', 'a')])).toEqual([]);
  });

  it('counts copies of a row in a table without a key (identity = hash)', () => {
    const candidates = diffRows([s('h', 'h', 'a'), s('h', 'h', 'b'), s('h', 'h', 'c')], [r('h', 'h')]);
    expect(candidates).toEqual([
      { id: 'h', kind: 'missing', rows: 2, sourceVersions: ['a', 'b', 'c'], replicaLsns: ['0/10'] },
    ]);
  });
});

describe('confirmation at a later point', () => {
  const [missing] = diffRows([s('2', 'b', 'ctid1')], []);

  it('confirms a row that still differs with the same source version and an unchanged replica', () => {
    expect(confirms(missing!, { source: [s('2', 'b', 'ctid1')], replica: [], replicaChanged: false })).toBe(true);
  });

  it('dismisses a row deleted on the source in between (a hard delete applied before the first read)', () => {
    expect(confirms(missing!, { source: [], replica: [], replicaChanged: false })).toBe(false);
  });

  it('dismisses a row written again on the source, or on the replica, in between', () => {
    expect(confirms(missing!, { source: [s('2', 'b', 'ctid9')], replica: [], replicaChanged: false })).toBe(false);
    expect(confirms(missing!, { source: [s('2', 'b', 'ctid1')], replica: [], replicaChanged: true })).toBe(false);
    const [differs] = diffRows([s('3', 'c', 'v')], [r('3', 'x', '0/10')]);
    expect(
      confirms(differs!, { source: [s('3', 'c', 'v')], replica: [r('3', 'x', '0/20')], replicaChanged: false }),
    ).toBe(false);
    expect(
      confirms(differs!, { source: [s('3', 'c', 'v')], replica: [r('3', 'x', '0/10')], replicaChanged: false }),
    ).toBe(true);
  });
});
