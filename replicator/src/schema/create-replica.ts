/**
 * Runs a replica plan (./replica-ddl.ts) in the destination, inside the caller's
 * transaction: the user types first, then each table, each in a savepoint of its own. A
 * table whose DDL the destination refuses, whose type could not be created or whose
 * extension is missing is reported with the reason; the other tables are created.
 */
import type { ClientBase } from 'pg';
import { classifyFailure } from '../failures.js';
import type { Logger } from '../log.js';
import type { ReplicaPlan, TablePlan } from './replica-ddl.js';

/** Table OID → why its replica could not be created (message and what to do). */
export type FailedTables = Map<number, string>;

/**
 * Create the plan's types and tables. Types already in the target schema (a table created
 * while streaming) are kept. Sets the transaction's search_path to the plan's.
 */
export async function createReplicaTables(
  lc: Logger,
  db: ClientBase,
  plan: ReplicaPlan,
  tables: TablePlan[] = plan.tables,
): Promise<FailedTables> {
  await db.query(`SELECT set_config('search_path', $1, true)`, [plan.searchPath]);
  const extensions = await installedExtensions(db);
  const failedObjects = new Map<string, string>();
  const wanted = new Set(tables.flatMap((t) => t.needs));
  for (const object of plan.objects.filter((o) => wanted.has(o.key))) {
    if (object.problem) {
      failedObjects.set(object.key, object.problem);
      continue;
    }
    if (await alreadyThere(db, object)) continue;
    const error = await inSavepoint(db, () => db.query(object.sql));
    if (error) {
      failedObjects.set(object.key, `The destination refused to create ${object.label}: ${error.message}.`);
      lc.error({ object: object.label, err: error }, 'could not create a type in the replica');
    }
  }
  const failed: FailedTables = new Map();
  for (const table of tables) {
    const label = `${table.table.schema}.${table.table.name}`;
    const reason =
      table.problem ??
      missingExtensions(table, extensions) ??
      table.needs.map((key) => failedObjects.get(key)).find((r) => r !== undefined) ??
      (await inSavepoint(db, async () => {
        for (const statement of table.create) await db.query(statement);
      }).then((error) => (error ? `The destination refused the replica table's DDL: ${error.message}.` : null)));
    if (reason) {
      failed.set(table.table.oid, reason);
      lc.error({ table: label, reason }, 'table not replicated');
    }
  }
  return failed;
}

/**
 * The table's identity key, then its other indexes, each in a savepoint. A failing identity
 * key fails the table (returns the reason); a failing other index is left out with a warning.
 */
export async function createReplicaIndexes(
  lc: Logger,
  db: ClientBase,
  plan: ReplicaPlan,
  table: TablePlan,
): Promise<string | null> {
  await db.query(`SELECT set_config('search_path', $1, true)`, [plan.searchPath]);
  const label = `${table.table.schema}.${table.table.name}`;
  if (table.identityIndex) {
    const error = await inSavepoint(db, () => db.query(table.identityIndex!));
    if (error) return `The destination refused the table's key: ${error.message}.`;
  }
  for (const index of table.indexes) {
    const error = await inSavepoint(db, () => db.query(index.sql));
    if (error)
      lc.warn(
        { table: label, index: index.name, err: error },
        'index left out of the replica: the destination refused it',
      );
  }
  for (const skipped of table.skippedIndexes)
    lc.info({ table: label, index: skipped.name, reason: skipped.reason }, 'index left out of the replica');
  return null;
}

/** Run `work` in a savepoint; returns its deterministic error (rolled back to the savepoint), or null; a transient one is thrown. */
async function inSavepoint(db: ClientBase, work: () => Promise<unknown>): Promise<Error | null> {
  await db.query('SAVEPOINT elt_replica_ddl');
  try {
    await work();
    await db.query('RELEASE SAVEPOINT elt_replica_ddl');
    return null;
  } catch (error) {
    // A lock or statement timeout, a full disk, a lost connection: the attempt ends and is retried.
    if (classifyFailure(error) === 'transient') throw error;
    await db.query('ROLLBACK TO SAVEPOINT elt_replica_ddl');
    return error instanceof Error ? error : new Error(String(error));
  }
}

async function installedExtensions(db: ClientBase): Promise<Map<string, string>> {
  const { rows } = await db.query<{ name: string; schema: string }>(
    'SELECT e.extname AS name, n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace',
  );
  return new Map(rows.map((r) => [r.name, r.schema]));
}

/** The sentence for extensions the table needs that the destination lacks (or has elsewhere). */
function missingExtensions(table: TablePlan, installed: Map<string, string>): string | null {
  const missing = table.extensions.filter((e) => installed.get(e.name) !== e.schema);
  if (missing.length === 0) return null;
  const what = missing
    .map(
      (e) =>
        `${e.name} (in schema ${e.schema}${installed.has(e.name) ? `; the destination has it in ${installed.get(e.name)}` : ''})`,
    )
    .join(', ');
  const fix = missing.map((e) => `CREATE EXTENSION IF NOT EXISTS ${e.name} SCHEMA ${e.schema};`).join(' ');
  return `The table uses the extension${missing.length > 1 ? 's' : ''} ${what}, missing in the destination. Run on the destination: ${fix} Then resync the table.`;
}

/** A user type or collation that exists in the target schema already is kept. */
async function alreadyThere(db: ClientBase, object: ReplicaPlan['objects'][number]): Promise<boolean> {
  const sql =
    object.kind === 'collation'
      ? 'SELECT EXISTS (SELECT 1 FROM pg_collation c WHERE c.oid = to_regcollation($1)) AS there'
      : 'SELECT to_regtype($1) IS NOT NULL AS there';
  const { rows } = await db.query<{ there: boolean }>(sql, [object.name]);
  return rows[0]?.there === true;
}
