/**
 * The destination's side of applying one chunk, each way the applier can send it, interleaved
 * on one fresh cluster so that load from elsewhere falls on every way alike:
 *   npx tsx bench/apply-sql.ts [--rows 200000] [--chunk 5000] [--rounds 9]
 * A chunk of updates of existing keys (the big-transaction case) is staged, then applied and
 * rolled back; the figure is the median time from the first statement after the stage's COPY
 * to the last result, per way.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startCluster } from '../replicator/src/local-stack/pg-cluster.js';
import { createStageTableSql, keyedMergeSql } from '../replicator/src/apply/merge-sql.js';
import type { TargetTable } from '../replicator/src/schema/mapping.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    chunk: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '9' },
  },
});
const rows = Number(values.rows);
const chunk = Number(values.chunk);
const rounds = Number(values.rounds);

const table: TargetTable = {
  relationId: 1,
  sourceSchema: 'public',
  sourceTable: 'accounts',
  targetSchema: 'staging',
  targetTable: 'accounts',
  columns: [
    { name: 'aid', type: 'integer' },
    { name: 'bid', type: 'integer' },
    { name: 'abalance', type: 'integer' },
    { name: 'filler', type: 'character(84)' },
  ],
  keyIndexes: [0],
  replicaIdentity: 'd',
  signature: 'bench',
  stageTable: 'elt_stage_bench',
};
const analyze = `ANALYZE pg_temp.${table.stageTable}`;

/** Each way: the queries sent one after another (a query may hold several statements). */
const ways: Record<string, string[]> = {
  'ANALYZE, DELETE, UPDATE, INSERT, one round trip each (before)': [analyze, ...keyedMergeSql(table, [], 'hard')],
  'ANALYZE; DELETE; MERGE in one query': [[analyze, ...keyedMergeSql(table, [], 'hard', true)].join('; ')],
  'DELETE; UPDATE; INSERT in one query, no ANALYZE (PostgreSQL < 15)': [keyedMergeSql(table, [], 'hard').join('; ')],
  'DELETE; MERGE in one query, no ANALYZE (after)': [keyedMergeSql(table, [], 'hard', true).join('; ')],
};

await using cluster = await startCluster({ name: 'apply-sql' });
const db = new pg.Client({ connectionString: cluster.url() });
await db.connect();
await db.query(`CREATE SCHEMA staging; CREATE TABLE staging.accounts (aid integer PRIMARY KEY, bid integer, abalance integer,
  filler character(84), _lsn pg_lsn, _synced_at timestamptz, _deleted boolean NOT NULL DEFAULT false)`);
await db.query(`INSERT INTO staging.accounts SELECT g, 1, 0, '', '0/1', now() FROM generate_series(1, ${rows}) g`);
await db.query('VACUUM ANALYZE staging.accounts');
await db.query(createStageTableSql(table));

const times = new Map<string, number[]>(Object.keys(ways).map((name) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, queries] of Object.entries(ways)) {
    await db.query('BEGIN');
    await db.query(`TRUNCATE pg_temp.${table.stageTable}`);
    await db.query(`INSERT INTO pg_temp.${table.stageTable} SELECT 'U', '0/2', NULL, g::text, '1', (g % 1000)::text, ''
      FROM (SELECT 1 + (random() * (${rows} - 1))::int AS g FROM generate_series(1, ${chunk * 2})) r GROUP BY g LIMIT ${chunk}`);
    const started = process.hrtime.bigint();
    for (const sql of queries) await db.query(sql);
    times.get(name)!.push(Number(process.hrtime.bigint() - started) / 1e6);
    await db.query('ROLLBACK');
  }
}
await db.end();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`| way (chunk of ${chunk} updates, table of ${rows} rows, ${rounds} rounds) | median ms | min | max |`);
console.log('| --- | --- | --- | --- |');
for (const [name, xs] of times)
  console.log(`| ${name} | ${median(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)} | ${Math.max(...xs).toFixed(1)} |`);
