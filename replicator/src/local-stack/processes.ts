/**
 * The background processes of the local stack: each started detached (the leader of its own
 * process group, so stopping it stops its children, e.g. Airflow's), its output in
 * <state>/logs/<name>.log, its pid in <state>/pids.json.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { REPO_ROOT, type StackPaths } from './paths.js';

export type Pids = Record<string, number>;

/** Whether the process (or, with a negative pid, any process of its group) is there. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function readPids(paths: StackPaths): Promise<Pids> {
  if (!existsSync(paths.pidsFile)) return {};
  return JSON.parse(await readFile(paths.pidsFile, 'utf8')) as Pids;
}

export async function writePids(paths: StackPaths, pids: Pids): Promise<void> {
  await writeFile(paths.pidsFile, JSON.stringify(pids, null, 2));
}

export async function removePids(paths: StackPaths): Promise<void> {
  await rm(paths.pidsFile, { force: true });
}

export function logFile(paths: StackPaths, name: string): string {
  return join(paths.logDir, `${name}.log`);
}

/** Start `command args` in the background with `env` added to ours; returns its pid. */
export function background(
  paths: StackPaths,
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
): number {
  const log = openSync(logFile(paths, name), 'a');
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
    detached: true,
  });
  child.unref();
  return child.pid!;
}

/** The last lines of a service's log, indented, for an error message. */
export function logTail(paths: StackPaths, name: string, lines = 15): string {
  const file = logFile(paths, name);
  if (!existsSync(file)) return `     (no log at ${file})`;
  const tail = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
  return [`     last lines of ${file}:`, ...tail.map((line) => `       ${line.slice(0, 300)}`)].join('\n');
}

/**
 * SIGTERM the process group (the leader and its children), SIGKILL what is left of it after
 * `graceMs`. Returns whether anything was running.
 */
export async function stopGroup(pid: number, graceMs = 30_000): Promise<boolean> {
  if (!alive(-pid)) return false;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return false; // gone between the check and the signal
  }
  const deadline = Date.now() + graceMs;
  while (alive(-pid) && Date.now() < deadline) await delay(100);
  if (alive(-pid)) process.kill(-pid, 'SIGKILL');
  return true;
}
