/**
 * The background verifier of `elt replicate` (ELT_VERIFY_INTERVAL seconds apart, 0 = off):
 * a verification run of every table, beside the stream, for as long as a replication attempt
 * streams. Its failures are logged and never stop replication; the next run tries again.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { runVerify } from './run-verify.js';

export async function runBackgroundVerifier(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  signal: AbortSignal,
): Promise<void> {
  if (config.verifyInterval === 0) return;
  while (await pause(config.verifyInterval * 1000, signal)) {
    try {
      const report = await runVerify({
        lc,
        sourceUrl: config.sourceUrl,
        destinationUrl: config.destinationUrl,
        slot: config.slot,
        maxRowsPerS: config.verifyMaxRowsPerS,
        repair: config.verifyRepair,
        metrics,
        signal,
      });
      const differing = report.tables.filter((t) => t.outcome === 'differs').map((t) => `${t.schema}.${t.table}`);
      lc.info({ tables: report.tables.length, differing }, 'verify: run finished');
    } catch (error) {
      if (signal.aborted) return;
      lc.warn({ err: error }, 'verify: the run failed; the next one tries again');
    }
  }
}

/** Wait, or stop waiting when the signal aborts; true when the time passed. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve(true);
    }, ms);
    function stop() {
      clearTimeout(timer);
      resolve(false);
    }
    signal.addEventListener('abort', stop, { once: true });
  });
}
