/**
 * Child processes of the benchmark: every one is tracked so that the run can end them
 * all on exit, on failure and on Ctrl-C. Also reads a process's resident memory.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';

const children = new Set<ChildProcess>();

/** Remember a child so that killAll() ends it. */
export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM every tracked child still running, then SIGKILL what is left after `graceMs`. */
export async function killAll(graceMs = 5_000): Promise<void> {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  for (const child of running) child.kill('SIGTERM');
  const deadline = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
  await Promise.race([
    Promise.all(
      running.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : Promise.resolve())),
    ),
    deadline,
  ]);
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export interface RunResult {
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Run a command to completion (with `input` on its stdin); a non-zero exit rejects with its stderr. */
export async function runCommand(
  command: string,
  args: string[],
  options: SpawnOptions & { input?: string } = {},
): Promise<RunResult> {
  const started = performance.now();
  const { input, ...spawnOptions } = options;
  const child = track(
    spawn(command, args, { ...spawnOptions, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] }),
  );
  if (input !== undefined) child.stdin!.end(input);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  const stdout = Buffer.concat(out).toString();
  const stderr = Buffer.concat(err).toString();
  if (code !== 0)
    throw new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}: ${stderr.trim().slice(-2000)}`);
  return { stdout, stderr, seconds: (performance.now() - started) / 1000 };
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM), or null when the process is gone. */
export async function procMemory(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Reset a process's peak resident memory (VmHWM) to its current RSS; false where Linux refuses. */
export async function resetPeakMemory(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
