/**
 * A few status lines kept at the bottom of a terminal and redrawn in place, with log lines
 * written above them: before a log line the status lines are erased, after it they are
 * drawn again, so neither breaks the other. Lines are cut to the terminal's width (a
 * wrapped line would throw off the count of lines to erase).
 */

/** What LiveLines needs of a terminal stream (process.stderr when it is a TTY). */
export interface TerminalStream {
  write(text: string): unknown;
  columns?: number;
}

/** Redraws at most this often when only the figures change. */
const REDRAW_INTERVAL_MS = 200;

export class LiveLines {
  readonly #lines = new Map<string, string>();
  #drawn = 0;
  #lastDraw = 0;

  constructor(private readonly stream: TerminalStream) {}

  /** Set (or add) the line `key`; redrawn now when it is new, else at most every 200 ms. */
  set(key: string, line: string): void {
    const added = !this.#lines.has(key);
    this.#lines.set(key, line);
    if (added || Date.now() - this.#lastDraw >= REDRAW_INTERVAL_MS) this.#redraw('');
  }

  delete(key: string): void {
    if (this.#lines.delete(key)) this.#redraw('');
  }

  /** Write a log line (ending in a newline) above the status lines. */
  log(text: string): void {
    this.#redraw(text);
  }

  #redraw(above: string): void {
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    const erase = this.#drawn > 0 ? `\x1b[${this.#drawn}F\x1b[J` : '';
    const lines = [...this.#lines.values()].map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
    this.stream.write(erase + above + lines.map((l) => `${l}\n`).join(''));
    this.#drawn = lines.length;
    this.#lastDraw = Date.now();
  }
}
