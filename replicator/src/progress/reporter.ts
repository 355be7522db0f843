/**
 * Progress of the tables being copied (snapshot and resync), shown the way the output is
 * read: on a terminal, a live line per table redrawn in place (./live-lines.ts); anywhere
 * else (tests, Docker, systemd), a JSON log record per table every 10 seconds with rows,
 * bytes, rate, percent and ETA. The copy calls `update` as often as it likes.
 */
import type { Logger } from '../log.js';
import { formatProgressLine, type Phase } from './format.js';
import type { LiveLines } from './live-lines.js';
import { figures } from './meter.js';
import type { TableEstimate } from './table-estimate.js';

/** How often a progress record is logged per table when there is no terminal. */
export const LOG_INTERVAL_MS = 10_000;

export interface TableProgress {
  /** Rows and bytes copied so far. */
  update(rows: number, bytes: number): void;
  /** The copy ended (done or not): the table's line goes away. */
  end(): void;
}

export class ProgressReporter {
  #next = 0;

  /** `terminal` is null when stderr is no TTY: progress goes to the log then. */
  constructor(
    private readonly lc: Logger,
    private readonly terminal: LiveLines | null,
  ) {}

  table(phase: Phase, table: string, estimate: TableEstimate): TableProgress {
    const key = `${phase}:${table}:${this.#next++}`;
    const started = Date.now();
    let lastLog = started;
    const progress = (rows: number, bytes: number) => ({
      rows,
      bytes,
      rowsEstimated: estimate.rows,
      elapsedMs: Date.now() - started,
      done: false,
    });
    return {
      update: (rows, bytes) => {
        const p = progress(rows, bytes);
        if (this.terminal) {
          this.terminal.set(key, formatProgressLine(phase, table, p));
          return;
        }
        if (Date.now() - lastLog < LOG_INTERVAL_MS) return;
        lastLog = Date.now();
        const f = figures(p);
        this.lc.info(
          {
            table,
            rowsCopied: rows,
            rowsEstimated: estimate.rows,
            bytesCopied: bytes,
            rowsPerSecond: Math.round(f.rowsPerSecond),
            megabytesPerSecond: Math.round(f.bytesPerSecond / 100_000) / 10,
            percent: f.percent,
            etaSeconds: f.etaSeconds === null ? null : Math.ceil(f.etaSeconds),
          },
          `${phase} progress`,
        );
      },
      end: () => this.terminal?.delete(key),
    };
  }
}
