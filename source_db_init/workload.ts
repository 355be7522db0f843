/**
 * The demo workload: keeps committing the shop's transactions (workload-actions.ts) on
 * the source database at a chosen rate until stopped, so the replicator has a live
 * stream of inserts, updates and deletes to follow.
 *
 * A seeded PRNG picks each transaction and its choices, so the same seed issues the same
 * sequence of actions. Deadlocks and serialization failures are retried with the same
 * choices; any other failure is counted in `errors` and logged, and the workload goes on.
 *
 * CLI: npx tsx source_db_init/workload.ts --url postgres://… --rate 50 [--duration 60] [--seed 1]
 */
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import { pino, type Logger } from 'pino';
import { z } from 'zod';
import {
  DemoError,
  describeUrl,
  explainError,
  isMainModule,
  parseFlags,
  runCli,
  sourceUrlFrom,
  sourceUrlSchema,
} from './cli.js';
import { DEMO_TABLES, type DemoTable } from './generate.js';
import { existingDemoTables } from './init.js';
import { createRng, type Rng } from './prng.js';
import {
  ACTIONS,
  ACTION_NAMES,
  ACTION_WEIGHTS,
  type ActionContext,
  type ActionName,
  type IdBounds,
  type WriteKind,
} from './workload-actions.js';

/** SQLSTATEs worth a retry: serialization_failure, deadlock_detected. */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 5;
const DEFAULT_CONNECTIONS = 3;
/** When the workload falls further behind its schedule than this, it forgets the backlog. */
const MAX_BACKLOG_MS = 1_000;
const BOUNDS_RETRY_MS = 1_000;

export interface WorkloadOptions {
  url: string;
  /** Transactions started per second; 0 or Infinity: as fast as the connections allow. */
  ratePerSecond: number;
  /** Seed of the action sequence; default 1. */
  seed?: number;
  /** Pool size, 2-4; default 3. */
  connections?: number;
  logger?: Logger;
}

export interface TableWrites {
  inserts: number;
  updates: number;
  deletes: number;
}

export interface WorkloadStats {
  startedAt: string;
  elapsedMs: number;
  /** Committed transactions, including idle ones. */
  transactions: number;
  /** Committed transactions that found nothing to act on (e.g. no open order). */
  idle: number;
  /** Transactions that failed for good (after retries). */
  errors: number;
  /** Attempts repeated after a deadlock or serialization failure. */
  retries: number;
  /** Committed transactions that wrote something, per action. */
  actions: Record<ActionName, number>;
  /** Committed rows per table. */
  tables: Record<DemoTable, TableWrites>;
}

export interface Workload {
  /** A snapshot of the counters so far. */
  readonly stats: WorkloadStats;
  /** Stop starting transactions, wait for the running ones, close the pool; the final counters. */
  stop(): Promise<WorkloadStats>;
}

/** Start the workload in the background; it runs until `stop()`. */
export function startWorkload(options: WorkloadOptions): Workload {
  return new WorkloadRunner(options);
}

class WorkloadRunner implements Workload {
  readonly #pool: pg.Pool;
  readonly #rng: Rng;
  readonly #logger: Logger | undefined;
  readonly #connections: number;
  readonly #intervalMs: number;
  readonly #startedAt = new Date();
  readonly #started = performance.now();
  readonly #counters: Omit<WorkloadStats, 'startedAt' | 'elapsedMs'> = emptyCounters();
  readonly #bounds: IdBounds = { customers: 0, products: 0, orders: 0, reviews: 0 };
  readonly #inflight = new Set<Promise<void>>();
  readonly #stopSignal = new AbortController();
  readonly #running: Promise<void>;
  #stopped: Promise<WorkloadStats> | undefined;

