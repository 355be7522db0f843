import { expect, test } from 'vitest';
import type { Applier } from './applier.js';
import { ApplyHooks } from './apply-hooks.js';

/** Records the statements a boundary run sends; no database. */
function recordingApplier(): { applier: Applier; statements: string[] } {
  const statements: string[] = [];
  const applier = { query: async (sql: string) => void statements.push(sql) } as unknown as Applier;
  return { applier, statements };
}

test.each([
  [0n, 100n, false],
  [99n, 100n, false],
  [100n, 100n, true],
  [250n, 100n, true],
])('at stream position %s a task waiting for %s is due: %s', (position, notBefore, due) => {
  const hooks = new ApplyHooks();
  void hooks.atBoundary(async () => undefined, notBefore);
  expect(hooks.hasDueTasks(position)).toBe(due);
  expect(hooks.hasWaitingTasks(position)).toBe(!due);
});

test('a boundary runs only the tasks whose position the stream has reached; the others wait', async () => {
  const hooks = new ApplyHooks();
  const ran: string[] = [];
  const early = hooks.atBoundary(async () => void ran.push('early'), 10n);
  void hooks.atBoundary(async () => void ran.push('late'), 20n);
  const { applier } = recordingApplier();
  const run = await hooks.runBoundaryTasks(applier, 15n);
  run.settle();
  await early;
  expect(ran).toEqual(['early']);
  expect(hooks.hasWaitingTasks(15n)).toBe(true);
  expect(hooks.hasDueTasks(20n)).toBe(true);
});
