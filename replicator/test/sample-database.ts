/**
 * What the sample-database tests share (library.pg.test.ts, hr.pg.test.ts): a fixture's writes run in a
 * loop, transaction by transaction, while the replicator snapshots, streams and is killed; then
 * each source table is compared with its replica, every column (generated ones too), or found
 * not replicated with its reason.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, expect } from 'vitest';
import { replicationSuite, type ReplicationFixture } from '../../harness/fixture.js';
import {
  outputTail,
  query,
  StopWaiting,
  waitFor,
  waitForStreaming,
  type ClusterPair,
} from '../../harness/replication.js';

import { waitForResyncs } from './settled.js';

export const FIXTURES = join(import.meta.dirname, 'fixtures');

/** The fixture's day 0; round n of the writes happens on day n. */
const DAY_ZERO = '2026-03-01';

/**
 * The background loop rests this long between rounds: a steady load like an application's, not
 * a flood that starves the replicator of the machine's two cores. Pacing only: no test waits on it.
 */
const PAUSE_BETWEEN_ROUNDS_MS = 1_000;

/**
 * The fixture of a sample database's tests: a source database of that name, loaded from
 * fixtures/<name>.sql before the tests; the replicator is started by the test.
 */
export function sampleDatabaseSuite(name: string): ReplicationFixture {
  const pair = replicationSuite({ sourceDb: name, start: false });
  beforeAll(async () => {
    await query(pair.sourceUrl, await readFile(join(FIXTURES, `${name}.sql`), 'utf8'));
  });
  return pair;
}

/**
 * A writes file cut into its transactions: each "-- tx:" line starts one. `:today` and `:round`
 * are replaced for the given round.
 */
export function transactions(sql: string, round: number): string[] {
  const blocks = sql.split(/^-- tx:.*$/m).slice(1);
  if (blocks.length === 0) throw new Error('the writes file has no "-- tx:" line');
  return blocks.map((block) =>
    block.replaceAll(':today', `(date '${DAY_ZERO}' + ${round})`).replaceAll(':round', String(round)).trim(),
  );
}

/**
 * Rounds of a writes file, one after another on one source connection, until stopped. A
 * transaction that fails stops the loop; `stop()` rethrows its error.
 */
export class WriteLoop {
  #rounds = 0;
  #stopping = false;
  #error: unknown = null;
  #done: Promise<void> = Promise.resolve();

  private constructor(
    private readonly url: string,
    private readonly sql: string,
  ) {}

  static async open(url: string, file: string): Promise<WriteLoop> {
    return new WriteLoop(url, await readFile(join(FIXTURES, file), 'utf8'));
  }

  /** Rounds committed so far. */
  get rounds(): number {
    return this.#rounds;
  }

