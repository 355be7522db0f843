/**
 * The one set-up of the tests that need PostgreSQL: a source and a destination cluster, the
 * replicator as a real child process, the waits a test needs, the replicator's output shown
 * beside a failed test, and disposal that stops every `elt` it started and destroys the clusters.
 *
 * In one test:
 *
 *     await using pair = await replicationFixture({ sourceSql: 'CREATE TABLE t (id int PRIMARY KEY)' });
 *     await pair.start();
 *     await query(pair.sourceUrl, 'INSERT INTO t VALUES (1)');
 *     await pair.catchUp();
 *     await pair.expectEqual();
 *
 * Shared by the tests of a describe block (created in beforeAll, disposed of in afterAll):
 *
 *     const pair = replicationSuite({ sourceSql: SCHEMA, env: { ELT_DELETE_MODE: 'soft' } });
 */
import { afterAll, beforeAll, beforeEach, onTestFailed } from 'vitest';
import type { PgCluster } from './pg-cluster.js';
import {
  expectReplicaEqual,
  outputTail,
  query,
  runElt,
  startElt,
  startEltCommand,
  startPair,
  waitForCatchUp,
  waitForStreaming,
  type ClusterPair,
  type ReplicatorProcess,
} from './replication.js';

export interface FixtureOptions {
  /** SQL run on the source database before anything starts (the schema and rows of the test). */
  sourceSql?: string;
  /** SQL run on the destination database before anything starts. */
  destinationSql?: string;
  /** Environment added to every `elt` the fixture starts, after ELT_SOURCE_URL and ELT_DESTINATION_URL. */
  env?: Record<string, string>;
  /** postgresql.conf settings of both clusters. */
  settings?: Record<string, string | number>;
  sourceDb?: string;
  destinationDb?: string;
}

/** An installed `elt` to run instead of this checkout's (bin/elt.js). */
export interface EltCommand {
  file: string;
  cwd: string;
}

export interface StartOptions {
  /** Arguments of `elt`; `replicate` unless given. */
  args?: string[];
  /** The slot whose streaming `start()` waits for; `elt_slot` unless given. */
  slot?: string;
  /** How long `start()` waits for it to stream; 120 s unless given. */
  timeoutMs?: number;
  command?: EltCommand;
}

/** How many of the processes a fixture started show their output beside a failed test. */
const PROCESSES_SHOWN = 3;

export class ReplicationFixture implements AsyncDisposable {
  #pair: ClusterPair | null = null;
  #replicator: ReplicatorProcess | null = null;
  #launched: { env: Record<string, string>; options: StartOptions } = { env: {}, options: {} };
  readonly #processes: { label: string; process: ReplicatorProcess }[] = [];
  readonly #cleanups: (() => unknown)[] = [];

  constructor(readonly options: FixtureOptions = {}) {}

