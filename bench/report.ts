/**
 * The run's results as markdown tables (printed, and written beside the JSON as
 * bench/results/<date>.md). A row whose copy check failed shows FAIL instead of figures.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchResults, Check } from './context.js';
import type { Distribution } from './stats.js';
import { round } from './stats.js';
import { MB, int, num, table } from './markdown.js';
import { KEPT_UP_SECONDS } from './scenarios/steady.js';

/** The figures, or FAIL for each when the copy is wrong. */
function figures(check: Check, values: string[]): string[] {
  return check.ok ? values : values.map(() => 'FAIL');
}

function checkCell(check: Check): string {
  return check.ok ? 'ok' : `FAIL: ${check.detail}`;
}

function triple(d: Distribution, scale: number, digits: number): string {
  return [d.p50, d.p99, d.max].map((v) => num(v / scale, digits)).join(' / ');
}

export function renderMarkdown(results: BenchResults): string {
  const { machine, options } = results;
  const out: string[] = [];
  out.push(
    `## elt bench, ${results.startedAt.slice(0, 10)} (${options.quick ? 'quick' : 'full'} run, scale ${options.scale})`,
  );
  out.push('');
  out.push(
    `${machine.cpus} × ${machine.cpuModel}, ${(machine.memoryBytes / 1024 ** 3).toFixed(0)} GB RAM; ${machine.postgres} (fsync on, three fresh clusters: source, elt destination, native destination); Node ${machine.node}. ` +
      `Command: \`${results.command}\`.`,
  );
  for (const d of results.datasets)
    out.push(
      `- dataset ${d.name}: ${int(d.rows)} rows, ${num(d.bytes / MB, 0)} MB (tables, TOAST and indexes on the source)`,
    );

  if (results.snapshot.length) {
    out.push('', '### 1. Snapshot (initial copy)', '');
    out.push(
      table(
        ['dataset', 'method', 'seconds', 'MB/s', 'rows/s', 'speed vs pg_dump | psql', 'check'],
        results.snapshot.map((r) => [
          r.dataset,
          r.method,
          ...figures(r.check, [
            num(r.seconds),
            num(r.mbPerSecond, 1),
            int(r.rowsPerSecond),
            r.speedVsDumpPsql === null ? '–' : `${num(r.speedVsDumpPsql)}×`,
          ]),
          checkCell(r.check),
        ]),
      ),
    );
  }
  if (results.steady.length) {
    out.push('', '### 2. Steady streaming (lag sampled every 200 ms while the load runs)', '');
    out.push(
      table(
        [
          'load',
          'system',
          'source tps',
          'lag p50 / p99 / max (s)',
          'lag p50 / p99 / max (kB)',
          'catch-up after load (s)',
          'kept up',
          'check',
        ],
        results.steady.map((r) => [
          r.load,
          r.system,
          ...figures(r.check, [
            int(r.tps),
            triple(r.lagSeconds, 1, 2),
            triple(r.lagBytes, 1024, 0),
            num(r.catchUpSeconds),
            r.keptUp ? 'yes' : 'no',
          ]),
          checkCell(r.check),
        ]),
      ),
    );
  }
  if (results.backlog.length) {
    out.push('', '### 3. Backlog drain (consumer stopped during the load, then started alone)', '');
    out.push(
      table(
        [
          'system',
          'changes',
          'seconds',
          'changes/s',
          'speed vs native',
          'start-up before the slot was active (s)',
          'check',
        ],
        results.backlog.map((r) => [
          r.system,
          int(r.changes),
          ...figures(r.check, [
            num(r.seconds),
            int(r.changesPerSecond),
            `${num(r.speedVsNative)}×`,
            num(r.startupSeconds),
          ]),
          checkCell(r.check),
        ]),
      ),
    );
  }
  if (results.bigTransaction.length) {
    out.push('', '### 4. Big transaction (one UPDATE of every pgbench_accounts row, one consumer attached)', '');
    out.push(
      table(
        [
          'system',
          'rows',
          'source UPDATE + COMMIT (s)',
          'commit → applied (s)',
          'time vs native',
          'peak RSS (MB)',
          'check',
        ],
        results.bigTransaction.map((r) => [
          r.system,
          int(r.rows),
          ...figures(r.check, [
            num(r.sourceSeconds),
            num(r.commitToAppliedSeconds),
            `${num(r.timeVsNative)}×`,
            r.peakRssBytes === null ? '–' : num(r.peakRssBytes / MB, 0),
          ]),
          checkCell(r.check),
        ]),
      ),
    );
    for (const r of results.bigTransaction) if (r.note) out.push('', `${r.system}: ${r.note}.`);
  }
  if (results.verify.length) {
    out.push(
      '',
      '### 5. Verification (`elt verify` of the pgbench dataset; under load, in a loop while pgbench runs)',
      '',
    );
    out.push(
      table(
        [
          'phase',
          'rate limit (rows/s)',
          'verifications',
          'rows compared',
          'rows/s',
          'elt lag p50 / p99 / max (s)',
          'check',
        ],
        results.verify.map((r) => [
          r.phase,
          r.maxRowsPerS === null ? '–' : int(r.maxRowsPerS),
          String(r.runs),
          int(r.rows),
          r.runs === 0 ? '–' : int(r.rowsPerSecond),
          r.lagSeconds === null ? '–' : triple(r.lagSeconds, 1, 2),
          checkCell(r.check),
        ]),
      ),
    );
  }
  if (results.errors.length) {
    out.push('', '### Scenarios that did not finish (FAIL)', '');
    for (const e of results.errors) out.push(`- ${e.scenario}: ${e.message.split('\n')[0]}`);
  }
  out.push(
    '',
    'How: snapshot seconds run from process start (ours) or command start to a checked copy. Lag in bytes is ' +
      '`pg_current_wal_lsn() - confirmed_flush_lsn` of each slot; lag in seconds is how long the oldest heartbeat ' +
      '(a one-row UPDATE committed on the source every 100 ms) not yet visible in the destination has been waiting. ' +
      `"Kept up" means the destination showed the last heartbeat within ${KEPT_UP_SECONDS} s of the load's end. Backlog ` +
      'and big-transaction times end when the destination shows a heartbeat committed after (or inside) the load. ' +
      'Every scenario ends with a per-table count and checksum comparison of each destination with the source.',
  );
  return out.join('\n') + '\n';
}

/** Round every number in the results for the JSON file. */
export function rounded(value: unknown): unknown {
  if (typeof value === 'number') return round(value, 4);
  if (Array.isArray(value)) return value.map(rounded);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rounded(v)]));
  return value;
}

/** Write <dir>/<name>.json and .md (name: --name, else <date>[-quick]); returns the two paths. */
export async function writeResults(results: BenchResults, markdown: string, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const base = join(
    dir,
    results.options.name ?? `${results.startedAt.slice(0, 10)}${results.options.quick ? '-quick' : ''}`,
  );
  await writeFile(`${base}.json`, JSON.stringify(rounded(results), null, 2) + '\n');
  await writeFile(`${base}.md`, markdown);
  return [`${base}.json`, `${base}.md`];
}