  /** Run `n` rounds now and wait for them. */
  async run(n: number): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      for (let i = 0; i < n; i++) await this.#round(client);
    } finally {
      await client.end();
    }
  }

  /** Start rounds in the background. */
  start(): void {
    this.#done = (async () => {
      const client = new pg.Client({ connectionString: this.url });
      await client.connect();
      try {
        while (!this.#stopping) {
          await this.#round(client);
          await new Promise((resolve) => setTimeout(resolve, PAUSE_BETWEEN_ROUNDS_MS));
        }
      } catch (error) {
        this.#error = error;
      } finally {
        await client.end();
      }
    })();
  }

  /** Wait until `n` more rounds than now are committed. */
  async waitForMore(n: number): Promise<void> {
    const target = this.#rounds + n;
    await waitFor(`${n} more rounds of writes`, async () => {
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- an error, as String() shows it
      if (this.#error) throw new Error(`the writes failed: ${String(this.#error)}`);
      return this.#rounds >= target;
    });
  }

  /** Finish the round in progress and stop; throws if a transaction failed. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#done;
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- an error, as String() shows it
    if (this.#error) throw new Error(`the writes failed in round ${this.#rounds + 1}: ${String(this.#error)}`);
  }

  async #round(client: pg.Client): Promise<void> {
    const round = this.#rounds + 1;
    for (const tx of transactions(this.sql, round)) {
      try {
        await client.query(`BEGIN; ${tx}; COMMIT;`);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`round ${round}: ${(error as Error).message} in\n${tx}`, { cause: error });
      }
    }
    this.#rounds = round;
  }
}

/** The destination's applied LSN has passed `lsn` (the replicator streams and applies). */
async function appliedPast(destinationUrl: string, slot: string, lsn: string): Promise<boolean> {
  const rows = await query<{ ok: boolean }>(
    destinationUrl,
    'SELECT applied_lsn >= $2::pg_lsn AS ok FROM elt.replication_state WHERE slot_name = $1',
    [slot, lsn],
  );
  return rows[0]?.ok === true;
}

/**
 * Run two rounds of the fixture's writes (`writesFile`), then start the replicator while they
 * run on, and kill -9 it twice while they go on: once as soon as its snapshot has copied a first
 * table (still snapshotting, or just streaming), once after it has applied streamed writes past
 * its restart. Writes are committed while it is down each time, and it restarts with the same
 * environment (the fixture's, plus `env`). Returns the writes, stopped, with the last
 * replicator streaming.
 */
export async function replicateThroughKills(
  pair: ReplicationFixture,
  writesFile: string,
  env: Record<string, string> = {},
  slot = 'elt_slot',
): Promise<WriteLoop> {
  const writes = await WriteLoop.open(pair.sourceUrl, writesFile);
  await writes.run(2); // before the snapshot
  writes.start();
  let replicator = pair.launch(env);
  try {
    await waitFor('a first table to be copied', async () => {
      if (replicator.child.exitCode !== null) throw new StopWaiting(`elt exited: ${replicator.output()}`);
      const rows = await query<{ n: number }>(
        pair.destinationUrl,
        'SELECT count(*)::int AS n FROM elt.tables WHERE slot_name = $1 AND snapshot_done_at IS NOT NULL',
        [slot],
      ).catch(() => []);
      return (rows[0]?.n ?? 0) > 0;
    });
    for (let kill = 1; kill <= 2; kill++) {
      await pair.stop('SIGKILL');
      await writes.waitForMore(1);
      replicator = pair.launch(env);
      if (kill === 2) break;
      await waitForStreaming(pair.destinationUrl, replicator, slot);
      const [{ lsn }] = (await query<{ lsn: string }>(
        pair.sourceUrl,
        'SELECT pg_current_wal_insert_lsn()::text AS lsn',
      )) as [{ lsn: string }];
      await writes.waitForMore(1);
      await waitFor('the restarted replicator to apply new writes', () => appliedPast(pair.destinationUrl, slot, lsn));
    }
    await waitForStreaming(pair.destinationUrl, replicator, slot);
    await writes.waitForMore(2);
  } finally {
    await writes.stop();
  }
  return writes;
}

export interface NotReplicated {
  state: 'excluded' | 'error';
  /** Words the reason must contain. */
  reason: string;
}

/**
 * After replicateThroughKills: the resync jobs that finish a snapshot cut short by the first
 * kill are done and the stream has applied everything; each table of `notReplicated` stopped
 * with its reason. Returns the other tables of the schema as "table: state".
 */
export async function settledTableStates(
  pair: ReplicationFixture,
  schema: string,
  notReplicated: Record<string, NotReplicated>,
  slot = 'elt_slot',
): Promise<string[]> {
  await pair.catchUp({ slot });
  await waitForResyncs(pair.destinationUrl);
  await pair.catchUp({ slot });
  const states = await tableStates(pair.destinationUrl, schema);
  for (const [table, expected] of Object.entries(notReplicated)) {
    const row = states.find((s) => s.table === table);
    expect(row?.state, `${table}: ${JSON.stringify(row)}`).toBe(expected.state);
    expect(row?.reason).toContain(expected.reason);
  }
  return states.filter((s) => !(s.table in notReplicated)).map((s) => `${s.table}: ${s.state}`);
}

/** elt.tables for one source schema. */
async function tableStates(
  destinationUrl: string,
  schema: string,
): Promise<{ table: string; state: string; reason: string | null }[]> {
  return query(
    destinationUrl,
    'SELECT source_table AS table, state, last_error AS reason FROM elt.tables WHERE source_schema = $1 ORDER BY source_table COLLATE "C"',
    [schema],
  );
}

export interface TableComparison {
  table: string;
  source: number;
  replica: number;
  equal: boolean;
}

/**
 * Every table of the source schema (partitioned ones by their root) that is not in `skip`,
 * compared with its replica in staging: all columns, generated ones included; a plain table's
 * own rows only (ONLY: a parent of INHERITS children holds only its own rows in the replica).
 */
export async function compareTables(pair: ClusterPair, schema: string, skip: string[]): Promise<TableComparison[]> {
  const tables = await query<{ name: string; kind: string; columns: string }>(
    pair.sourceUrl,
    `SELECT c.relname AS name, c.relkind AS kind,
       (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
     FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname COLLATE "C"`,
    [schema],
  );
  const results: TableComparison[] = [];
  for (const { name, kind, columns } of tables) {
    if (skip.includes(name)) continue;
    const digest = (url: string, from: string) =>
      query<{ n: number; md5: string | null }>(
        url,
        `SELECT count(*)::int AS n, md5(string_agg(r::text, E'\\n' ORDER BY r::text)) AS md5 FROM (SELECT ${columns} FROM ${kind === 'p' ? '' : 'ONLY'} ${from}) r`,
      ).then((rows) => rows[0]!);
    const quoted = JSON.stringify(name);
    const [source, replica] = await Promise.all([
      digest(pair.sourceUrl, `${JSON.stringify(schema)}.${quoted}`),
      digest(pair.destinationUrl, `staging.${quoted}`),
    ]);
    results.push({
      table: name,
      source: source.n,
      replica: replica.n,
      equal: source.n === replica.n && source.md5 === replica.md5,
    });
  }
  return results;
}

/** compareTables, expecting every table equal (the replicator's output beside a difference); returns the comparisons. */
export async function expectTablesEqual(
  pair: ReplicationFixture,
  schema: string,
  skip: string[],
): Promise<TableComparison[]> {
  const tables = await compareTables(pair, schema, skip);
  expect(
    tables.filter((t) => !t.equal),
    outputTail(pair.replicator),
  ).toEqual([]);
  return tables;
}
