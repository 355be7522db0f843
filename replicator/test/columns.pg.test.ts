/**
 * Column exclusion and masking (ELT_EXCLUDE_COLUMNS, ELT_MASK_COLUMNS, ELT_MASK_KEY) against real
 * servers: excluded columns are never in the replica, the snapshot or the stream; masked values
 * are the same in the snapshot and the stream and across tables (a join on a hash works); a key
 * the policy would break stops its table alone; columns added, dropped and renamed while
 * streaming are followed by attnum; and no clear value of a masked or excluded column is found
 * in any file of the destination cluster nor in any log. A policy changed between two runs, or
 * by a rename while streaming, ends with the replica all in the new policy (resynced).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { metricValue } from '../../harness/metrics.js';
import { freePort } from '../../harness/pg-cluster.js';
import { fingerprint, query, waitFor } from '../../harness/replication.js';
import { clear, hmac, MASK_KEY as KEY } from './clear-values.js';

async function replicaColumns(url: string, table: string): Promise<Record<string, string>> {
  const rows = await query<{ name: string; type: string; notnull: boolean }>(
    url,
    `SELECT attname AS name, format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END AS type
     FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
       AND attname NOT IN ('_synced_at', '_lsn', '_deleted') ORDER BY attnum`,
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.type]));
}

/** Every file under `dir`, read whole. */
async function* files(dir: string): AsyncGenerator<{ path: string; bytes: Buffer }> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield { path, bytes: await readFile(path).catch(() => Buffer.alloc(0)) };
  }
}

/** Which of the values occur in any file under `dir`, and where. */
async function foundIn(dir: string, values: string[]): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for await (const { path, bytes } of files(dir)) {
    for (const value of values) {
      if (bytes.includes(Buffer.from(value))) found.set(value, [...(found.get(value) ?? []), path]);
    }
  }
  return found;
}

