import { expect, test } from 'vitest';
import { StoppedTables } from './stopped-tables.js';

test('a stopped table stays stopped until it is resumed; names never collide', () => {
  const stopped = new StoppedTables();
  stopped.stop('a.b', 'c', 'refused');
  expect(stopped.has('a.b', 'c')).toBe(true);
  expect(stopped.has('a', 'b.c')).toBe(false);
  stopped.resume('a.b', 'c');
  expect(stopped.has('a.b', 'c')).toBe(false);
});
