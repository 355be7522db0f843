/**
 * Where schemathesis lives: its own virtualenv, built by `make chaos-deps` from
 * chaos/requirements-schemathesis.txt. $ELT_SCHEMATHESIS_VENV when make exported it, else
 * the same path make computes (the cache directory plus a hash of the requirements file),
 * as harness/venvs.ts does for dbt.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../harness/replication.js';

export const SCHEMATHESIS_REQUIREMENTS = join(REPO_ROOT, 'chaos', 'requirements-schemathesis.txt');

export function schemathesisVenv(): string {
  if (process.env.ELT_SCHEMATHESIS_VENV) return process.env.ELT_SCHEMATHESIS_VENV;
  const hash = createHash('sha256').update(readFileSync(SCHEMATHESIS_REQUIREMENTS)).digest('hex').slice(0, 12);
  return join(process.env.CACHE_DIR ?? join(homedir(), '.cache', 'elt'), `venv-schemathesis-${hash}`);
}

/**
 * The schemathesis command of that virtualenv. Throws, with what to do, when make has not
 * built it (or the build stopped half-way: the `.installed` stamp comes last).
 */
export function schemathesisCli(): string {
  const venv = schemathesisVenv();
  const cli = join(venv, 'bin', 'schemathesis');
  if (!existsSync(join(venv, '.installed')) || !existsSync(cli)) {
    throw new Error(`schemathesis is not installed in ${venv}: run make chaos-deps (it builds that virtualenv from chaos/requirements-schemathesis.txt).`);
  }
  return cli;
}
