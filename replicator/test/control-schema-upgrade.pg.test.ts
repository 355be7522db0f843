/**
 * Upgrading the control schema in place: a destination that elt 0.1 replicated into (its `elt`
 * schema exactly as fixtures/control-schema-0.1.sql, made before the schema had a version, with
 * the state rows of a real run) is upgraded by this replicator, which keeps the rows, resumes
 * from the applied LSN without copying again and streams. A schema newer than this build
 * knows is refused and left as it was; replicators starting together take turns.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgBinDir } from '../../harness/pg-cluster.js';
import { replicationSuite } from '../../harness/fixture.js';
import { query, REPO_ROOT } from '../../harness/replication.js';
import { migrateControlSchema } from '../src/state/migrate.js';
import { CURRENT_VERSION, MIGRATIONS } from '../src/state/migrations/index.js';

const FIXTURE = join(REPO_ROOT, 'replicator', 'test', 'fixtures', 'control-schema-0.1.sql');

/** Everything the migrations after 0.1 added: dropping it turns the schema back into 0.1's. */
const BACK_TO_0_1 =
  'DROP TABLE elt.schema_version; DROP INDEX elt.resync_jobs_by_slot; DROP TABLE elt.prune_jobs; DROP TABLE elt.verify_results; ALTER TABLE elt.resync_job_tables DROP COLUMN keys; ALTER TABLE elt.tables DROP COLUMN selected; ALTER TABLE elt.tables DROP COLUMN column_policy, DROP COLUMN mask_key_fingerprint; ALTER TABLE elt.tables DROP COLUMN source_gone_at;';

/** The DDL of schema elt as pg_dump prints it, without comments and psql meta-commands. */
function dumpControlSchema(url: string): string {
  const dump = execFileSync(
    join(pgBinDir(), 'pg_dump'),
    ['--schema-only', '--schema=elt', '--no-owner', '--no-privileges', url],
    { encoding: 'utf8' },
  );
  return normalize(dump);
}

function normalize(dump: string): string {
  return dump
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('--') && !line.startsWith('\\'))
    .join('\n');
}

/** The state rows a restart must keep, without what every heartbeat rewrites. */
async function stateRows(url: string): Promise<Record<string, unknown>> {
  const [state] = await query(
    url,
    'SELECT slot_name, phase, snapshot_lsn::text, started_at FROM elt.replication_state ORDER BY slot_name',
  );
  const tables = await query(
    url,
    'SELECT slot_name, source_schema, source_table, state, rows_copied, source_oid::text, snapshot_done_at FROM elt.tables ORDER BY 1, 2, 3',
  );
  const columns = await query(url, 'SELECT * FROM elt.table_columns ORDER BY 1, 2, 3, 4');
  const jobs = await query(url, 'SELECT * FROM elt.resync_jobs ORDER BY id');
  // Without the columns later migrations added (keys: a repair's, NULL for a 0.1 job).
  const jobTables = await query(
    url,
    "SELECT to_jsonb(t) - 'keys' AS row FROM elt.resync_job_tables t ORDER BY job_id, slot_name, source_schema",
  );
  return { state, tables, columns, jobs, jobTables };
}

async function versions(url: string): Promise<{ version: number; name: string }[]> {
  return query(url, 'SELECT version, name FROM elt.schema_version ORDER BY version');
}

