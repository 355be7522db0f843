/**
 * `npx tsx bench/scaling.ts [--scales 20,100] [-- run.ts flags]` (`make bench-large`): does time
 * grow linearly with the rows, and does the replicator's memory stay flat?
 *
 * bench/run.ts runs once per scale, each on fresh clusters, on pgbench only: the snapshot, a
 * backlog of 20,000 changes per scale unit and the big transaction (one UPDATE of all
 * scale x 100 k accounts). Each run writes bench/results/<date>-large-s<scale>.{json,md};
 * then <date>-large.{json,md} sets them side by side (scaling-report.ts). Exit 1 when a run
 * failed or left a wrong copy.
 */
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { REPO_ROOT } from '../harness/replication.js';
import type { BenchResults } from './context.js';
import { rounded } from './report.js';
import { measurements, renderScaling, type ScaledRun } from './scaling-report.js';

const BACKLOG_PER_SCALE = 20_000;
/** Our replicator's limit per big transaction, per scale unit (300 s at scale 20, as `make bench`). */
const APPLY_TIMEOUT_PER_SCALE_S = 15;

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: { scales: { type: 'string', default: '20,100' }, out: { type: 'string', default: 'bench/results' } },
  allowPositionals: true,
});
const scales = z
  .array(z.coerce.number().positive())
  .min(2, '--scales takes at least two scales, e.g. 20,100')
  .parse(values.scales.split(','));
const passThrough = positionals;
const outDir = resolve(REPO_ROOT, values.out);
const date = new Date().toISOString().slice(0, 10);

function runBench(scale: number, name: string): Promise<number> {
  const args = [
    'tsx',
    'bench/run.ts',
    '--scale',
    String(scale),
    '--datasets',
    'pgbench',
    '--only',
    'snapshot,backlog,bigtx',
    '--backlog',
    String(Math.round(BACKLOG_PER_SCALE * scale)),
    '--apply-timeout',
    String(Math.max(300, Math.round(APPLY_TIMEOUT_PER_SCALE_S * scale))),
    '--out',
    values.out,
    '--name',
    name,
    ...passThrough,
  ];
  process.stdout.write(`\n# scale ${scale}: npx ${args.join(' ')}\n`);
  return new Promise((resolveExit, reject) => {
    const child = spawn('npx', args, { cwd: REPO_ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolveExit(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const runs: ScaledRun[] = [];
  let failed = false;
  for (const scale of scales) {
    const name = `${date}-large-s${scale}`;
    const file = join(outDir, `${name}.json`);
    await rm(file, { force: true });
    if ((await runBench(scale, name)) !== 0) failed = true;
    const results = await readFile(file, 'utf8').then(
      (text) => JSON.parse(text) as BenchResults,
      () => null,
    );
    if (results) runs.push({ scale, results });
    else {
      process.stdout.write(`scale ${scale}: the run wrote no results\n`);
      failed = true;
    }
  }
  const command = `npx tsx bench/scaling.ts ${process.argv.slice(2).join(' ')}`.trim();
  const markdown = renderScaling(runs, command);
  process.stdout.write('\n' + markdown);
  const summary = runs.map((r) => ({ scale: r.scale, measurements: measurements(r.results) }));
  await writeFile(
    join(outDir, `${date}-large.json`),
    JSON.stringify(rounded({ command, runs: summary }), null, 2) + '\n',
  );
  await writeFile(join(outDir, `${date}-large.md`), markdown);
  process.stdout.write(`wrote ${join(outDir, `${date}-large.md`)} and .json\n`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench scaling: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
