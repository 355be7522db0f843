/**
 * The `elt` command as a user runs it: a child process against real clusters. Teardown says
 * what it will drop and drops exactly that, only with --yes; flags work written either way;
 * `status` fails with one sentence when it cannot log in or reach a server.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { replicationSuite } from '../../harness/fixture.js';
import { freePort } from '../../harness/pg-cluster.js';
import { ELT_BIN, ELT_NODE_FLAGS, REPO_ROOT, query, runElt, waitFor } from '../../harness/replication.js';
import { migrateControlSchema } from '../src/state/migrate.js';

const PASSWORD = 'right-password-7f3a';

function as(url: string, user: string, password?: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password ?? '';
  return u.toString();
}

const noStack = /\n\s+at /;

describe('elt command line', () => {
  const pair = replicationSuite({
    start: false,
    sourceSql: `CREATE TABLE items (id int PRIMARY KEY);
       CREATE ROLE replicator LOGIN REPLICATION PASSWORD '${PASSWORD}';
       GRANT SELECT ON items TO replicator;`,
  });
  let env: Record<string, string>;

  const slots = async (url = pair.sourceUrl) =>
    (
      await query<{ slot_name: string }>(
        url,
        'SELECT slot_name FROM pg_replication_slots WHERE database = current_database() ORDER BY 1',
      )
    ).map((r) => r.slot_name);
  /** A fresh inactive slot of that name (one a test before left is replaced). */
  async function createSlot(name: string, url = pair.sourceUrl): Promise<void> {
    await query(url, 'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
      name,
    ]);
    await query(url, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [name]);
  }
  const stateSlots = async () =>
    (
      await query<{ slot_name: string }>(
        pair.destinationUrl,
        `SELECT slot_name FROM elt.replication_state UNION SELECT slot_name FROM elt.tables UNION SELECT slot_name FROM elt.resync_jobs
         UNION SELECT slot_name FROM elt.prune_jobs UNION SELECT slot_name FROM elt.partition_leaves ORDER BY 1`,
      )
    ).map((r) => r.slot_name);
  const schemas = async () =>
    (
      await query<{ nspname: string }>(
        pair.destinationUrl,
        "SELECT nspname FROM pg_namespace WHERE nspname IN ('staging', 'scratch') ORDER BY 1",
      )
    ).map((r) => r.nspname);

  /** What a replicator of `slot` into `target` leaves in the destination: its state row, a table and its entry. */
  async function replicaOf(slot: string, target: string): Promise<void> {
    await query(
      pair.destinationUrl,
      `CREATE SCHEMA IF NOT EXISTS ${target};
       CREATE TABLE IF NOT EXISTS ${target}.items (id int PRIMARY KEY);
       INSERT INTO elt.replication_state (slot_name, phase, status) VALUES ('${slot}', 'streaming', 'streaming') ON CONFLICT DO NOTHING;
       INSERT INTO elt.tables (slot_name, source_schema, source_table, target_schema, target_table, state)
         VALUES ('${slot}', 'public', 'items', '${target}', 'items', 'streaming') ON CONFLICT DO NOTHING;`,
    );
  }

  /** The "production" replication each teardown test must leave alone: elt_slot, elt_pub and staging. */
  async function production(): Promise<void> {
    if (!(await slots()).includes('elt_slot')) await createSlot('elt_slot');
    await query(
      pair.sourceUrl,
      `DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'elt_pub') THEN
        CREATE PUBLICATION elt_pub FOR TABLES IN SCHEMA public WITH (publish_via_partition_root = true);
      END IF; END $$`,
    );
    await replicaOf('elt_slot', 'staging');
  }

  /** A scratch replication (scratch_slot into scratch) beside the production one: what teardown is pointed at. */
  async function scratchBesideProduction(): Promise<void> {
    await production();
    await createSlot('scratch_slot');
    await replicaOf('scratch_slot', 'scratch');
  }

  beforeAll(async () => {
    await pair.source.psql('CREATE DATABASE lp');
    await query(
      pair.source.url('lp'),
      'CREATE TABLE items (id int PRIMARY KEY); CREATE PUBLICATION elt_pub FOR TABLE items',
    );
    // Passwords count for every role but the superuser the tests use.
    const hba = join(pair.source.dataDir, 'pg_hba.conf');
    const before = await readFile(hba, 'utf8');
    await writeFile(
      hba,
      [
        'local all all trust',
        'host all postgres 127.0.0.1/32 trust',
        'host replication postgres 127.0.0.1/32 trust',
        'host all all 127.0.0.1/32 scram-sha-256',
        'host replication all 127.0.0.1/32 scram-sha-256',
        '',
      ].join('\n'),
    );
    expect(before).toContain('trust');
    await query(pair.source.url(), 'SELECT pg_reload_conf()');
    await waitFor('passwords to be checked', async () => {
      const client = new pg.Client(as(pair.sourceUrl, 'replicator', 'wrong'));
      return client.connect().then(
        () => client.end().then(() => false),
        (error: { code?: string }) => error.code === '28P01',
      );
    });
    const dest = new pg.Client(pair.destinationUrl);
    await dest.connect();
    try {
      await migrateControlSchema(dest);
    } finally {
      await dest.end();
    }
    env = pair.env();
  });

  it('elt --version prints the version in package.json', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await runElt(['--version'], {});
    expect(result).toEqual({ code: 0, output: `${version}\n` });
  });

  it('an unknown flag exits 2 with one sentence; a command has its own --help', async () => {
    const unknown = await runElt(['status', '--slots', 'x'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toBe(
      "elt status: unknown option '--slots' (did you mean --slot?). Run elt status --help to see what it takes.\n",
    );
    const help = await runElt(['replicate', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/^Usage: elt replicate \[options\]/);
    expect(help.output).toContain('--snapshot-jobs <n>');
  });

  it('teardown without --yes says what it would drop, drops nothing and exits 2', async () => {
    await scratchBesideProduction();
    const result = await runElt(
      ['teardown', '--slot', 'scratch_slot', '--target-schema', 'scratch', '--drop-target'],
      env,
    );
    expect(result.code, result.output).toBe(2);
    const where = `127.0.0.1:${pair.source.port}/shop`;
    expect(result.output).toContain(
      `elt teardown will drop:\n  replication slot scratch_slot on the source at ${where} (it holds`,
    );
    expect(result.output).toContain(
      `schema scratch and its 1 table on the destination at 127.0.0.1:${pair.destination.port}/analytics`,
    );
    expect(result.output).toContain(
      'publication elt_pub on the source: slot elt_slot on that database may stream from it',
    );
    expect(result.output).toMatch(
      /elt: Nothing was dropped: teardown needs a confirmation\.\n\s+Add --yes to drop what is listed above\.\n$/,
    );
    expect(await slots()).toEqual(['elt_slot', 'scratch_slot']);
    expect(await stateSlots()).toEqual(['elt_slot', 'scratch_slot']);
    expect(await schemas()).toEqual(['scratch', 'staging']);
  });

  it.each([[['--slot', 'scratch_slot']], [['--slot=scratch_slot']]])(
    'teardown %j --yes drops scratch_slot and its state, and leaves elt_slot, its publication and its replica',
    async (slotFlag) => {
      await scratchBesideProduction();
      // The slot's job history goes too.
      await query(
        pair.destinationUrl,
        "INSERT INTO elt.resync_jobs (slot_name, state) VALUES ('scratch_slot', 'succeeded')",
      );
      await query(
        pair.destinationUrl,
        "INSERT INTO elt.prune_jobs (slot_name, older_than_seconds) VALUES ('scratch_slot', 60)",
      );
      const result = await runElt(['teardown', ...slotFlag, '--yes'], env);
      expect(result.code, result.output).toBe(0);
      expect(result.output).toContain('dropped replication slot scratch_slot\n');
      expect(result.output).toContain("deleted elt's state for slot scratch_slot\n");
      expect(result.output).not.toMatch(/dropped (publication|schema)/);
      expect(await slots()).toEqual(['elt_slot']);
      expect(await stateSlots()).toEqual(['elt_slot']);
      expect(await query(pair.sourceUrl, "SELECT 1 FROM pg_publication WHERE pubname = 'elt_pub'")).toHaveLength(1);
      expect(await schemas()).toEqual(['scratch', 'staging']);
    },
  );

  it('teardown --drop-target drops only the schema it names, and never one another slot replicates into', async () => {
    await scratchBesideProduction();
    const shared = await runElt(
      ['teardown', '--slot=scratch_slot', '--target-schema', 'staging', '--drop-target', '--yes'],
      env,
    );
    expect(shared.code, shared.output).toBe(0);
    expect(shared.output).toContain('schema staging on the destination: slot elt_slot replicates into it too');
    expect(await schemas()).toEqual(['scratch', 'staging']);

    await createSlot('scratch_slot');
    await replicaOf('scratch_slot', 'scratch');
    const own = await runElt(
      ['teardown', '--slot', 'scratch_slot', '--target-schema=scratch', '--drop-target', '-y'],
      env,
    );
    expect(own.code, own.output).toBe(0);
    expect(own.output).toContain('dropped schema scratch\n');
    expect(await schemas()).toEqual(['staging']);
    expect(await slots()).toEqual(['elt_slot']);
  });

  it('teardown typed "yes" at a terminal drops; anything else drops nothing', async () => {
    await production();
    await createSlot('tty_slot');
    const run = async (answer: string) => {
      // `script` gives elt a terminal; what we write is what a person types.
      const command = [process.execPath, ...ELT_NODE_FLAGS, ELT_BIN, 'teardown', '--slot', 'tty_slot']
        .map((a) => `'${a}'`)
        .join(' ');
      const child = spawn('script', ['-qec', command, '/dev/null'], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env, ELT_LOG_LEVEL: 'info' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let output = '';
      let answered = false;
      child.stdin.on('error', () => undefined); // `script` may be gone by the time the pipe closes
      child.stdout.on('data', (c: Buffer) => {
        output += c.toString();
        if (!answered && output.includes('Type yes to drop them: ')) {
          answered = true;
          child.stdin.end(`${answer}\n`);
        }
      });
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const [code] = (await once(child, 'exit')) as [number];
      return { code, output };
    };
    const declined = await run('no');
    expect(declined.code, declined.output).toBe(2);
    expect(declined.output).toContain('Nothing was dropped');
    expect(await slots()).toContain('tty_slot');
    const accepted = await run('yes');
    expect(accepted.code, accepted.output).toBe(0);
    expect(accepted.output).toContain('dropped replication slot tty_slot');
    expect(await slots()).not.toContain('tty_slot');
  });

  it('teardown as the least-privilege role drops the slot, then names the publication it may not drop', async () => {
    const lpUrl = pair.source.url('lp');
    await createSlot('lp_slot', lpUrl);
    const result = await runElt(['teardown', '--slot', 'lp_slot', '--yes'], {
      ...env,
      ELT_SOURCE_URL: as(lpUrl, 'replicator', PASSWORD),
    });
    expect(result.code, result.output).toBe(1);
    expect(result.output).toContain(
      'publication elt_pub on the source: role replicator may not drop it (it is owned by postgres)',
    );
    expect(result.output).toContain('dropped replication slot lp_slot\n');
    expect(result.output).toMatch(
      /elt: Teardown dropped the rest but left behind publication elt_pub on the source: role replicator may not drop it \(it is owned by postgres\)\.\n\s+To finish: a superuser can run on the source: DROP PUBLICATION "elt_pub";\n$/,
    );
    expect(result.output).not.toMatch(noStack);
    expect(await slots(lpUrl)).toEqual([]);
    expect(await query(lpUrl, "SELECT 1 FROM pg_publication WHERE pubname = 'elt_pub'")).toHaveLength(1);
  });

  it('status exits 1 with one sentence on a wrong password or an unreachable server, 0 when it can read both', async () => {
    await production();
    const wrong = await runElt(['status'], {
      ...env,
      ELT_SOURCE_URL: as(pair.sourceUrl, 'replicator', 'wrong-password'),
    });
    expect(wrong.code, wrong.output).toBe(1);
    expect(wrong.output).toMatch(
      new RegExp(
        `^elt: Cannot log in to the source database at 127.0.0.1:${pair.source.port}/shop: password authentication failed for user "replicator"\\n\\s+Check the user and password in ELT_SOURCE_URL\\.\\n$`,
      ),
    );
    expect(wrong.output).not.toContain('wrong-password');

    const port = await freePort();
    const unreachable = await runElt(
      ['status', '--destination-url', `postgres://postgres@127.0.0.1:${port}/analytics`],
      env,
    );
    expect(unreachable.code, unreachable.output).toBe(1);
    expect(unreachable.output).toMatch(
      new RegExp(
        `^elt: Cannot reach the destination database at 127.0.0.1:${port}/analytics: .*\\n\\s+Check that the server is running`,
      ),
    );
    expect(unreachable.output).not.toMatch(noStack);

    const right = await runElt(['status', '--json'], {
      ...env,
      ELT_SOURCE_URL: as(pair.sourceUrl, 'replicator', PASSWORD),
    });
    expect(right.code, right.output).toBe(0);
    expect(JSON.parse(right.output)).toMatchObject({ slot: 'elt_slot', slot_exists: true, phase: 'streaming' });
  });
});
