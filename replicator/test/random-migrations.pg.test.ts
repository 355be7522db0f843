/**
 * Randomized migrations while streaming: seeded random DDL (add, drop, rename, swap,
 * retype and re-add columns; drop and recreate, rename and swap tables; VACUUM FULL)
 * interleaved with writes, a few steps at a time, with kill -9s of the replicator. After
 * every step the replica equals the source, table by table, or the table is in `error`
 * with a reason. ELT_MIGRATION_SEED (a number, or `random`) and ELT_MIGRATION_STEPS replay,
 * explore or lengthen a run.
 */
import pg from 'pg';
import { describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { compareReplica, query } from '../../harness/replication.js';
import { waitForApplied, waitForResyncs } from './settled.js';
import { Migrations, seededRandom } from './random-ddl.js';

/**
 * A fixed seed by default, so the suite runs the same migrations each time (timing still
 * varies); ELT_MIGRATION_SEED=random explores a new one, which the test prints.
 */
const SEED_SETTING = process.env.ELT_MIGRATION_SEED ?? '1638705484';
const SEED = SEED_SETTING === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(SEED_SETTING);
const STEPS = Number(process.env.ELT_MIGRATION_STEPS ?? 60);
const KILL_EVERY_STEPS = 20;

describe('randomized migrations while streaming', () => {
  const pair = replicationSuite({ start: false });

  it(`leaves the replica equal to the source, or the table stopped with a reason, after each of ${STEPS} steps (seed ${SEED})`, async () => {
    console.log(`randomized migrations: seed ${SEED}, ${STEPS} steps (ELT_MIGRATION_SEED=${SEED} replays it)`);
    // One session, so that a step's operations can share a transaction.
    const session = new pg.Client({ connectionString: pair.sourceUrl });
    session.on('error', () => undefined); // unhandled, it would end the worker; the query that meets it rejects
    await session.connect();
    onTestFinished(() => session.end().catch(() => undefined)); // closing: nothing is lost if it fails
    const migrations = new Migrations(
      seededRandom(SEED),
      async (sql) => ((await session.query(sql)) as unknown as pg.QueryResult).rows ?? [],
    );
    await migrations.createTables();
    let replicator = await pair.start();
    const outputs: (() => string)[] = [];
    // What the replicators did to tables, to read a failing seed by.
    onTestFailed(() =>
      console.log(
        [...outputs, replicator.output]
          .map((o) => o())
          .join('')
          .split('\n')
          .filter((l) => /"table"/.test(l) && !/snapshot progress|table copied/.test(l))
          .join('\n'),
      ),
    );
    let kills = 0;
    for (let step = 1; step <= STEPS; step++) {
      const done = await migrations.step();
      if (step % KILL_EVERY_STEPS === KILL_EVERY_STEPS / 2) {
        await pair.stop('SIGKILL');
        outputs.push(replicator.output);
        kills++;
        replicator = pair.launch();
      }
      // A resync of a table renamed or dropped while it copied fails; the comparison says whether one was needed.
      await waitForApplied(pair.sourceUrl, pair.destinationUrl, replicator);
      await waitForResyncs(pair.destinationUrl, { failedOk: true });
      await waitForApplied(pair.sourceUrl, pair.destinationUrl, replicator);
      const stopped = await query<{ table: string; reason: string | null }>(
        pair.destinationUrl,
        "SELECT source_table AS table, last_error AS reason FROM elt.tables WHERE state = 'error'",
      );
      for (const t of stopped)
        expect(t.reason, `step ${step} (${done.join('; ')}): ${t.table} stopped without a reason`).toBeTruthy();
      const differences = await compareReplica(pair.sourceUrl, pair.destinationUrl, {
        except: stopped.map((t) => t.table),
      }).catch((error: Error) => {
        throw new Error(`seed ${SEED}, step ${step}: ${done.join('; ')}: ${error.message}`);
      });
      expect(differences, `seed ${SEED}, step ${step}: ${done.join('; ')}`).toEqual([]);
    }
    const resyncs = await query<{ state: string; n: string }>(
      pair.destinationUrl,
      'SELECT state, count(*) AS n FROM elt.resync_jobs GROUP BY state',
    );
    const stopped = await query<{ table: string; reason: string }>(
      pair.destinationUrl,
      "SELECT source_table AS table, last_error AS reason FROM elt.tables WHERE state = 'error'",
    );
    console.log(
      JSON.stringify({
        seed: SEED,
        steps: STEPS,
        statements: migrations.statements,
        kills,
        resyncs: Object.fromEntries(resyncs.map((r) => [r.state, Number(r.n)])),
        stopped,
      }),
    );
  }, 600_000);
});