describe('excluded and masked columns', () => {
  const people = Array.from({ length: 5 }, (_, i) => ({
    id: i + 1,
    name: clear(),
    ssn: clear(),
    email: clear(),
    phone: clear(),
    note: clear(),
  }));
  const values = (p: (typeof people)[number]) =>
    `(${p.id}, '${p.name}', '${p.ssn}', '${p.email}', '${p.phone}', '${p.note}')`;
  const pair = replicationSuite({
    start: false,
    sourceSql: `
      CREATE TABLE people (id int PRIMARY KEY, name varchar(40) NOT NULL, ssn text, email varchar(60) NOT NULL,
        phone text, note text, secret_a text);
      CREATE INDEX people_email ON people (email);
      CREATE TABLE accounts (id int PRIMARY KEY, owner_email text, balance int);
      CREATE TABLE keyed (code text PRIMARY KEY, v text);
      CREATE TABLE plain (id int PRIMARY KEY, v text);
      INSERT INTO people (id, name, ssn, email, phone, note) VALUES ${people.slice(0, 3).map(values).join(', ')};
      INSERT INTO keyed VALUES ('k1', 'v1');
      INSERT INTO plain VALUES (1, 'one');`,
    env: {
      ELT_EXCLUDE_COLUMNS: 'public.people.ssn,public.*.secret_*,public.keyed.code',
      ELT_MASK_COLUMNS:
        'public.people.email:hash,public.accounts.owner_email:hash,public.people.phone:redact:3,public.people.name:null',
      ELT_MASK_KEY: KEY,
    },
  });
  const secrets: string[] = [];

  it('copies the snapshot without the excluded columns and with masked values; a key left out stops its table alone', async () => {
    const metricsPort = await freePort();
    await pair.start({ ELT_METRICS_PORT: String(metricsPort) });
    expect(await replicaColumns(pair.destinationUrl, 'staging.people')).toEqual({
      id: 'integer not null',
      name: 'character varying(40)',
      email: 'text',
      phone: 'text',
      note: 'text',
    });
    const rows = await query(
      pair.destinationUrl,
      'SELECT id, name, email, phone, note FROM staging.people ORDER BY id',
    );
    expect(rows).toEqual(
      people.slice(0, 3).map((p) => ({
        id: p.id,
        name: null,
        email: hmac(p.email),
        phone: `${p.phone.slice(0, 3)}***`,
        note: p.note,
      })),
    );
    const keyed = await pair.tableState('keyed');
    expect(keyed?.state).toBe('error');
    expect(keyed?.last_error).toMatch(
      /Column code of public\.keyed identifies its rows.*ELT_EXCLUDE_COLUMNS pattern 'public\.keyed\.code' leaves it out/,
    );
    expect(await pair.tableState('plain')).toMatchObject({ state: 'streaming' });
    const [recorded] = await query<{ policy: unknown }>(
      pair.destinationUrl,
      "SELECT column_policy AS policy FROM elt.tables WHERE source_table = 'people'",
    );
    expect(recorded!.policy).toEqual([
      { attnum: 2, column: 'name', policy: 'null' },
      { attnum: 3, column: 'ssn', policy: 'exclude' },
      { attnum: 4, column: 'email', policy: 'hash' },
      { attnum: 5, column: 'phone', policy: 'redact:3' },
      { attnum: 7, column: 'secret_a', policy: 'exclude' },
    ]);
    // Shown by elt status and the metrics.
    expect((await pair.run(['status'])).output).toMatch(
      /public\.people .*\n {2}excluded columns: ssn, secret_a; masked columns: name \(null\), email \(hash\), phone \(redact:3\)\n/,
    );
    await waitFor(
      'the column policy metrics',
      async () =>
        (await metricValue(
          metricsPort,
          'elt_table_column_policy{table="public.people",column="email",policy="hash"}',
        )) === 1 &&
        (await metricValue(
          metricsPort,
          'elt_table_column_policy{table="public.people",column="ssn",policy="exclude"}',
        )) === 1,
    );
  });

  it('streams without the excluded columns and masks alike: a hash from the snapshot joins one from the stream', async () => {
    const secret = clear();
    secrets.push(secret);
    await query(
      pair.sourceUrl,
      `INSERT INTO people (id, name, ssn, email, phone, note) VALUES ${people.slice(3).map(values).join(', ')};
       UPDATE people SET secret_a = '${secret}', phone = '${people[0]!.phone}x' WHERE id = 1;
       DELETE FROM people WHERE id = 2;
       INSERT INTO accounts VALUES (1, '${people[0]!.email}', 10), (4, '${people[3]!.email}', 40);
       INSERT INTO keyed VALUES ('k2', 'v2'); INSERT INTO plain VALUES (2, 'two');`,
    );
    await pair.catchUp();
    const joined = await query<{ id: number; balance: number }>(
      pair.destinationUrl,
      'SELECT p.id, a.balance FROM staging.people p JOIN staging.accounts a ON a.owner_email = p.email ORDER BY p.id',
    );
    expect(joined).toEqual([
      { id: 1, balance: 10 },
      { id: 4, balance: 40 },
    ]);
    const rows = await query(pair.destinationUrl, 'SELECT id, name, email, phone FROM staging.people ORDER BY id');
    expect(rows).toEqual(
      [people[0]!, ...people.slice(2)].map((p) => ({
        id: p.id,
        name: null,
        email: hmac(p.email),
        phone: `${p.phone.slice(0, 3)}***`,
      })),
    );
    expect(await query(pair.destinationUrl, 'SELECT count(*)::int AS n FROM staging.plain')).toEqual([{ n: 2 }]);
    expect(await pair.tableState('keyed')).toMatchObject({ state: 'error' });
  });

  it('creates a table that appears while streaming under the policy; one whose new key it leaves out stops alone', async () => {
    const secret = clear();
    secrets.push(secret);
    await query(
      pair.sourceUrl,
      `CREATE TABLE contacts (id int PRIMARY KEY, secret_note text, v text);
       INSERT INTO contacts VALUES (1, '${secret}', 'one');
       CREATE TABLE secret_keys (secret_id text PRIMARY KEY, v text);
       INSERT INTO secret_keys VALUES ('${secret}', 'x');`,
    );
    await query(pair.sourceUrl, `INSERT INTO contacts VALUES (2, '${secret}', 'two')`);
    await pair.catchUp();
    expect(await replicaColumns(pair.destinationUrl, 'staging.contacts')).toEqual({
      id: 'integer not null',
      v: 'text',
    });
    expect(await query(pair.destinationUrl, 'SELECT id, v FROM staging.contacts ORDER BY id')).toEqual([
      { id: 1, v: 'one' },
      { id: 2, v: 'two' },
    ]);
    const keys = await pair.tableState('secret_keys');
    expect(keys?.state).toBe('error');
    expect(keys?.last_error).toMatch(/Column secret_id of public\.secret_keys identifies its rows/);
  });

  it('follows columns added, dropped and renamed while streaming, excluded or kept, by attnum', async () => {
    const secret = clear();
    secrets.push(secret);
    // One migration step at a time, each followed before the next: the catalog proves each by attnum.
    const steps = [
      `ALTER TABLE people ADD COLUMN secret_b text; UPDATE people SET secret_b = '${secret}'`,
      `ALTER TABLE people RENAME COLUMN secret_a TO secret_c; UPDATE people SET secret_c = '${secret}' WHERE id = 1`,
      'ALTER TABLE people ADD COLUMN kept int DEFAULT 7; UPDATE people SET kept = id WHERE id <= 3',
      "ALTER TABLE people RENAME COLUMN note TO remark; UPDATE people SET remark = remark || '!' WHERE id <= 3",
      `ALTER TABLE people DROP COLUMN secret_b; INSERT INTO people (id, name, email, remark, secret_c) VALUES (6, 'n', 'e', 'r6', '${secret}')`,
      'ALTER TABLE people DROP COLUMN phone; UPDATE people SET kept = 0 WHERE id = 6',
    ];
    for (const step of steps) {
      await query(pair.sourceUrl, step);
      await pair.catchUp();
    }
    await query(pair.sourceUrl, `INSERT INTO people (id, name, email, remark) VALUES (7, 'n', 'e', 'r7')`);
    await pair.catchUp();
    expect(await replicaColumns(pair.destinationUrl, 'staging.people')).toEqual({
      id: 'integer not null',
      name: 'character varying(40)',
      email: 'text',
      remark: 'text',
      kept: 'integer',
    });
    const kept = ['id', 'remark', 'kept'];
    expect(await fingerprint(pair.destinationUrl, 'staging', 'people', kept)).toEqual(
      await fingerprint(pair.sourceUrl, 'public', 'people', kept),
    );
    // Nothing of these was a policy change: no resync was asked for (but the new table's copy).
    expect(await query(pair.destinationUrl, 'SELECT requested_by FROM elt.resync_jobs')).toEqual([
      { requested_by: 'elt: new table' },
    ]);
  });

  it('leaves no clear value of a masked or excluded column in any file of the destination cluster, nor in any log', async () => {
    await query(pair.destinationUrl, 'CHECKPOINT');
    const hidden = [...people.flatMap((p) => [p.name, p.ssn, p.email, p.phone]), ...secrets];
    // Kept values are found: the search can fail.
    const shown = people.map((p) => p.note);
    const found = await foundIn(pair.destination.dataDir, [...hidden, ...shown]);
    for (const value of shown) expect(found.get(value), `${value} (kept) in the destination files`).toBeDefined();
    expect(hidden.filter((v) => found.has(v)).map((v) => `${v}: ${found.get(v)!.join(', ')}`)).toEqual([]);
    const logs = pair.replicator.output() + (await pair.run(['status'])).output;
    expect(logs).toContain('people');
    expect(hidden.filter((v) => logs.includes(v))).toEqual([]);
  });
});

