/**
 * Scenario 5, verification: `elt verify` of the pgbench dataset against our replica.
 *
 * 1. Throughput: the source idle, no rate limit: rows compared per second.
 * 2. Cost while streaming: the steady pgbench load twice, first alone, then with `elt verify`
 *    running over and over at the default ELT_VERIFY_MAX_ROWS_PER_S; our replicator's lag
 *    (heartbeat, sampled every 200 ms) in both, and the rows per second verification reached
 *    under load. Every verification must find the replica equal: a difference reported under
 *    load is a false positive and fails the check.
 */
import { runElt } from '../../harness/replication.js';
import { configSchema } from '../../replicator/src/config.js';
import type { BenchContext, Check, DatasetRun, VerifyRow } from '../context.js';
import { LagSampler } from '../lag-sampler.js';
import { runPgbench } from '../pgbench.js';

interface VerifyTable {
  schema: string;
  table: string;
  outcome: string;
  rowsChecked: number;
  rowsDiffering: number;
}

interface VerifyRun {
  rows: number;
  seconds: number;
  /** Tables that were not found equal, with why. */
  problems: string[];
}

const UNLIMITED = 100_000_000;
const DEFAULT_RATE = configSchema.parse({
  sourceUrl: 'postgres://h/d',
  destinationUrl: 'postgres://h/d',
}).verifyMaxRowsPerS;

async function verifyOnce(run: DatasetRun, maxRowsPerS: number): Promise<VerifyRun> {
  const started = Date.now();
  const { code, output } = await runElt(['verify', '--json'], {
    ELT_SOURCE_URL: run.dataset.sourceUrl,
    ELT_DESTINATION_URL: run.oursUrl,
    ELT_SLOT: run.slot,
    ELT_VERIFY_MAX_ROWS_PER_S: String(maxRowsPerS),
    ELT_LOG_LEVEL: 'warn',
  });
  const seconds = (Date.now() - started) / 1000;
  const start = output.indexOf('{\n');
  if (start < 0) throw new Error(`elt verify exited ${code} without a report: ${output.slice(-2000)}`);
  const tables = (JSON.parse(output.slice(start, output.lastIndexOf('\n}') + 2)) as { tables: VerifyTable[] }).tables;
  const problems = tables
    .filter((t) => t.outcome !== 'equal')
    .map((t) => `${t.schema}.${t.table} ${t.outcome}${t.rowsDiffering ? ` (${t.rowsDiffering} rows)` : ''}`);
  return { rows: tables.reduce((sum, t) => sum + t.rowsChecked, 0), seconds, problems };
}

function checkOf(runs: VerifyRun[]): Check {
  const problems = runs.flatMap((r) => r.problems);
  return problems.length === 0
    ? { ok: true, detail: `${runs.length} verification(s), all equal` }
    : { ok: false, detail: problems.join('; ') };
}

export async function runVerification(ctx: BenchContext, run: DatasetRun): Promise<VerifyRow[]> {
  if (!run.ours?.alive()) throw new Error('the replicator is not running');
  const rows: VerifyRow[] = [];
  const idle = await verifyOnce(run, UNLIMITED);
  rows.push({
    phase: 'source idle, no rate limit',
    maxRowsPerS: null,
    runs: 1,
    rows: idle.rows,
    seconds: idle.seconds,
    rowsPerSecond: idle.rows / idle.seconds,
    lagSeconds: null,
    check: checkOf([idle]),
  });
  ctx.log(
    `  idle: ${idle.rows} rows in ${idle.seconds.toFixed(1)} s (${(idle.rows / idle.seconds).toFixed(0)} rows/s)`,
  );

  for (const withVerify of [false, true]) {
    const sampler = await LagSampler.start(
      run.dataset.sourceUrl,
      [{ label: 'elt', slot: run.slot, reader: run.oursReader }],
      run.heartbeat,
    );
    run.heartbeat.start();
    const loadStart = Date.now();
    let loading = true;
    const verifications: VerifyRun[] = [];
    const verifying = (async () => {
      while (withVerify && loading) verifications.push(await verifyOnce(run, DEFAULT_RATE));
    })();
    let loadEnd: number;
    try {
      await runPgbench(run.dataset.sourceUrl, { clients: ctx.options.clients, seconds: ctx.options.steadySeconds });
      loadEnd = Date.now();
    } finally {
      loading = false;
      await run.heartbeat.stop();
      await verifying.finally(() => sampler.stop());
    }
    const lag = sampler.summary('elt', loadStart, loadEnd).seconds;
    const verified = verifications.reduce((sum, v) => sum + v.rows, 0);
    const seconds = verifications.reduce((sum, v) => sum + v.seconds, 0);
    rows.push({
      phase: withVerify ? 'pgbench load, elt verify in a loop' : 'pgbench load, no verification',
      maxRowsPerS: withVerify ? DEFAULT_RATE : null,
      runs: verifications.length,
      rows: verified,
      seconds,
      rowsPerSecond: seconds > 0 ? verified / seconds : 0,
      lagSeconds: lag,
      check: withVerify ? checkOf(verifications) : { ok: true, detail: 'no verification' },
    });
    ctx.log(
      `  ${withVerify ? `with ${verifications.length} verification(s), ${verified} rows` : 'without verification'}: lag p50/p99/max ${lag.p50.toFixed(2)}/${lag.p99.toFixed(2)}/${lag.max.toFixed(2)} s`,
    );
  }
  return rows;
}
