import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, expect, test } from 'vitest';
import { ensureSystemUser } from './pg-cluster.js';

const run = promisify(execFile);
const USER = 'elt-test-useradd';
const isRoot = process.getuid?.() === 0;

afterEach(async () => {
  if (isRoot) await run('userdel', [USER]).catch(() => undefined);
});

// Creating users needs root (as `make test` runs here and in CI); elsewhere there is nothing to create.
test.runIf(isRoot)('clusters started at the same moment get one cluster user, with one uid', async () => {
  for (let round = 0; round < 3; round++) {
    const ids = await Promise.all([1, 2, 3, 4].map(() => ensureSystemUser(USER)));
    const [{ stdout }] = [await run('id', ['-u', USER])];
    expect(new Set(ids.map((i) => i.uid))).toEqual(new Set([Number(stdout.trim())]));
    await run('userdel', [USER]);
  }
});
