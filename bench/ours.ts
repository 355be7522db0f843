/**
 * Our replicator as the benchmark runs it: `node bin/elt.js replicate` as a child process
 * (like the harness's startElt, with its ELT_NODE_FLAGS, plus --cpu-prof when asked), one per source database,
 * with its own slot and destination database. Its output is kept and written to the run's
 * log directory when it stops.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ELT_BIN, ELT_NODE_FLAGS, eltProcess, query, type ReplicatorProcess } from '../harness/replication.js';
import { PUBLICATION, type Dataset } from './datasets.js';
import { track } from './proc.js';
import { waitSlotActive } from './slots.js';
import { poll } from './wait.js';

export interface OursOptions {
  dataset: Dataset;
  destinationUrl: string;
  slot: string;
  snapshotJobs: number;
  /** Write a V8 CPU profile (--cpu-prof) into this directory when the process exits. */
  profileDir: string | null;
  /** The elt.js to run (default: this repository's bin/elt.js). */
  eltBin: string | null;
  logDir: string;
}

export interface Ours {
  readonly options: OursOptions;
  readonly process: ReplicatorProcess;
  readonly pid: number;
  /** Date.now() at spawn. */
  readonly startedAt: number;
  alive(): boolean;
}

let runs = 0;

export function startOurs(options: OursOptions): Ours {
  const env: Record<string, string> = {
    ELT_SOURCE_URL: options.dataset.sourceUrl,
    ELT_DESTINATION_URL: options.destinationUrl,
    ELT_SLOT: options.slot,
    ELT_PUBLICATION: PUBLICATION,
    ELT_SOURCE_SCHEMAS: 'public',
    ELT_TARGET_SCHEMA: 'staging',
    ELT_SNAPSHOT_JOBS: String(options.snapshotJobs),
    ELT_METRICS_PORT: '0',
    ELT_LOG_LEVEL: 'info',
  };
  // The flags it runs with everywhere (heap cap), plus a CPU profile when asked for.
  const nodeFlags = [
    ...ELT_NODE_FLAGS,
    ...(options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : []),
  ];
  const bin = options.eltBin ?? ELT_BIN;
  const startedAt = Date.now();
  const child = track(
    spawn(process.execPath, [...nodeFlags, bin, 'replicate'], {
      cwd: dirname(dirname(bin)),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const proc = eltProcess(child);
  const alive = () => child.exitCode === null && child.signalCode === null;
  return { options, process: proc, pid: child.pid!, startedAt, alive };
}

/** The replicator's last output lines, for error messages. */
export function outputTail(ours: Ours, lines = 15): string {
  return ours.process.output().trim().split('\n').slice(-lines).join('\n');
}

/** Wait for `elt.replication_state.phase = 'streaming'`; resolves with Date.now() when seen. */
export async function waitSnapshotDone(ours: Ours, timeoutMs: number): Promise<number> {
  await poll(
    `the replicator's snapshot of ${ours.options.dataset.name}`,
    async () => {
      if (!ours.alive()) throw new Error(`the replicator exited during the snapshot:\n${outputTail(ours)}`);
      const rows = await query<{ phase: string }>(
        ours.options.destinationUrl,
        'SELECT phase FROM elt.replication_state WHERE slot_name = $1',
        [ours.options.slot],
      ).catch(() => []);
      return rows[0]?.phase === 'streaming';
    },
    timeoutMs,
  );
  return Date.now();
}

/** What the replicator said about its snapshot ("snapshot complete" log line), if it said it. */
export function reportedSnapshotSeconds(ours: Ours): number | null {
  for (const line of ours.process.output().split('\n')) {
    if (!line.includes('snapshot complete')) continue;
    try {
      const event = JSON.parse(line) as { seconds?: number };
      if (typeof event.seconds === 'number') return event.seconds;
    } catch {
      // Not JSON: a pretty-printed log.
    }
  }
  return null;
}

/** SIGTERM, wait for the exit and for the source to release the slot; the output goes to the log dir. */
export async function stopOurs(ours: Ours): Promise<void> {
  const code = await ours.process.kill('SIGTERM');
  const file = join(ours.options.logDir, `elt-${ours.options.dataset.name}-${++runs}.log`);
  await writeFile(file, ours.process.output()).catch(() => undefined);
  if (code !== 0) throw new Error(`the replicator exited with ${code} (log: ${file}):\n${outputTail(ours)}`);
  await waitSlotActive(ours.options.dataset.sourceUrl, ours.options.slot, false);
}
