import { describe, expect, it, test } from 'vitest';
import { UNCHANGED_TOAST as U, type Tuple } from '../source/pgoutput.js';
import type { TargetTable } from '../schema/mapping.js';
import { KeyedChunk, OrderedChunk, keyString, unchangedColumns } from './batch.js';

const table: TargetTable = {
  relationId: 1,
  sourceSchema: 'public',
  sourceTable: 'docs',
  targetSchema: 'staging',
  targetTable: 'docs',
  columns: [
    { name: 'id', type: 'integer' },
    { name: 'title', type: 'text' },
    { name: 'body', type: 'text' },
  ],
  keyIndexes: [0],
  replicaIdentity: 'd',
  signature: 'test',
  stageTable: 'elt_stage_test',
};

/** A tuple as the decoder gives it: text values as bytes. */
const row = (...values: (string | null | typeof U)[]): Tuple =>
  values.map((v) => (typeof v === 'string' ? Buffer.from(v) : v));
const key = (id: string) => row(id, null, null);

describe('KeyedChunk', () => {
  it('keeps only the newest image per key', () => {
    const chunk = new KeyedChunk(table);
    chunk.add({ op: 'insert', new: row('1', 'a', 'x'), lsn: 1n });
    chunk.add({ op: 'update', new: row('1', 'b', 'x'), lsn: 2n });
    chunk.add({ op: 'insert', new: row('2', 'c', 'y'), lsn: 3n });
    chunk.add({ op: 'delete', key: key('2'), lsn: 4n });
    expect([...chunk.rows()]).toEqual([
      { op: 'U', values: row('1', 'b', 'x'), lsn: 2n },
      { op: 'D', values: key('2'), lsn: 4n },
    ]);
    expect(chunk.counts).toEqual({ inserts: 2, updates: 1, deletes: 1 });
  });

  it('turns a key change into a delete of the old key and an image under the new one', () => {
    const chunk = new KeyedChunk(table);
    chunk.add({ op: 'update', key: key('1'), new: row('9', 'a', 'x'), lsn: 1n });
    expect([...chunk.rows()]).toEqual([
      { op: 'D', values: key('1'), lsn: 1n },
      { op: 'U', values: row('9', 'a', 'x'), lsn: 1n },
    ]);
  });

  it('fills unchanged TOAST values from an earlier image in the chunk', () => {
    const chunk = new KeyedChunk(table);
    chunk.add({ op: 'insert', new: row('1', 'a', 'big'), lsn: 1n });
    chunk.add({ op: 'update', new: row('1', 'b', U), lsn: 2n });
    expect([...chunk.rows()]).toEqual([{ op: 'U', values: row('1', 'b', 'big'), lsn: 2n }]);
  });

  it('leaves unfillable values marked, pointing at the stored row that holds them', () => {
    const chunk = new KeyedChunk(table);
    chunk.add({ op: 'update', new: row('4', 'b', U), lsn: 1n });
    chunk.add({ op: 'update', key: key('4'), new: row('104', 'b', U), lsn: 2n });
    chunk.add({ op: 'update', key: key('104'), new: row('204', 'b', U), lsn: 3n });
    const rows = [...chunk.rows()];
    expect(rows.find((r) => r.values[0]?.toString() === '204')).toEqual({
      op: 'U',
      values: row('204', 'b', U),
      lsn: 3n,
      fillFrom: key('4'),
    });
    expect(rows.filter((r) => r.op === 'D').map((r) => r.values[0]?.toString())).toEqual(['4', '104']);
    expect(unchangedColumns(rows)).toEqual([2]);
  });
});

describe('OrderedChunk', () => {
  it('keeps every change of a table without a key, in order', () => {
    const chunk = new OrderedChunk({ ...table, keyIndexes: [] });
    chunk.add({ op: 'insert', new: row('1', 'a', 'x'), lsn: 1n });
    chunk.add({ op: 'insert', new: row('1', 'a', 'x'), lsn: 2n });
    chunk.add({ op: 'delete', old: row('1', 'a', 'x'), lsn: 3n });
    expect(chunk.changes.map((c) => c.op)).toEqual(['insert', 'insert', 'delete']);
    expect(chunk.size).toBe(3);
  });
});

describe('KeyedChunk with a key stored out of line', () => {
  it('reads an unchanged-TOAST key from the old key, so updates of two rows stay two rows', () => {
    const chunk = new KeyedChunk(table);
    chunk.add({ op: 'update', new: row(U, 'one', 'x'), key: key('k1'), lsn: 1n });
    chunk.add({ op: 'update', new: row(U, 'two', 'y'), key: key('k2'), lsn: 2n });
    expect([...chunk.rows()]).toEqual([
      { op: 'U', values: row('k1', 'one', 'x'), lsn: 1n },
      { op: 'U', values: row('k2', 'two', 'y'), lsn: 2n },
    ]);
  });

  it('stops the table when no old key says what the key is', () => {
    const chunk = new KeyedChunk(table);
    expect(() => chunk.add({ op: 'update', new: row(U, 'one', 'x'), lsn: 1n })).toThrow(/out-of-line key unchanged/);
  });
});

describe('keyString', () => {
  const b = (text: string) => Buffer.from(text);
  test.each([
    { name: 'null and an empty value differ', a: [null], b: [b('')], one: true },
    { name: 'a value and the same bytes in text differ from the tag letters', a: [b('n')], b: [null], one: true },
    { name: 'two columns whose joined bytes are equal differ', a: [b('ab'), b('c')], b: [b('a'), b('bc')], one: false },
    { name: 'null in one column differs from a value', a: [null, b('x')], b: [b('null'), b('x')], one: false },
  ])('$name', ({ a, b: other, one }) => {
    const indexes = one ? [0] : [0, 1];
    expect(keyString(a, indexes)).not.toBe(keyString(other, indexes));
    expect(keyString(a, indexes)).toBe(keyString([...a], indexes));
  });

  test('reads only the key columns, by index', () => {
    expect(keyString([b('x'), b('1')], [1])).toBe(keyString([b('y'), b('1')], [1]));
    expect(keyString([b('1'), b('x'), b('2')], [0, 2])).toBe(keyString([b('1'), b('y'), b('2')], [0, 2]));
  });
});
