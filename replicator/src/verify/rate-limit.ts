/**
 * ELT_VERIFY_MAX_ROWS_PER_S: the verifier reads the source at most this fast. After each
 * group of chunks it waits until the rows read so far fit the rate.
 */

/** How long to wait (ms) so that `rows` read since the start, `elapsedMs` ago, stay within `rowsPerS` (pure). */
export function delayFor(rows: number, elapsedMs: number, rowsPerS: number): number {
  if (rowsPerS <= 0) return 0;
  return Math.max(0, Math.ceil((rows / rowsPerS) * 1000 - elapsedMs));
}

export class RateLimiter {
  private readonly started = Date.now();
  private rows = 0;

  constructor(private readonly rowsPerS: number) {}

  async take(rows: number, signal?: AbortSignal): Promise<void> {
    this.rows += rows;
    const wait = delayFor(this.rows, Date.now() - this.started, this.rowsPerS);
    if (wait === 0 || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
