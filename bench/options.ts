/**
 * Command-line flags of `bench/run.ts`, parsed once with zod, and the sizes each flag
 * implies. `--quick` is a smoke run (about 2 minutes on 2 cores); the full run uses the
 * sizes of issue 5 (pgbench scale 20, 30 s of load, a 400 k-change backlog).
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { DatasetName } from './datasets.js';

export interface BenchOptions {
  quick: boolean;
  /** pgbench scale and demo scale (1 ≈ 100 k rows either way). */
  scale: number;
  /** Seconds of load in each steady-streaming scenario. */
  steadySeconds: number;
  /** pgbench clients (and -j threads: min(clients, cores)). */
  clients: number;
  /** Demo workload transactions per second; 0 = as fast as its connections go. */
  demoRate: number;
  /** Row changes written while the consumers are stopped (4 per pgbench transaction). */
  backlogChanges: number;
  /** How long a consumer may take to drain the backlog or apply the big transaction before it is FAIL. */
  applyTimeoutSeconds: number;
  /** -j of pg_dump -Fd / pg_restore, and of the replicator's snapshot. */
  jobs: number;
  /** Write a V8 CPU profile of every replicator process into this directory. */
  profileDir: string | null;
  /** Run this elt.js instead of the repository's (to measure a candidate change). */
  eltBin: string | null;
  /** Only these scenarios (default all). */
  only: Set<ScenarioName>;
  /** Where <date>.json and <date>.md go. */
  resultsDir: string;
  /** Base name of the result files instead of <date>[-quick]. */
  name: string | null;
  /** Which source datasets to load (default both); backlog, bigtx and verify run on pgbench only. */
  datasets: DatasetName[];
}

export const SCENARIOS = ['snapshot', 'steady', 'backlog', 'bigtx', 'verify'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

const USAGE = `usage: npx tsx bench/run.ts [--quick] [--scale S] [--seconds T] [--backlog N] [--demo-rate R]
                              [--jobs J] [--apply-timeout SECONDS] [--only snapshot,steady,backlog,bigtx,verify] [--profile DIR] [--elt-bin PATH] [--out DIR]
                              [--name NAME] [--datasets pgbench,demo]`;

const flagsSchema = z.object({
  quick: z.boolean().default(false),
  scale: z.coerce.number().positive('--scale must be a positive number').optional(),
  seconds: z.coerce.number().int().positive('--seconds must be a positive whole number').optional(),
  backlog: z.coerce.number().int().min(1000, '--backlog must be at least 1000').optional(),
  'demo-rate': z.coerce.number().min(0, '--demo-rate must be 0 (flat out) or more').optional(),
  jobs: z.coerce.number().int().min(1).max(64).optional(),
  'apply-timeout': z.coerce.number().int().positive('--apply-timeout must be a positive number of seconds').optional(),
  clients: z.coerce.number().int().min(1).max(64).optional(),
  only: z
    .string()
    .optional()
    .transform((value) => (value ? value.split(',').map((s) => s.trim()) : [...SCENARIOS]))
    .pipe(z.array(z.enum(SCENARIOS, { error: `--only takes a comma list of ${SCENARIOS.join(', ')}` }))),
  profile: z.string().optional(),
  'elt-bin': z.string().optional(),
  out: z.string().default('bench/results'),
  name: z
    .string()
    .regex(/^[\w.-]+$/, '--name takes letters, digits, dots and dashes (a file name)')
    .optional(),
  datasets: z
    .string()
    .default('demo,pgbench')
    .transform((value) => value.split(',').map((s) => s.trim()))
    .pipe(z.array(z.enum(['demo', 'pgbench'], { error: '--datasets takes a comma list of demo, pgbench' })).min(1)),
});

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      scale: { type: 'string' },
      seconds: { type: 'string' },
      backlog: { type: 'string' },
      'demo-rate': { type: 'string' },
      jobs: { type: 'string' },
      'apply-timeout': { type: 'string' },
      clients: { type: 'string' },
      only: { type: 'string' },
      profile: { type: 'string' },
      'elt-bin': { type: 'string' },
      out: { type: 'string' },
      name: { type: 'string' },
      datasets: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const parsed = flagsSchema.safeParse(values);
  if (!parsed.success) throw new Error(`${parsed.error.issues.map((i) => i.message).join('; ')}\n${USAGE}`);
  const f = parsed.data;
  return {
    quick: f.quick,
    scale: f.scale ?? (f.quick ? 1 : 20),
    steadySeconds: f.seconds ?? (f.quick ? 10 : 30),
    clients: f.clients ?? 4,
    demoRate: f['demo-rate'] ?? 0,
    backlogChanges: f.backlog ?? (f.quick ? 40_000 : 400_000),
    jobs: f.jobs ?? Math.max(2, availableParallelism()),
    applyTimeoutSeconds: f['apply-timeout'] ?? (f.quick ? 180 : 300),
    profileDir: f.profile ?? null,
    eltBin: f['elt-bin'] ? resolve(f['elt-bin']) : null,
    only: new Set(f.only),
    resultsDir: f.out,
    name: f.name ?? null,
    datasets: f.datasets,
  };
}
