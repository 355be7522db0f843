/**
 * Snapshot progress seen from outside the replicator (`make up` runs it in the background,
 * its output in a log file): the destination's COPY progress (pg_stat_progress_copy: rows
 * and bytes received so far, per target table) against the estimate the replicator
 * recorded in elt.tables. Needs the replicator's destination role (or pg_read_all_stats).
 */
import pg from 'pg';
import { readSnapshotCopies, type SnapshotCopyRow } from '../state/read-model.js';
import { formatProgressLine } from './format.js';
import type { LiveLines } from './live-lines.js';

interface FirstSeen {
  at: number;
  rows: number;
  bytes: number;
}

export class SnapshotWatch {
  readonly #firstSeen = new Map<string, FirstSeen>();

  constructor(
    private readonly destinationUrl: string,
    private readonly slot: string,
    private readonly terminal: LiveLines,
  ) {}

  /** Read the copies under way and redraw their lines; a table no longer copying loses its line. */
  async poll(): Promise<void> {
    const db = new pg.Client({ connectionString: this.destinationUrl, application_name: 'elt-snapshot-watch' });
    await db.connect();
    try {
      this.#draw(await readSnapshotCopies(db, this.slot));
    } finally {
      await db.end();
    }
  }

  /** Remove every line (the snapshot is over). */
  clear(): void {
    for (const table of this.#firstSeen.keys()) this.terminal.delete(table);
    this.#firstSeen.clear();
  }

  #draw(rows: SnapshotCopyRow[]): void {
    const now = Date.now();
    for (const table of this.#firstSeen.keys()) {
      if (rows.some((r) => r.table === table)) continue;
      this.terminal.delete(table);
      this.#firstSeen.delete(table);
    }
    for (const r of rows) {
      const first = this.#firstSeen.get(r.table) ?? { at: now, rows: Number(r.rows), bytes: Number(r.bytes) };
      this.#firstSeen.set(r.table, first);
      this.terminal.set(
        r.table,
        formatProgressLine('snapshot', r.table, {
          rows: Number(r.rows),
          bytes: Number(r.bytes),
          rowsEstimated: Number(r.rows_estimated ?? 0),
          elapsedMs: now - first.at,
          done: false,
          rowsAtStart: first.rows,
          bytesAtStart: first.bytes,
        }),
      );
    }
  }
}
