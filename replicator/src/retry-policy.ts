/**
 * Whether the supervisor tries again after a failed attempt. Transient failures (see
 * ./failures.ts) are retried for as long as it takes. A deterministic one, or one nothing
 * explains (a bug), is given a few attempts (what looked deterministic may have been a
 * server in a bad moment), then the replicator stops with it, recorded in
 * elt.replication_state: nothing retries a deterministic failure forever, and nothing copies
 * a whole database again in a loop. Failures that belong to one table never reach here: they
 * stop that table alone.
 */
import { EltError, UnreachableError } from './errors.js';
import { classifyFailure, isUnexplained, sqlState } from './failures.js';

/** The same deterministic failure this many times (transient ones in between do not count) ends the replicator. */
export const DETERMINISTIC_ATTEMPTS = 3;
/** The same unexplained failure this many times ends the replicator. */
export const UNEXPLAINED_ATTEMPTS = 5;
/** A repeat this long after the previous one starts the count again. */
export const REPEAT_WINDOW_MS = 30 * 60_000;

export class RetryPolicy {
  #repeated: { key: string; count: number; at: number } | null = null;

  /**
   * Decide after a failed attempt. `connectedOnce`: this process has reached both servers
   * (an unreachable server is then an outage to wait out, not a wrong URL).
   */
  shouldRetry(error: unknown, connectedOnce: boolean, now = Date.now()): boolean {
    if (error instanceof UnreachableError)
      return connectedOnce || (error.cause as { code?: string } | undefined)?.code === '57P03';
    if (error instanceof EltError) return false;
    const unexplained = isUnexplained(error);
    if (classifyFailure(error) === 'transient' && !unexplained) return true;
    const key = failureKey(error);
    const previous = this.#repeated;
    const count = previous?.key === key && now - previous.at < REPEAT_WINDOW_MS ? previous.count + 1 : 1;
    this.#repeated = { key, count, at: now };
    return count < (unexplained ? UNEXPLAINED_ATTEMPTS : DETERMINISTIC_ATTEMPTS);
  }
}

/** What makes two failures the same one: the SQLSTATE and the message without its numbers (PIDs, LSNs, snapshot ids). */
function failureKey(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `${sqlState(error) ?? (error instanceof Error ? error.name : 'error')}:${message.replace(/[0-9A-Fa-f]*\d[0-9A-Fa-f]*/g, '#')}`;
}
