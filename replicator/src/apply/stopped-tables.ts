/**
 * Tables whose changes are skipped until a resync copies them again: the replica refused
 * one of their changes (a deterministic failure, see ../failures.ts) or the replicator
 * cannot follow a change of their source table. The others go on. A stopped table stays
 * stopped across restarts (its state in elt.tables is `error`), and so is a table a restart
 * caught in the middle of its resync; only the swap of a resync's copy resumes it, because the
 * changes skipped meanwhile are in no other place.
 */
import type { ClientBase } from 'pg';
import { readStoppedTables } from '../state/control.js';

export class StoppedTables {
  /** Schema → table → why it stopped. Asked on every change, so no key string is built. */
  readonly #reasons = new Map<string, Map<string, string>>();

  stop(schema: string, table: string, reason: string): void {
    let tables = this.#reasons.get(schema);
    if (!tables) this.#reasons.set(schema, (tables = new Map()));
    tables.set(table, reason);
  }

  resume(schema: string, table: string): void {
    const tables = this.#reasons.get(schema);
    tables?.delete(table);
    if (tables?.size === 0) this.#reasons.delete(schema);
  }

  /** Why the table is stopped; undefined when it is not. */
  reason(schema: string, table: string): string | undefined {
    return this.#reasons.get(schema)?.get(table);
  }

  /**
   * The source renamed or moved a table: its stop goes with it to its new name, unless `resumed`
   * (its row streams again); its old name is free for another table.
   */
  follow(from: { schema: string; table: string }, to: { schema: string; table: string }, resumed: boolean): void {
    const reason = this.reason(from.schema, from.table);
    if (reason === undefined) return;
    this.resume(from.schema, from.table);
    if (!resumed) this.stop(to.schema, to.table, reason);
  }

  has(schema: string, table: string): boolean {
    return this.#reasons.get(schema)?.has(table) ?? false;
  }

  /** Take over the tables a previous run stopped, and those excluded (their changes are never applied). */
  async load(db: ClientBase, slot: string): Promise<void> {
    for (const row of await readStoppedTables(db, slot))
      this.stop(row.schema, row.table, row.reason ?? 'stopped by an earlier run');
  }
}