describe('upgrading the control schema', () => {
  const pair = replicationSuite({
    start: false,
    sourceSql: `CREATE TABLE items (id int PRIMARY KEY, name text);
       INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 500) i;`,
  });

  it('the migrations make exactly the 0.1 schema, plus what came after it', async () => {
    await query(pair.destinationUrl, await readFile(FIXTURE, 'utf8'));
    const released = dumpControlSchema(pair.destinationUrl);
    expect(released).toBe(normalize(await readFile(FIXTURE, 'utf8')));

    const replicator = await pair.start();
    await pair.stop();
    expect(await versions(pair.destinationUrl)).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    expect(replicator.output()).toContain(`control schema elt created or adopted at version ${CURRENT_VERSION}`);

    await query(pair.destinationUrl, BACK_TO_0_1);
    expect(dumpControlSchema(pair.destinationUrl)).toBe(released);
  });

  it('a 0.1 schema holding a real run is upgraded in place: its rows stay, the stream resumes where it was', async () => {
    // The destination is now as elt 0.1 left it after a run (the previous test): a streaming
    // slot, its tables and columns. Add a finished resync job, as 0.1's API and replicator did.
    await query(
      pair.destinationUrl,
      `INSERT INTO elt.resync_jobs (slot_name, state, requested_by, started_at, finished_at)
         VALUES ('elt_slot', 'succeeded', 'someone', now() - interval '1 hour', now() - interval '59 minutes');
       INSERT INTO elt.resync_job_tables (job_id, slot_name, source_schema, source_table, state, rows_copied, rows_estimated)
         VALUES (1, 'elt_slot', 'public', 'items', 'succeeded', 500, 500);`,
    );
    const before = await stateRows(pair.destinationUrl);
    const [untouched] = await query<{ synced: string }>(
      pair.destinationUrl,
      'SELECT _synced_at::text AS synced FROM staging.items WHERE id = 1',
    );
    // Changes made while no replicator runs: they must arrive through the slot, after the upgrade.
    await query(
      pair.sourceUrl,
      "UPDATE items SET name = 'renamed' WHERE id = 2; DELETE FROM items WHERE id = 3; INSERT INTO items VALUES (501, 'new')",
    );

    pair.launch();
    await pair.catchUp();
    await query(pair.sourceUrl, "INSERT INTO items VALUES (502, 'after the upgrade')");
    await pair.catchUp();
    await pair.expectEqual();
    expect(await versions(pair.destinationUrl)).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    // Same rows; the snapshot was not taken again (its LSN, the tables' snapshot times and
    // the rows nobody changed are as they were).
    expect(await stateRows(pair.destinationUrl)).toEqual(before);
    const [row] = await query<{ synced: string }>(
      pair.destinationUrl,
      'SELECT _synced_at::text AS synced FROM staging.items WHERE id = 1',
    );
    expect(row!.synced).toBe(untouched!.synced);
    await pair.stop();
  });

  it('a schema newer than this replicator knows is refused and left as it was', async () => {
    await query(
      pair.destinationUrl,
      `INSERT INTO elt.schema_version (version, name) VALUES (${CURRENT_VERSION + 1}, 'from-a-newer-elt')`,
    );
    const schema = dumpControlSchema(pair.destinationUrl);
    const recorded = await versions(pair.destinationUrl);

    const { code, output } = await pair.run(['replicate']);

    expect(code).toBe(1);
    expect(output).toContain(
      `The control schema elt in the destination is at version ${CURRENT_VERSION + 1}, newer than this elt knows (version ${CURRENT_VERSION})`,
    );
    expect(output).toContain('Run the newer elt against this destination');
    expect(dumpControlSchema(pair.destinationUrl)).toBe(schema);
    expect(await versions(pair.destinationUrl)).toEqual(recorded);
    // The reason is where the API and `elt status` look.
    const [state] = await query<{ status: string; last_error: string }>(
      pair.destinationUrl,
      "SELECT status, last_error FROM elt.replication_state WHERE slot_name = 'elt_slot'",
    );
    expect(state).toMatchObject({ status: 'error', last_error: expect.stringContaining('newer than this elt knows') });
  });

  it('two starters at once on an empty destination take turns: each migration runs once', async () => {
    await pair.destination.psql('CREATE DATABASE race');
    const url = pair.destination.url('race');
    const clients = [new pg.Client(url), new pg.Client(url)];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const results = await Promise.all(clients.map((c) => migrateControlSchema(c)));
      expect(results.map((r) => r.from).sort()).toEqual([0, CURRENT_VERSION]);
      expect(await versions(url)).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
