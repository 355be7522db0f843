/**
 * At start, the replica follows ELT_TARGET_SCHEMA and ELT_TARGET_SCHEMA_MAP as they are now:
 * every target schema exists, and a table whose replica elt.tables records in another schema
 * (the map changed since the last run) is moved there with ALTER TABLE … SET SCHEMA. Its rows,
 * indexes and position stay as they are, so nothing is copied again. A schema that is no longer
 * a target (ELT_TARGET_SCHEMA changed) hands the types and collations the replica recreated in
 * it to the default target, where new tables and columns look for them. A table that cannot move
 * (the new schema already has a table of that name) stops alone, in `error`, with what to do.
 * Runs before the stream and the resyncs start, under the writer lock.
 */
import type pg from 'pg';
import type { Logger } from '../log.js';
import { ident, qualified } from '../sql.js';
import { readTableRows, recordTableError, recordTargetSchema } from '../state/control.js';
import type { TargetSchemas } from './target-schemas.js';

export async function followTargetSchemas(
  lc: Logger,
  db: pg.ClientBase,
  slot: string,
  sourceSchemas: string[],
  targets: TargetSchemas,
): Promise<void> {
  const now = targets.all(sourceSchemas);
  for (const schema of now) await db.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
  const left = new Set<string>();
  for (const t of await readTableRows(db, slot)) {
    const to = targets.of(t.schema);
    if (t.targetSchema === to) continue;
    await moveTable(lc, db, slot, { ...t, to });
    if (!now.includes(t.targetSchema)) left.add(t.targetSchema);
  }
  for (const schema of left) await moveTypes(lc, db, schema, targets.defaultSchema);
}

/** The recreated types (enums, domains, composites, ranges; arrays go with them) and collations of `from`, moved to `to`. */
async function moveTypes(lc: Logger, db: pg.ClientBase, from: string, to: string): Promise<void> {
  const { rows } = await db.query<{ name: string; kind: string }>(
    `SELECT t.typname AS name, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'r', 'c')
       AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
       AND NOT EXISTS (SELECT 1 FROM pg_type o JOIN pg_namespace p ON p.oid = o.typnamespace WHERE p.nspname = $2 AND o.typname = t.typname)
     UNION ALL
     SELECT c.collname, 'COLLATION' FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
     WHERE n.nspname = $1
       AND NOT EXISTS (SELECT 1 FROM pg_collation o JOIN pg_namespace p ON p.oid = o.collnamespace WHERE p.nspname = $2 AND o.collname = c.collname)`,
    [from, to],
  );
  for (const r of rows) await db.query(`ALTER ${r.kind} ${qualified(from, r.name)} SET SCHEMA ${ident(to)}`);
  if (rows.length > 0)
    lc.info({ from, to, objects: rows.map((r) => r.name) }, 'moved the recreated types to the target schema');
}

async function moveTable(
  lc: Logger,
  db: pg.ClientBase,
  slot: string,
  t: { schema: string; table: string; targetSchema: string; targetTable: string; to: string },
): Promise<void> {
  const label = `${t.schema}.${t.table}`;
  const from = qualified(t.targetSchema, t.targetTable);
  const exists = async (name: string) =>
    (await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [name])).rows[0]!.ok;
  await db.query('BEGIN');
  try {
    if (await exists(qualified(t.to, t.targetTable))) {
      await db.query('ROLLBACK');
      await recordTableError(
        db,
        slot,
        t.schema,
        t.table,
        `Its replica cannot move from ${t.targetSchema} to ${t.to} (ELT_TARGET_SCHEMA_MAP): ${t.to}.${t.targetTable} exists already. Drop or rename that table and restart elt, then resync ${label}.`,
      );
      lc.warn({ table: label, from: t.targetSchema, to: t.to }, 'the replica cannot move to its new target schema');
      return;
    }
    if (await exists(from)) await db.query(`ALTER TABLE ${from} SET SCHEMA ${ident(t.to)}`);
    await recordTargetSchema(db, slot, t.schema, t.table, t.to);
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined); // the error thrown is the one to report
    throw error;
  }
  lc.info({ table: label, from: t.targetSchema, to: t.to }, 'moved the replica to its target schema');
}
