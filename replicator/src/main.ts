/**
 * The `elt` command.
 *
 *   elt replicate            snapshot once, then stream changes into the target schema
 *   elt status [--json]      slot, applied LSN, lag and per-table state
 *   elt api                  the REST API (api/)
 *   elt verify [--tables]    compare the replica with the source at consistent points
 *   elt teardown [--yes]     drop the slot and the publication (and, with --drop-target, the replica)
 *   elt up | down            the local demo pipeline (local-stack/, see README)
 *
 * Parsing lives in cli/program.ts; exit codes in cli/exit-codes.ts (`elt --help` lists them).
 */
import { createInterface } from 'node:readline/promises';
import { describeFailure, exitCodeFor, EXIT, NotConfirmedError } from './cli/exit-codes.js';
import { runCli, type Flags } from './cli/program.js';
import { actions, executeTeardown, formatPlan, planTeardown } from './cli/teardown.js';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { createLogger } from './log.js';
import { Metrics } from './metrics.js';
import { LiveLines } from './progress/live-lines.js';
import { ProgressReporter } from './progress/reporter.js';
import { packageVersion } from './package-info.js';
import { runReplicator } from './replicator.js';
import { connectDestination, connectSource } from './source/source-db.js';
import { formatStatus, readStatus } from './state/status.js';
import { formatVerifyReport } from './verify/format.js';
import { runVerify } from './verify/run-verify.js';

async function replicate(flags: Flags): Promise<number> {
  const config = loadConfig(process.env, flags);
  // On a terminal, a live progress line per table copied, the JSON logs above them.
  const terminal = process.stderr.isTTY && process.env.ELT_LOG_PRETTY !== '1' ? new LiveLines(process.stderr) : null;
  const lc = createLogger('elt', terminal);
  const progress = new ProgressReporter(lc, terminal);
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
  lc.info(
    {
      slot: config.slot,
      publication: config.publication,
      schemas: config.sourceSchemas,
      target: config.targetSchema,
      metricsPort: config.metricsPort,
    },
    'elt replicate starting',
  );
  try {
    await runReplicator(lc, config, metrics, controller.signal, progress);
    return 0;
  } finally {
    server?.close();
  }
}

/** Both servers, or one sentence about the first that cannot be reached (the other is closed again). */
async function connectBoth(sourceUrl: string, destinationUrl: string, applicationName: string) {
  const source = await connectSource(sourceUrl, applicationName);
  try {
    const dest = await connectDestination(destinationUrl, applicationName);
    return { source, dest, close: () => Promise.all([source.end(), dest.end()]) };
  } catch (error) {
    await source.end();
    throw error;
  }
}

async function status(flags: Flags, options: { json: boolean; local: boolean }): Promise<number> {
  if (options.local) {
    const { localStackUrls } = await import('./local-stack/settings.js');
    const { stackPaths } = await import('./local-stack/paths.js');
    Object.assign(process.env, localStackUrls(stackPaths().settingsFile));
  }
  const config = loadConfig(process.env, flags);
  const { source, dest, close } = await connectBoth(config.sourceUrl, config.destinationUrl, 'elt-status');
  try {
    const report = await readStatus(source, dest, config.slot);
    process.stdout.write((options.json ? JSON.stringify(report, null, 2) : formatStatus(report)) + '\n');
    return EXIT.ok;
  } finally {
    await close();
  }
}

async function verify(flags: Flags, options: { tables: string[] | undefined; json: boolean }): Promise<number> {
  const config = loadConfig(process.env, flags);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  const report = await runVerify({
    lc: createLogger(),
    sourceUrl: config.sourceUrl,
    destinationUrl: config.destinationUrl,
    slot: config.slot,
    tables: options.tables,
    maxRowsPerS: config.verifyMaxRowsPerS,
    repair: config.verifyRepair,
    signal: controller.signal,
  });
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatVerifyReport(report));
  if (report.tables.some((t) => t.outcome === 'differs')) return EXIT.differs;
  return report.tables.some((t) => t.outcome === 'failed') ? EXIT.failed : EXIT.ok;
}

/** On a terminal, ask; elsewhere, never assume. */
async function confirmed(yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question('Type yes to drop them: ')).trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}

async function teardown(flags: Flags, options: { dropTarget: boolean; yes: boolean }): Promise<number> {
  const config = loadConfig(process.env, flags);
  const { source, dest, close } = await connectBoth(config.sourceUrl, config.destinationUrl, 'elt-teardown');
  try {
    const plan = await planTeardown(source, dest, config, options.dropTarget);
    process.stdout.write(formatPlan(plan));
    if (actions(plan).length === 0) {
      await executeTeardown(source, dest, plan, () => undefined); // nothing to drop, nothing to say
      return EXIT.ok;
    }
    if (!(await confirmed(options.yes))) {
      throw new NotConfirmedError(
        'Nothing was dropped: teardown needs a confirmation.',
        'Add --yes to drop what is listed above.',
      );
    }
    await executeTeardown(source, dest, plan, (line) => process.stdout.write(`${line}\n`));
    return EXIT.ok;
  } finally {
    await close();
  }
}

runCli(
  process.argv.slice(2),
  {
    replicate,
    status,
    teardown,
    verify,
    api: async () => (await import('../../api/src/server.js')).runApi(process.env),
    up: async () => (await import('./local-stack/up.js')).up(),
    down: async (options) => (await import('./local-stack/down.js')).down(options),
  },
  packageVersion(),
  { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) },
).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(describeFailure(error, process.env.ELT_LOG_LEVEL));
    process.exit(exitCodeFor(error));
  },
);