  /** Start the clusters and run the options' SQL. */
  async open(): Promise<void> {
    this.#pair = await startPair({
      sourceDb: this.options.sourceDb,
      destinationDb: this.options.destinationDb,
      settings: this.options.settings,
    });
    if (this.options.sourceSql) await query(this.sourceUrl, this.options.sourceSql);
    if (this.options.destinationSql) await query(this.destinationUrl, this.options.destinationSql);
  }

  get pair(): ClusterPair {
    if (!this.#pair) throw new Error('the replication fixture is not open yet (use it inside a test or a hook)');
    return this.#pair;
  }
  get source(): PgCluster {
    return this.pair.source;
  }
  get destination(): PgCluster {
    return this.pair.destination;
  }
  get sourceUrl(): string {
    return this.pair.sourceUrl;
  }
  get destinationUrl(): string {
    return this.pair.destinationUrl;
  }

  /** The environment every `elt` of this fixture runs with, plus `extra`. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return { ELT_SOURCE_URL: this.sourceUrl, ELT_DESTINATION_URL: this.destinationUrl, ...this.options.env, ...extra };
  }

  /** The replicator that start() or launch() started last. */
  get replicator(): ReplicatorProcess {
    if (!this.#replicator) throw new Error('no replicator has been started (call start() or launch())');
    return this.#replicator;
  }

  /** Start `elt replicate` (or `options.args`) without waiting for anything; it becomes `replicator`. */
  launch(env: Record<string, string> = {}, options: StartOptions = {}): ReplicatorProcess {
    this.#launched = { env, options };
    this.#replicator = this.spawn(options.args ?? ['replicate'], env, options.command);
    return this.#replicator;
  }

  /** Start `elt replicate` (or `options.args`) and wait until it streams; it becomes `replicator`. */
  async start(env: Record<string, string> = {}, options: StartOptions = {}): Promise<ReplicatorProcess> {
    const replicator = this.launch(env, options);
    await waitForStreaming(this.destinationUrl, replicator, options.slot, options.timeoutMs);
    return replicator;
  }

  /** Stop the current replicator (SIGTERM unless told) and wait for its exit; resolves with its exit code or signal. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
    return this.replicator.kill(signal);
  }

  /** Stop the current replicator, then start it again as it was started (plus `env`), and wait until it streams. */
  async restart(env: Record<string, string> = {}): Promise<ReplicatorProcess> {
    await this.stop();
    return this.start({ ...this.#launched.env, ...env }, this.#launched.options);
  }

  /** Start any `elt` command with this fixture's environment; its output is shown if the test fails, and disposal stops it. */
  spawn(args: string[], env: Record<string, string> = {}, command?: EltCommand): ReplicatorProcess {
    const process = command
      ? startEltCommand(command.file, args, this.env(env), command.cwd)
      : startElt(args, this.env(env));
    this.#processes.push({ label: `elt ${args.join(' ')}`, process });
    return process;
  }

  /** Run an `elt` command to completion with this fixture's environment; its output is the caller's to show. */
  async run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; output: string }> {
    return runElt(args, this.env(env));
  }

  /** Wait until the replica has applied everything the source has written (waitForCatchUp); returns the target LSN. */
  async catchUp(options: Parameters<typeof waitForCatchUp>[2] = {}): Promise<string> {
    return waitForCatchUp(this.pair, this.replicator, options);
  }

  /** The replica equals the source, table by table (expectReplicaEqual). */
  async expectEqual(options: Parameters<typeof expectReplicaEqual>[2] = {}): Promise<void> {
    await expectReplicaEqual(this.pair, this.replicator, options);
  }

  /** The destination's elt.tables row of a source table: its state and the reason it stopped, if it did. */
  async tableState(table: string): Promise<{ state: string; last_error: string | null } | undefined> {
    const rows = await query<{ state: string; last_error: string | null }>(
      this.destinationUrl,
      'SELECT state, last_error FROM elt.tables WHERE source_table = $1',
      [table],
    );
    return rows[0];
  }

  /** Run `cleanup` on disposal, before the replicators stop (a proxy to close, a mount to undo). */
  defer(cleanup: () => unknown): void {
    this.#cleanups.push(cleanup);
  }

  /** The last lines of the current replicator's output and of the other processes started last, for a failed test. */
  output(): string {
    const shown = this.#processes.slice(-PROCESSES_SHOWN);
    const current = this.#processes.find(({ process }) => process === this.#replicator);
    if (current && !shown.includes(current)) shown.unshift(current);
    return shown.map(({ label, process }) => `${label}:\n${outputTail(process)}`).join('\n');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const errors: unknown[] = [];
    for (const cleanup of this.#cleanups.splice(0).reverse()) {
      await Promise.resolve()
        .then(cleanup)
        .catch((error: unknown) => errors.push(error));
    }
    await Promise.all(this.#processes.map(({ process }) => process[Symbol.asyncDispose]()));
    await this.#pair?.[Symbol.asyncDispose]();
    this.#pair = null;
    if (errors.length > 0) throw new AggregateError(errors, 'the replication fixture could not clean up');
  }
}

/** Print the fixture's `elt` output when the test fails. */
function showOutputOnFailure(fixture: ReplicationFixture, register: typeof onTestFailed): void {
  register(() => {
    const output = fixture.output();
    if (output) console.error(`the test failed; the replicator's output:\n${output}`);
  });
}

/**
 * A fixture for one test, to hold with `await using`: the clusters are started and the
 * options' SQL has run; start() starts the replicator. Call it inside a test (or beforeEach).
 */
export async function replicationFixture(options: FixtureOptions = {}): Promise<ReplicationFixture> {
  const fixture = new ReplicationFixture(options);
  showOutputOnFailure(fixture, onTestFailed);
  try {
    await fixture.open();
  } catch (error) {
    await fixture[Symbol.asyncDispose]();
    throw error;
  }
  return fixture;
}

/**
 * A fixture shared by the tests of the enclosing describe block: opened in beforeAll, where
 * the replicator is started too unless `start` is false, and disposed of in afterAll. A
 * failed test shows the replicator's output.
 */
export function replicationSuite(options: FixtureOptions & { start?: boolean } = {}): ReplicationFixture {
  const fixture = new ReplicationFixture(options);
  beforeAll(async () => {
    await fixture.open();
    if (options.start !== false) await fixture.start();
  });
  beforeEach((context) => showOutputOnFailure(fixture, context.onTestFailed));
  afterAll(() => fixture[Symbol.asyncDispose]());
  return fixture;
}
