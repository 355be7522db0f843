/**
 * Where the local stack lives: the repository it runs from (the directory holding elt's
 * package.json, found upward from this file, so a compiled copy finds it too), the `elt`
 * entry point, and the state directory (ELT_STATE_DIR, default <repository>/.elt).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'elt')
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('elt: cannot find the repository (no package.json named elt above this file).');
    dir = parent;
  }
}

export const REPO_ROOT = findRepoRoot();
export const ELT_BIN = join(REPO_ROOT, 'bin', 'elt.js');
/** The heap cap bin/elt.js's shebang gives the replicator (harness/replication.ts uses the same). */
export const ELT_NODE_FLAGS = ['--max-old-space-size=160'];

export interface StackPaths {
  stateDir: string;
  logDir: string;
  pidsFile: string;
  settingsFile: string;
}

export function stackPaths(env: NodeJS.ProcessEnv = process.env): StackPaths {
  const stateDir = env.ELT_STATE_DIR || join(REPO_ROOT, '.elt');
  return {
    stateDir,
    logDir: join(stateDir, 'logs'),
    pidsFile: join(stateDir, 'pids.json'),
    settingsFile: join(stateDir, 'stack.env'),
  };
}
