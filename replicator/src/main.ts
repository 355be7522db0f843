/**
 * The `elt` command.
 *
 *   elt replicate            snapshot once, then stream changes into the target schema
 *   elt status [--json]      slot, applied LSN, lag and per-table state
 *   elt api                  the REST API (api/)
 *   elt teardown             drop the slot and the publication (and, with --drop-target, the replica)
 *   elt up | down            the local demo stack (see README)
 *
 * Exit codes: 0 done, 1 failed, 2 bad configuration, 3 another replicator holds the slot.
 */
import { parseArgs } from 'node:util';
import { loadConfig, SETTINGS } from './config.js';
import { AlreadyRunningError, ConfigError, EltError } from './errors.js';
import { createLogger } from './log.js';
import { Metrics } from './metrics.js';
import { runReplicator } from './replicator.js';
import { dropPublication } from './source/publication.js';
import { dropSlot } from './source/slot.js';
import { connectDestination, connectSource } from './source/source-db.js';
import { formatStatus, readStatus } from './state/status.js';
import { ident } from './sql.js';

const USAGE = `usage: elt <replicate|status|teardown|api|up|down> [options]

  replicate      copy the source once (pg_dump at the slot's snapshot), then apply every change
  status         show the slot, applied LSN, lag and tables   (--json for machines)
  teardown       drop the replication slot and publication    (--drop-target also drops the replica schema and elt state)
  api            serve the REST API on ELT_API_PORT (default 5001)
  up / down      start / stop the local demo stack            (down --clean removes its data)

Settings come from the environment; a flag of the same name wins:
${Object.values(SETTINGS)
  .map((s) => `  --${s.flag.padEnd(18)} ${s.env}`)
  .join('\n')}`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      'drop-target': { type: 'boolean' },
      clean: { type: 'boolean' },
      local: { type: 'boolean' },
    },
  });
  const command = positionals[0];
  if (!command || values.help) {
    process.stdout.write(USAGE + '\n');
    return command || values.help ? 0 : 2;
  }
  const flags = Object.fromEntries(Object.entries(values).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  switch (command) {
    case 'replicate':
      return replicate(flags);
    case 'status':
      return status(flags, values.json === true, values.local === true);
    case 'teardown':
      return teardown(flags, values['drop-target'] === true);
    case 'api':
      return (await import('../../api/src/server.js')).runApi(process.env);
    case 'up':
    case 'down': {
      const stack = await import('../../harness/stack.js');
      return command === 'up' ? stack.up() : stack.down({ clean: values.clean === true });
    }
    default:
      process.stderr.write(`elt: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
      return 2;
  }
}

async function replicate(flags: Record<string, string>): Promise<number> {
  const config = loadConfig(process.env, flags);
  const lc = createLogger();
  const metrics = new Metrics();
  const server = await metrics.serve(config.metricsPort).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(
      `Cannot serve metrics on port ${config.metricsPort}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}.`,
      'Set ELT_METRICS_PORT to a free port (0 turns metrics off).',
    );
  });
  const controller = new AbortController();
  const stop = (signal: string) => {
    lc.info({ signal }, 'stopping');
    controller.abort();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  lc.info({ slot: config.slot, publication: config.publication, schemas: config.sourceSchemas, target: config.targetSchema, metricsPort: config.metricsPort }, 'elt replicate starting');
  try {
    await runReplicator(lc, config, metrics, controller.signal);
    return 0;
  } finally {
    server?.close();
  }
}

async function status(flags: Record<string, string>, json: boolean, local: boolean): Promise<number> {
  if (local) Object.assign(process.env, (await import('../../harness/stack.js')).localStackEnv());
  const config = loadConfig(process.env, flags);
  const dest = await connectDestination(config.destinationUrl, 'elt-status');
  const source = await connectSource(config.sourceUrl, 'elt-status').catch(() => null);
  try {
    const report = await readStatus(source, dest, config.slot);
    process.stdout.write((json ? JSON.stringify(report, null, 2) : formatStatus(report)) + '\n');
    return 0;
  } finally {
    await dest.end();
    await source?.end();
  }
}

async function teardown(flags: Record<string, string>, dropTarget: boolean): Promise<number> {
  const config = loadConfig(process.env, flags);
  const source = await connectSource(config.sourceUrl, 'elt-teardown');
  try {
    const dropped = await dropSlot(source, config.slot);
    process.stdout.write(dropped ? `dropped slot ${config.slot}\n` : `no slot ${config.slot}\n`);
    await dropPublication(source, config.publication);
    process.stdout.write(`dropped publication ${config.publication}\n`);
  } finally {
    await source.end();
  }
  const dest = await connectDestination(config.destinationUrl, 'elt-teardown');
  try {
    if (await dest.query("SELECT 1 FROM pg_namespace WHERE nspname = 'elt'").then((r) => r.rowCount)) {
      await dest.query('DELETE FROM elt.tables WHERE slot_name = $1', [config.slot]);
      await dest.query('DELETE FROM elt.replication_state WHERE slot_name = $1', [config.slot]);
    }
    if (dropTarget) {
      await dest.query(`DROP SCHEMA IF EXISTS ${ident(config.targetSchema)} CASCADE`);
      process.stdout.write(`dropped schema ${config.targetSchema}\n`);
    }
  } finally {
    await dest.end();
  }
  return 0;
}

function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError) return 2;
  if (error instanceof AlreadyRunningError) return 3;
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof EltError) {
      process.stderr.write(`elt: ${error.message}\n     ${error.hint}\n`);
    } else {
      process.stderr.write(`elt: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    process.exit(exitCodeFor(error));
  },
);
