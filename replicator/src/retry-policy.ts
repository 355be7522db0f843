/**
 * Whether the supervisor tries again after a failed attempt. Transient failures (see
 * ./failures.ts) are retried for as long as it takes. A deterministic one is given a few
 * attempts (what looked deterministic may have been a server in a bad moment), then the
 * replicator stops with it, recorded in elt.replication_state: nothing retries a
 * deterministic failure forever, and nothing copies a whole database again in a loop.
 * Failures that belong to one table never reach here: they stop that table alone.
 */
import { EltError, UnreachableError } from './errors.js';
import { classifyFailure } from './failures.js';

/** The same deterministic failure this many times in a row ends the replicator. */
export const DETERMINISTIC_ATTEMPTS = 3;

export class RetryPolicy {
  #repeated: { message: string; count: number } | null = null;

  /**
   * Decide after a failed attempt. `connectedOnce`: this process has reached both servers
   * (an unreachable server is then an outage to wait out, not a wrong URL).
   */
  shouldRetry(error: unknown, connectedOnce: boolean): boolean {
    if (error instanceof UnreachableError) return connectedOnce || (error.cause as { code?: string } | undefined)?.code === '57P03';
    if (error instanceof EltError) return false;
    if (classifyFailure(error) === 'transient') {
      this.#repeated = null;
      return true;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.#repeated = this.#repeated?.message === message ? { message, count: this.#repeated.count + 1 } : { message, count: 1 };
    return this.#repeated.count < DETERMINISTIC_ATTEMPTS;
  }
}
