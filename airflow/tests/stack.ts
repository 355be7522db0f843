/**
 * The real local stack for the Airflow end-to-end test: a source and a destination cluster
 * (fresh, free ports), the demo shop at a small scale, the replicator logging in as the
 * least-privilege elt_replicator role, and the API on a free port.
 *
 * Run: npx tsx airflow/tests/stack.ts [--scale 0.05]
 * Prints one JSON line once the replicator streams:
 *   {"sourceUrl", "destinationUrl", "apiUrl", "apiToken", "replicatorLog"}
 * and keeps everything running until its stdin closes or it gets SIGTERM/SIGINT; then it
 * stops the API, the replicator and both clusters.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { query, startElt, startPair, waitFor } from '../../harness/replication.js';
import { initDemoSource } from '../../source_db_init/init.js';
import { startApi } from '../../api/src/server.js';
import { loadApiConfig } from '../../api/src/config.js';

const REPLICATOR_PASSWORD = 'elt-airflow-test';
const API_TOKEN = 'airflow-e2e-token-0123456789abcdef';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scale: { type: 'string', default: '0.05' } } });
  const pair = await startPair();
  let stopping = false;
  const cleanups: (() => Promise<unknown>)[] = [async () => pair[Symbol.asyncDispose]()];
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  process.stdin.on('end', () => void stop(0));
  process.stdin.on('close', () => void stop(0));
  process.stdin.resume();

  try {
    await initDemoSource(pair.sourceUrl, { scale: Number(values.scale), replicatorPassword: REPLICATOR_PASSWORD });
    const source = new URL(pair.sourceUrl);
    source.username = 'elt_replicator';
    source.password = REPLICATOR_PASSWORD;
    const replicator = startElt(['replicate'], {
      ELT_SOURCE_URL: source.toString(),
      ELT_DESTINATION_URL: pair.destinationUrl,
      ELT_DELETE_MODE: 'soft',
    });
    const replicatorLog = join(tmpdir(), `elt-airflow-e2e-replicator-${process.pid}.log`);
    cleanups.push(async () => {
      writeFileSync(replicatorLog, replicator.output());
      await replicator.kill();
    });
    await waitFor(
      'the replicator to stream',
      async () => {
        if (replicator.child.exitCode !== null) throw new Error(`elt replicate exited:\n${replicator.output()}`);
        const rows = await query<{ phase: string }>(
          pair.destinationUrl,
          "SELECT phase FROM elt.replication_state WHERE slot_name = 'elt_slot'",
        ).catch(() => []);
        return rows[0]?.phase === 'streaming';
      },
      300_000,
    );
    const api = await startApi(
      loadApiConfig({ ELT_DESTINATION_URL: pair.destinationUrl, ELT_API_PORT: '0', ELT_API_TOKEN: API_TOKEN }),
    );
    cleanups.push(() => api.close());
    process.stdout.write(
      JSON.stringify({
        sourceUrl: pair.sourceUrl,
        destinationUrl: pair.destinationUrl,
        apiUrl: api.url,
        apiToken: API_TOKEN,
        replicatorLog,
      }) + '\n',
    );
  } catch (error) {
    process.stderr.write(
      `stack failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    await stop(1);
  }
}

void main();
