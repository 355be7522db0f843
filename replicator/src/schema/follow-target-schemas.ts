/**
 * At start, the replica follows ELT_TARGET_SCHEMA and ELT_TARGET_SCHEMA_MAP as they are now:
 * every target schema exists, and a table whose replica elt.tables records in another schema
 * (the map changed since the last run) is moved there with ALTER TABLE … SET SCHEMA. Its rows,
 * indexes and position stay as they are, so nothing is copied again. A table that cannot move
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
  for (const schema of targets.all(sourceSchemas)) await db.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
  for (const t of await readTableRows(db, slot)) {
    const to = targets.of(t.schema);
    if (t.targetSchema === to) continue;
    await moveTable(lc, db, slot, { ...t, to });
  }
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
