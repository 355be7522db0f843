/**
 * Tables whose changes are skipped until a resync copies them again: the replica refused
 * one of their changes (a deterministic failure, see ../failures.ts) or the replicator
 * cannot follow a change of their source table. The others go on. A stopped table stays
 * stopped across restarts (its state in elt.tables is `error`); only the swap of a resync's
 * copy resumes it, because the changes skipped meanwhile are in no other place.
 */
import type { ClientBase } from 'pg';

export class StoppedTables {
  /** "schema.table" (as JSON, so no name can collide) → why it stopped. */
  readonly #reasons = new Map<string, string>();

  static #key(schema: string, table: string): string {
    return JSON.stringify([schema, table]);
  }

  stop(schema: string, table: string, reason: string): void {
    this.#reasons.set(StoppedTables.#key(schema, table), reason);
  }

  resume(schema: string, table: string): void {
    this.#reasons.delete(StoppedTables.#key(schema, table));
  }

  has(schema: string, table: string): boolean {
    return this.#reasons.has(StoppedTables.#key(schema, table));
  }

  /** Take over the tables a previous run stopped, and those excluded (their changes are never applied). */
  async load(db: ClientBase, slot: string): Promise<void> {
    const { rows } = await db.query<{ schema: string; table: string; reason: string | null }>(
      `SELECT source_schema AS schema, source_table AS table, last_error AS reason FROM elt.tables WHERE slot_name = $1 AND state IN ('error', 'excluded')`,
      [slot],
    );
    for (const row of rows) this.stop(row.schema, row.table, row.reason ?? 'stopped by an earlier run');
  }
}
