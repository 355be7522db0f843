/**
 * Health checks of the local stack's services. A service is up when its check passes; it has
 * failed when its process exits first, or when the check still fails at the deadline. Either
 * way the error names the service and shows the tail of its log.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { EltError } from '../errors.js';
import type { StackPaths } from './paths.js';
import { alive, logTail } from './processes.js';

/** A service of the stack did not come up: `elt up` stops what it started and exits 1. */
export class ServiceFailedError extends EltError {
  override readonly name = 'ServiceFailedError';
}

/** Whether GET url answers 200 (within 5 s); the body when it does. */
export async function httpOk(url: string): Promise<string | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return response.status === 200 ? await response.text() : null;
  } catch {
    return null;
  }
}

export interface HealthCheck {
  /** The service's name, as in pids.json and logs/<name>.log. */
  service: string;
  pid: number;
  /** What "healthy" means, for the message. */
  what: string;
  /** Resolves true when healthy; may throw (counted as not yet). */
  check: () => Promise<boolean>;
  timeoutMs: number;
}

export async function waitHealthy(paths: StackPaths, h: HealthCheck): Promise<void> {
  const deadline = Date.now() + h.timeoutMs;
  let last = '';
  for (;;) {
    if (!alive(h.pid)) {
      throw new ServiceFailedError(
        `The ${h.service} exited before it was healthy (${h.what}).\n${logTail(paths, h.service)}`,
        `Fix what its log says, then make down && make up.`,
      );
    }
    try {
      if (await h.check()) return;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new ServiceFailedError(
        `The ${h.service} is not healthy after ${Math.round(h.timeoutMs / 1000)} s (${h.what})${last ? `: ${last}` : ''}.\n${logTail(paths, h.service)}`,
        'Fix what its log says, then make down && make up.',
      );
    }
    await delay(500);
  }
}
