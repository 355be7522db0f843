/**
 * Where the Makefile's Python virtualenvs live: $ELT_DBT_VENV when make exported it, else
 * the same path make computes (the cache directory plus a hash of the requirements file).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './replication.js';

export function dbtVenv(): string {
  if (process.env.ELT_DBT_VENV) return process.env.ELT_DBT_VENV;
  const requirements = readFileSync(join(REPO_ROOT, 'custom_postgres', 'requirements.txt'));
  const hash = createHash('sha256').update(requirements).digest('hex').slice(0, 12);
  return join(process.env.CACHE_DIR ?? join(homedir(), '.cache', 'elt'), `venv-dbt-${hash}`);
}
