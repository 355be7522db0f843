import { expect, test } from 'vitest';
import { compareLeaves, type Leaf } from './partition-leaves.js';

const leaf = (oid: number, filenode: string): Leaf => ({ oid, filenode });

test.each([
  ['nothing changed', [leaf(1, 'a'), leaf(2, 'b')], [leaf(1, 'a'), leaf(2, 'b')], { kind: 'none' }],
  [
    'a partition truncated',
    [leaf(1, 'a'), leaf(2, 'b')],
    [leaf(1, 'a'), leaf(2, 'c')],
    { kind: 'changed', why: 'partition 2 truncated or rewritten' },
  ],
  [
    'a partition detached',
    [leaf(1, 'a'), leaf(2, 'b')],
    [leaf(1, 'a')],
    { kind: 'changed', why: 'partition 2 detached or dropped' },
  ],
  ['a partition added', [leaf(1, 'a')], [leaf(1, 'a'), leaf(3, 'x')], { kind: 'added', oids: [3] }],
  [
    'one detached, another attached',
    [leaf(1, 'a')],
    [leaf(3, 'x')],
    { kind: 'changed', why: 'partition 1 detached or dropped' },
  ],
])('%s', (_name, before, after, change) => {
  expect(compareLeaves(before, after)).toEqual(change);
});
