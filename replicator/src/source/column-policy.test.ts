import { describe, expect, it } from 'vitest';
import {
  ColumnPolicy,
  liftedColumns,
  parseColumnPattern,
  parseMaskRule,
  policyChange,
  policyScope,
} from './column-policy.js';

describe('column patterns and mask rules', () => {
  it.each(['users.email', 'a.b.c.d', 'public..email', '.users.email', 'public.users.'])(
    'refuses %j: a pattern is schema.table.column',
    (text) => expect(() => parseColumnPattern(text)).toThrow(/is not a schema\.table\.column pattern/),
  );

  it.each([
    ['public.users.email:hash', { kind: 'hash' }],
    ['public.users.email:null', { kind: 'null' }],
    ['*.*.phone:redact:4', { kind: 'redact', keep: 4 }],
    ['*.*.phone:redact:0', { kind: 'redact', keep: 0 }],
  ])('reads %j', (text, method) => expect(parseMaskRule(text).method).toEqual(method));

  it.each([
    ['public.users.email', /names no mask method/],
    ['public.users.email:md5', /'md5' is not a mask method/],
    ['public.users.email:redact', /'redact' is not a mask method \(hash, null or redact:N/],
    ['public.users.email:redact:x', /is not a mask method/],
    ['users.email:hash', /is not a schema\.table\.column pattern/],
  ])('refuses %j', (text, message) => expect(() => parseMaskRule(text)).toThrow(message));
});

describe('ColumnPolicy.decide', () => {
  it.each([
    // [exclude, masks, column of public.users, decision]
    [[], [], 'email', { action: 'keep' }],
    [['public.users.email'], [], 'email', { action: 'exclude', pattern: 'public.users.email' }],
    [['public.users.email'], [], 'emails', { action: 'keep' }],
    [['*.*.e?ail'], [], 'email', { action: 'exclude', pattern: '*.*.e?ail' }],
    // A star stays within its part.
    [['*.email'], [], 'email', null],
    [['public.*.secret_*'], [], 'secret_x', { action: 'exclude', pattern: 'public.*.secret_*' }],
    // Case-sensitive, as PostgreSQL names are.
    [['public.users.Email'], [], 'email', { action: 'keep' }],
    [
      [],
      ['public.users.email:hash'],
      'email',
      { action: 'mask', method: { kind: 'hash' }, pattern: 'public.users.email:hash' },
    ],
    // Exclusion wins over a mask; the first mask that matches applies.
    [
      ['public.users.email'],
      ['public.users.email:hash'],
      'email',
      { action: 'exclude', pattern: 'public.users.email' },
    ],
    [
      [],
      ['public.users.e*:null', 'public.users.email:hash'],
      'email',
      { action: 'mask', method: { kind: 'null' }, pattern: 'public.users.e*:null' },
    ],
  ])('exclude %j masks %j: %s', (exclude, masks, column, decision) => {
    if (decision === null) {
      expect(() => new ColumnPolicy(exclude, masks)).toThrow(/schema\.table\.column/);
      return;
    }
    expect(new ColumnPolicy(exclude, masks, 'k'.repeat(16)).decide('public', 'users', column)).toEqual(decision);
  });

  it('is set, and touches a table, only when a pattern may match', () => {
    expect(new ColumnPolicy().isSet).toBe(false);
    const policy = new ColumnPolicy(['public.users.ssn'], ['sales.*.email:hash']);
    expect(policy.isSet).toBe(true);
    expect(policy.touches('public', 'users')).toBe(true);
    expect(policy.touches('public', 'orders')).toBe(false);
    expect(policy.touches('sales', 'orders')).toBe(true);
  });
});

describe('ColumnPolicy.refusal', () => {
  const columns = [
    { name: 'id', isKey: true },
    { name: 'email', isKey: false },
  ];
  it.each([
    [['public.users.email'], [], null],
    [[], ['public.users.id:hash'], null],
    [
      ['public.users.id'],
      [],
      /Column id of public\.users identifies its rows.*ELT_EXCLUDE_COLUMNS pattern 'public\.users\.id' leaves it out/,
    ],
    [[], ['public.users.*:null'], /ELT_MASK_COLUMNS pattern 'public\.users\.\*:null' masks it with null/],
    [[], ['public.users.id:redact:2'], /masks it with redact:2/],
  ])('exclude %j masks %j', (exclude, masks, reason) => {
    const refusal = new ColumnPolicy(exclude, masks, 'k'.repeat(16)).refusal('public', 'users', columns);
    if (reason === null) expect(refusal).toBeNull();
    else {
      expect(refusal!.reason).toMatch(reason);
      expect(refusal!.hint).toMatch(/does not match public\.users\.id .*restart elt with it, then resync the table/);
    }
  });
});

describe('policy entries and changes', () => {
  const policy = new ColumnPolicy(
    ['public.users.ssn'],
    ['public.users.email:hash', 'public.users.phone:redact:3'],
    'k'.repeat(16),
  );
  const columns = [
    { attnum: 1, name: 'id' },
    { attnum: 2, name: 'email' },
    { attnum: 4, name: 'phone' },
    { attnum: 5, name: 'ssn' },
  ];

  it('records the non-default policies by attnum, and the key fingerprint with a hash', () => {
    expect(policy.forTable('public', 'users', columns).keyFingerprint).toBe(policy.keyFingerprint);
    expect(policy.forTable('public', 'users', columns.slice(2)).keyFingerprint).toBeNull();
    expect(policy.forTable('public', 'users', columns).entries).toEqual([
      { attnum: 2, column: 'email', policy: 'hash' },
      { attnum: 4, column: 'phone', policy: 'redact:3' },
      { attnum: 5, column: 'ssn', policy: 'exclude' },
    ]);
  });

  it.each([
    // A rename that keeps the policy is no change: attnums, not names, are compared.
    [[{ attnum: 2, column: 'mail', policy: 'hash' }], [{ attnum: 2, column: 'email', policy: 'hash' }], null],
    [[], [{ attnum: 2, column: 'email', policy: 'hash' }], 'column policy changed (email kept → hash)'],
    [[{ attnum: 2, column: 'email', policy: 'hash' }], [], 'column policy changed (email hash → kept)'],
    [
      [
        { attnum: 2, column: 'email', policy: 'null' },
        { attnum: 5, column: 'ssn', policy: 'exclude' },
      ],
      [{ attnum: 2, column: 'email', policy: 'hash' }],
      'column policy changed (email null → hash, ssn exclude → kept)',
    ],
  ])('%j then %j', (recorded, current, change) => {
    const scope = new Set([1, 2, 4, 5]);
    expect(
      policyChange({ entries: recorded, keyFingerprint: null }, { entries: current, keyFingerprint: null }, scope),
    ).toBe(change);
  });

  it('tells a new hash key', () => {
    const entries = [{ attnum: 2, column: 'email', policy: 'hash' }];
    const scope = new Set([2]);
    expect(policyChange({ entries, keyFingerprint: 'a' }, { entries, keyFingerprint: 'a' }, scope)).toBeNull();
    expect(policyChange({ entries, keyFingerprint: 'a' }, { entries, keyFingerprint: 'b' }, scope)).toMatch(
      /ELT_MASK_KEY changed/,
    );
  });

  it('compares only the live columns the replica knew: a column added or dropped since is no policy change', () => {
    const recorded = { entries: [{ attnum: 5, column: 'ssn', policy: 'exclude' }], keyFingerprint: null };
    // attnum 3: held; 5: recorded excluded, dropped now; 6: added since, excluded.
    const scope = policyScope([1, 3, 6], [1, 3], recorded);
    expect([...scope]).toEqual([1, 3]);
    const current = { entries: [{ attnum: 6, column: 'secret', policy: 'exclude' }], keyFingerprint: null };
    expect(policyChange(recorded, current, scope)).toBeNull();
    expect(policyScope([1, 5], [1], recorded)).toEqual(new Set([1, 5]));
  });

  it('has a key fingerprint only with a hash mask, and it depends on the key', () => {
    expect(new ColumnPolicy(['a.b.c'], [], 'k'.repeat(16)).keyFingerprint).toBeNull();
    const a = new ColumnPolicy([], ['a.b.c:hash'], 'k'.repeat(16)).keyFingerprint;
    const b = new ColumnPolicy([], ['a.b.c:hash'], 'j'.repeat(16)).keyFingerprint;
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(a).not.toBe(b);
  });
});

describe('liftedColumns: what a rename would show more of', () => {
  const entry = (policy: string) => [{ attnum: 2, column: 'email', policy }];
  it.each([
    ['hash', null, ['email']],
    ['exclude', null, ['email']],
    ['exclude', 'hash', ['email']],
    ['null', 'redact:3', ['email']],
    ['hash', 'redact:3', ['email']],
    ['hash', 'null', []],
    ['redact:3', 'hash', []],
    [null, 'hash', []],
    ['hash', 'hash', []],
  ])('%s → %s lifts %j', (was, is, lifted) => {
    const recorded = { entries: was ? entry(was) : [], keyFingerprint: null };
    const current = { entries: is ? entry(is) : [], keyFingerprint: null };
    expect(liftedColumns(recorded, current, new Set([2]))).toEqual(lifted);
  });

  it('only within the scope it is given', () => {
    const recorded = { entries: entry('hash'), keyFingerprint: null };
    expect(liftedColumns(recorded, { entries: [], keyFingerprint: null }, new Set([3]))).toEqual([]);
  });
});
