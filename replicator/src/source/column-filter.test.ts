import { describe, expect, it } from 'vitest';
import { ColumnFilter } from './column-filter.js';
import { ColumnPolicy, TEXT_TYPE_OID } from './column-policy.js';
import { maskValue } from './mask.js';
import { UNCHANGED_TOAST, type PgoutputMessage } from './pgoutput.js';

const KEY = 'a key of sixteen+ characters';
const relation = (name = 'users'): PgoutputMessage => ({
  tag: 'relation',
  relationId: 7,
  schema: 'public',
  name,
  replicaIdentity: 'd',
  columns: [
    { name: 'id', typeOid: 23, typeMod: -1, isKey: true },
    { name: 'ssn', typeOid: 1043, typeMod: 15, isKey: false },
    { name: 'email', typeOid: 1043, typeMod: 104, isKey: false },
    { name: 'age', typeOid: 23, typeMod: -1, isKey: false },
  ],
});
const b = (s: string) => Buffer.from(s);
const hash = (s: string) => maskValue({ kind: 'hash' }, b(s), b(KEY))!;

describe('ColumnFilter', () => {
  const policy = new ColumnPolicy(['public.users.ssn'], ['public.users.email:hash', 'public.users.age:null'], KEY);

  it('announces the relation without excluded columns, hashed ones as text, nulled ones with their type', () => {
    const filter = new ColumnFilter(policy);
    const out = filter.apply(relation());
    expect(out).toMatchObject({
      columns: [
        { name: 'id', typeOid: 23 },
        { name: 'email', typeOid: TEXT_TYPE_OID, typeMod: -1 },
        { name: 'age', typeOid: 23, typeMod: -1 },
      ],
    });
    expect(out).not.toHaveProperty('refused');
  });

  it('filters and masks every tuple of the relation: new, old and key', () => {
    const filter = new ColumnFilter(policy);
    filter.apply(relation());
    expect(filter.apply({ tag: 'insert', relationId: 7, new: [b('1'), b('123-45'), b('a@x'), b('42')] })).toEqual({
      tag: 'insert',
      relationId: 7,
      new: [b('1'), hash('a@x'), null],
    });
    expect(
      filter.apply({
        tag: 'update',
        relationId: 7,
        old: [b('1'), b('123-45'), b('a@x'), null],
        new: [b('1'), UNCHANGED_TOAST, UNCHANGED_TOAST, b('43')],
      }),
    ).toEqual({
      tag: 'update',
      relationId: 7,
      old: [b('1'), hash('a@x'), null],
      new: [b('1'), UNCHANGED_TOAST, null],
    });
    expect(filter.apply({ tag: 'delete', relationId: 7, key: [b('1'), null, null, null] })).toEqual({
      tag: 'delete',
      relationId: 7,
      key: [b('1'), null, null],
    });
  });

  it('leaves a relation no pattern touches as it came', () => {
    const filter = new ColumnFilter(policy);
    const other = relation('orders');
    expect(filter.apply(other)).toBe(other);
    const insert: PgoutputMessage = { tag: 'insert', relationId: 7, new: [b('1'), b('2'), b('3'), b('4')] };
    expect(filter.apply(insert)).toEqual(insert);
  });

  it('marks a relation whose key the policy would break, and still filters it', () => {
    const filter = new ColumnFilter(new ColumnPolicy(['public.users.id'], [], null));
    expect(filter.apply(relation())).toMatchObject({
      columns: [{ name: 'ssn' }, { name: 'email' }, { name: 'age' }],
      refused: { reason: expect.stringMatching(/Column id of public\.users identifies its rows/) },
    });
    expect(filter.apply({ tag: 'insert', relationId: 7, new: [b('1'), b('2'), b('3'), b('4')] })).toMatchObject({
      new: [b('2'), b('3'), b('4')],
    });
  });

  it('refuses a change of a relation it has not seen', () => {
    expect(() => new ColumnFilter(policy).apply({ tag: 'insert', relationId: 9, new: [] })).toThrow(
      /before its Relation message/,
    );
  });
});