  constructor(options: WorkloadOptions) {
    this.#connections = Math.min(4, Math.max(2, options.connections ?? DEFAULT_CONNECTIONS));
    this.#intervalMs =
      options.ratePerSecond > 0 && Number.isFinite(options.ratePerSecond) ? 1000 / options.ratePerSecond : 0;
    this.#rng = createRng(options.seed ?? 1);
    this.#logger = options.logger;
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: this.#connections,
      application_name: 'elt-demo-workload',
    });
    // An idle connection that dies (server restart) must not crash the process.
    this.#pool.on('error', (error) => this.#logger?.warn({ err: error }, 'workload: idle connection lost'));
    this.#running = this.#run();
  }

  get stats(): WorkloadStats {
    return {
      startedAt: this.#startedAt.toISOString(),
      elapsedMs: Math.round(performance.now() - this.#started),
      ...structuredClone(this.#counters),
    };
  }

  stop(): Promise<WorkloadStats> {
    this.#stopped ??= (async () => {
      this.#stopSignal.abort();
      await this.#running;
      await this.#pool.end();
      return this.stats;
    })();
    return this.#stopped;
  }

  get #stopping(): boolean {
    return this.#stopSignal.signal.aborted;
  }

  /** The pacing loop: one transaction per tick, at most one per connection at a time. */
  async #run(): Promise<void> {
    await this.#loadBounds();
    let due = performance.now();
    while (!this.#stopping) {
      if (this.#intervalMs > 0) {
        due += this.#intervalMs;
        const now = performance.now();
        if (due < now - MAX_BACKLOG_MS) due = now;
        if (due > now) await this.#sleep(due - now);
        if (this.#stopping) break;
      }
      while (this.#inflight.size >= this.#connections) await Promise.race(this.#inflight);
      const action = this.#rng.weighted(ACTION_WEIGHTS);
      const seed = this.#rng.uint32();
      const transaction: Promise<void> = this.#runTransaction(action, seed).finally(() =>
        this.#inflight.delete(transaction),
      );
      this.#inflight.add(transaction);
    }
    await Promise.allSettled(this.#inflight);
  }

  /** The largest ids, so actions can pick existing rows; retried until it works or we stop. */
  async #loadBounds(): Promise<void> {
    while (!this.#stopping) {
      try {
        const { rows } = await this.#pool.query<{
          customers: number;
          products: number;
          orders: number;
          reviews: number;
        }>(
          `select (select coalesce(max(customer_id), 0) from customers)::float8 as customers,
                  (select coalesce(max(product_id), 0) from products)::float8 as products,
                  (select coalesce(max(order_id), 0) from orders)::float8 as orders,
                  (select coalesce(max(review_id), 0) from reviews)::float8 as reviews`,
        );
        Object.assign(this.#bounds, rows[0]);
        return;
      } catch (error) {
        this.#counters.errors += 1;
        this.#logger?.error({ err: error }, 'workload: cannot read the demo tables; retrying');
        await this.#sleep(BOUNDS_RETRY_MS);
      }
    }
  }

  /** Run one action in its own transaction, retrying deadlocks with the same choices. */
  async #runTransaction(action: ActionName, seed: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const acted = await this.#attempt(action, seed);
        this.#counters.transactions += 1;
        if (acted) this.#counters.actions[action] += 1;
        else this.#counters.idle += 1;
        return;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code && RETRYABLE_SQLSTATES.has(code) && attempt < MAX_ATTEMPTS && !this.#stopping) {
          this.#counters.retries += 1;
          await delay(10 * attempt);
          continue;
        }
        this.#counters.errors += 1;
        this.#logger?.warn({ err: error, action, attempt }, 'workload: transaction failed');
        return;
      }
    }
  }

  /** One attempt: begin, the action, commit; row counts reach the stats only after commit. */
  async #attempt(action: ActionName, seed: number): Promise<boolean> {
    const client = await this.#pool.connect();
    // The pool listens for errors only on idle clients: a server that ends this connection while it is
    // checked out (a restart, pg_terminate_backend) emits 'error' here, and unheard it would end the process.
    // The query in flight fails with the cause, which is what gets counted.
    let connectionBroken = false;
    const onLost = () => (connectionBroken = true);
    client.on('error', onLost);
    const writes: [DemoTable, WriteKind, number][] = [];
    try {
      await client.query('begin');
      const acted = await ACTIONS[action](this.#context(client, createRng(seed), writes));
      await client.query('commit');
      for (const [table, kind, rows] of writes) this.#counters.tables[table][kind] += rows;
      return acted;
    } catch (error) {
      // A server error leaves the connection usable once rolled back; anything else does not.
      connectionBroken ||= !isServerError(error);
      if (!connectionBroken) await client.query('rollback').catch(() => (connectionBroken = true));
      throw error;
    } finally {
      client.off('error', onLost);
      client.release(connectionBroken);
    }
  }

  #context(client: PoolClient, rng: Rng, writes: [DemoTable, WriteKind, number][]): ActionContext {
    return {
      rng,
      bounds: this.#bounds,
      query: <R extends QueryResultRow>(sql: string, params: unknown[] = []) => client.query<R>(sql, params),
      write: async <R extends QueryResultRow>(
        table: DemoTable,
        kind: WriteKind,
        sql: string,
        params: unknown[] = [],
      ) => {
        const result = await client.query<R>(sql, params);
        writes.push([table, kind, result.rowCount ?? 0]);
        return result;
      },
    };
  }

  /** Wait `ms`, or less if the workload is stopped meanwhile. */
  async #sleep(ms: number): Promise<void> {
    await delay(ms, undefined, { signal: this.#stopSignal.signal }).catch(() => undefined);
  }
}

