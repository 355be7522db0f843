/**
 * `elt down` (make down): stop every process `elt up` started (by the pids it recorded, each
 * with its process group) and both PostgreSQL clusters. Data stays in the state directory
 * unless `clean`. Then every port of stack.env should be free again: one that is not is named.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { stackPaths } from './paths.js';
import { stopClusterAt } from './pg-cluster.js';
import { portFree } from './ports.js';
import { readPids, removePids, stopGroup } from './processes.js';
import { readStackEnv } from './settings.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

export async function down(options: { clean: boolean }): Promise<number> {
  const paths = stackPaths();
  // Airflow last in, first out: it talks to the API and the destination.
  for (const [name, pid] of Object.entries(await readPids(paths)).reverse()) {
    if (await stopGroup(pid)) say(`stopped ${name} (pid ${pid})`);
  }
  await removePids(paths);
  for (const name of ['source', 'destination']) {
    const dataDir = join(paths.stateDir, 'pg', name);
    if (existsSync(join(dataDir, 'PG_VERSION')) && (await stopClusterAt(dataDir))) say(`stopped PostgreSQL ${name}`);
  }
  for (const [variable, value] of Object.entries(readStackEnv(paths.settingsFile))) {
    if (variable.endsWith('_PORT') && !variable.startsWith('ELT_DBT_') && !(await portFree(Number(value)))) {
      say(`port ${value} (${variable}) is still in use: not by a process make up recorded`);
    }
  }
  if (options.clean) {
    await rm(paths.stateDir, { recursive: true, force: true });
    say(`removed ${paths.stateDir}`);
  }
  return 0;
}