describe('a changed column policy', () => {
  const a = clear();
  const b = clear();
  const c = clear();
  const pair = replicationSuite({
    start: false,
    sourceSql: `
      CREATE TABLE t (id int PRIMARY KEY, a text, b text, c text);
      INSERT INTO t SELECT i, '${a}' || i, '${b}' || i, '${c}' || i FROM generate_series(1, 50) i;
      CREATE TABLE other (id int PRIMARY KEY);`,
  });
  const resynced = async (n: number) =>
    waitFor(`${n} resync(s) to succeed`, async () => {
      const [row] = await query<{ n: number }>(
        pair.destinationUrl,
        "SELECT count(*)::int AS n FROM elt.resync_jobs WHERE state = 'succeeded'",
      );
      return row!.n >= n;
    });

  it('between two runs: the replica follows the new settings and is copied again under them', async () => {
    await pair.start({ ELT_MASK_COLUMNS: 'public.t.a:hash', ELT_MASK_KEY: KEY, ELT_EXCLUDE_COLUMNS: 'public.t.b' });
    expect(await replicaColumns(pair.destinationUrl, 'staging.t')).toEqual({
      id: 'integer not null',
      a: 'text',
      c: 'text',
    });
    await pair.stop();
    await pair.start({ ELT_MASK_COLUMNS: 'public.t.b:redact:2', ELT_MASK_KEY: '', ELT_EXCLUDE_COLUMNS: '' });
    await resynced(1);
    await pair.catchUp();
    const rows = await query<{ id: number; a: string; b: string }>(
      pair.destinationUrl,
      'SELECT id, a, b FROM staging.t ORDER BY id',
    );
    expect(rows).toHaveLength(50);
    expect(rows.every((r) => r.a === `${a}${r.id}` && r.b === `${b.slice(0, 2)}***`)).toBe(true);
    const [job] = await query<{ by: string }>(pair.destinationUrl, 'SELECT requested_by AS by FROM elt.resync_jobs');
    expect(job!.by).toBe('elt: column policy changed (a hash → kept, b exclude → redact:2)');
    // The verifier compares what is not masked: the replica is equal.
    const verified = await pair.run(['verify', '--json', '--tables', 'public.t']);
    expect(verified.output).toMatch(/"outcome": "equal"/);
    // A table whose policy did not change is left alone.
    expect(await query(pair.destinationUrl, 'SELECT count(*)::int AS n FROM elt.resync_job_tables')).toEqual([
      { n: 1 },
    ]);
  });

  it('while streaming: a rename that makes a column match a mask pattern resyncs the table under it', async () => {
    await pair.stop();
    await pair.start({ ELT_MASK_COLUMNS: 'public.t.b:redact:2,public.t.secret_*:hash', ELT_MASK_KEY: KEY });
    await query(pair.sourceUrl, `ALTER TABLE t RENAME COLUMN c TO secret_c; UPDATE t SET a = a WHERE id = 1`);
    await resynced(2);
    await pair.catchUp();
    expect(await replicaColumns(pair.destinationUrl, 'staging.t')).toMatchObject({ secret_c: 'text' });
    const rows = await query<{ id: number; secret_c: string }>(
      pair.destinationUrl,
      'SELECT id, secret_c FROM staging.t ORDER BY id',
    );
    expect(rows).toHaveLength(50);
    expect(rows.filter((r) => r.secret_c !== hmac(`${c}${r.id}`))).toEqual([]);
  });
});