function emptyCounters(): Omit<WorkloadStats, 'startedAt' | 'elapsedMs'> {
  return {
    transactions: 0,
    idle: 0,
    errors: 0,
    retries: 0,
    actions: Object.fromEntries(ACTION_NAMES.map((name) => [name, 0])) as Record<ActionName, number>,
    tables: Object.fromEntries(DEMO_TABLES.map((table) => [table, { inserts: 0, updates: 0, deletes: 0 }])) as Record<
      DemoTable,
      TableWrites
    >,
  };
}

/** An error the server sent (it has a five-character SQLSTATE), as opposed to a lost connection. */
function isServerError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

// ---------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------

const USAGE = `Usage: npx tsx source_db_init/workload.ts --url postgres://… [--rate 50] [--duration 60] [--seed 1] [--connections 3]

Commits shop transactions (orders, payments, customers, reviews, events; inserts, updates
and deletes) at --rate per second (0 = as fast as possible) until --duration seconds have
passed or it is interrupted. Prints the counters as one JSON line every 5 s and at the end.
--url defaults to ELT_SOURCE_URL, then DATABASE_URL.`;

const REPORT_INTERVAL_MS = 5_000;

const flagsSchema = z.object({
  url: sourceUrlSchema,
  rate: z.coerce
    .number({ error: '--rate must be a number of transactions per second.' })
    .min(0, { error: '--rate must be 0 or more.' }),
  duration: z.coerce
    .number({ error: '--duration must be a number of seconds.' })
    .positive({ error: '--duration must be greater than 0.' })
    .optional(),
  seed: z.coerce.number().int({ error: '--seed must be an integer.' }),
  connections: z.coerce
    .number()
    .int()
    .min(2, { error: '--connections must be 2, 3 or 4.' })
    .max(4, { error: '--connections must be 2, 3 or 4.' }),
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      rate: { type: 'string', default: '10' },
      duration: { type: 'string' },
      seed: { type: 'string', default: '1' },
      connections: { type: 'string', default: String(DEFAULT_CONNECTIONS) },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const flags = parseFlags(flagsSchema, { ...values, url: sourceUrlFrom(values.url) });
  await requireDemoTables(flags.url);

  const logger = pino({ name: 'elt-demo-workload', level: process.env.ELT_LOG_LEVEL ?? 'info' }, pino.destination(2));
  const workload = startWorkload({
    url: flags.url,
    ratePerSecond: flags.rate,
    seed: flags.seed,
    connections: flags.connections,
    logger,
  });
  const print = (stats: WorkloadStats, final: boolean) =>
    process.stdout.write(JSON.stringify({ final, ...stats }) + '\n');
  const reporter = setInterval(() => print(workload.stats, false), REPORT_INTERVAL_MS);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (flags.duration !== undefined) setTimeout(resolve, flags.duration * 1000).unref();
  });
  clearInterval(reporter);
  print(await workload.stop(), true);
}

/** Fail in one sentence before starting if the source is unreachable or not initialised. */
async function requireDemoTables(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const existing = await existingDemoTables(client);
    if (existing.length < DEMO_TABLES.length) {
      throw new DemoError(
        `The database at ${describeUrl(url)} does not hold the demo tables.`,
        'Run source_db_init/init.ts against it first.',
      );
    }
  } catch (error) {
    throw explainError(url, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

if (isMainModule(import.meta.url)) runCli(main);
