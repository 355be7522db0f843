/**
 * Creates or upgrades the control schema (`elt`) in place: the migrations of ./migrations/ run
 * in order, each recorded in elt.schema_version, all in one transaction under an advisory lock,
 * so replicators starting at the same moment take turns (the same lock key as elt 0.1, which
 * created the schema under it too) and a failed upgrade leaves the schema as it was. A schema
 * newer than this build knows is refused, never touched.
 */
import type { ClientBase } from 'pg';
import { EltError } from '../errors.js';
import { CURRENT_VERSION, MIGRATIONS } from './migrations/index.js';

const LOCK_KEY = 'elt.control-schema';

const VERSION_TABLE = `
CREATE SCHEMA IF NOT EXISTS elt;
CREATE TABLE elt.schema_version (
  version     integer PRIMARY KEY,
  name        text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  applied_by  text NOT NULL DEFAULT current_user
);
`;

/** The destination's control schema is not one this build can use (newer, or from another build). */
export class ControlSchemaVersionError extends EltError {
  override readonly name = 'ControlSchemaVersionError';
}

export interface MigrationResult {
  /** The version found: 0 for no schema, or a 0.1 schema made before versions were recorded. */
  from: number;
  to: number;
}

export async function migrateControlSchema(db: ClientBase): Promise<MigrationResult> {
  await db.query('BEGIN');
  try {
    const result = await migrateInTransaction(db);
    await db.query('COMMIT');
    return result;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {
      // The connection is gone: so is the transaction.
    });
    throw error;
  }
}

async function migrateInTransaction(db: ClientBase): Promise<MigrationResult> {
  await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [LOCK_KEY]);
  // No DDL at all when the table is there: a start at the current version changes nothing.
  const { rows: found } = await db.query<{ found: boolean }>(
    "SELECT to_regclass('elt.schema_version') IS NOT NULL AS found",
  );
  if (!found[0]!.found) await db.query(VERSION_TABLE);
  const { rows } = await db.query<{ version: number; name: string }>(
    'SELECT version, name FROM elt.schema_version ORDER BY version',
  );
  const from = rows.at(-1)?.version ?? 0;
  checkKnown(rows, from);
  for (const migration of MIGRATIONS.filter((m) => m.version > from)) {
    await db.query(migration.sql);
    await db.query('INSERT INTO elt.schema_version (version, name) VALUES ($1, $2)', [
      migration.version,
      migration.name,
    ]);
  }
  return { from, to: CURRENT_VERSION };
}

/** Refuse a schema this build would misread: a newer version, or one whose history is not ours. */
function checkKnown(applied: { version: number; name: string }[], from: number): void {
  if (from > CURRENT_VERSION) {
    throw new ControlSchemaVersionError(
      `The control schema elt in the destination is at version ${from}, newer than this elt knows (version ${CURRENT_VERSION}): a newer elt upgraded it, and elt cannot downgrade it.`,
      'Run the newer elt against this destination (every replicator and API that uses it), or restore the destination from before the upgrade.',
    );
  }
  for (const row of applied) {
    const known = MIGRATIONS.find((m) => m.version === row.version);
    if (known?.name === row.name) continue;
    throw new ControlSchemaVersionError(
      `The control schema elt in the destination records migration ${row.version} as "${row.name}", which this elt does not have${known ? ` (its migration ${row.version} is "${known.name}")` : ''}: another build of elt migrated it.`,
      'Run the elt build that migrated this destination, or restore the destination from before that migration.',
    );
  }
}
