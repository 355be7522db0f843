/**
 * Where the Makefile's Python virtualenvs live: the variable make exported when it ran
 * (ELT_DBT_VENV, ELT_AIRFLOW_VENV, ELT_SCHEMATHESIS_VENV), else the same path make computes:
 * the cache directory plus the first 12 hex digits of the requirements file's sha256.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** ~/.cache/elt, or make's CACHE_DIR. */
export function cacheDir(): string {
  return process.env.CACHE_DIR ?? join(homedir(), '.cache', 'elt');
}

/** The virtualenv make builds for `requirements` (a path in the repository) as venv-<name>-<hash>. */
export function hashedVenv(name: string, requirements: string, exportedAs: string): string {
  const exported = process.env[exportedAs];
  if (exported) return exported;
  const hash = createHash('sha256')
    .update(readFileSync(join(REPO_ROOT, requirements)))
    .digest('hex')
    .slice(0, 12);
  return join(cacheDir(), `venv-${name}-${hash}`);
}

export const dbtVenv = () => hashedVenv('dbt', 'custom_postgres/requirements.txt', 'ELT_DBT_VENV');
export const airflowVenv = () => hashedVenv('airflow', 'airflow/requirements.txt', 'ELT_AIRFLOW_VENV');
export const schemathesisVenv = () =>
  hashedVenv('schemathesis', 'chaos/requirements-schemathesis.txt', 'ELT_SCHEMATHESIS_VENV');
