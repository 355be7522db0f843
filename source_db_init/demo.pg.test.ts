/**
 * The demo source against a real PostgreSQL cluster: schema, generated data, the
 * replication role and publication, and the workload.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type PgCluster } from '../harness/pg-cluster.js';
import { waitFor } from '../harness/replication.js';
import { DEMO_TABLES, type DemoRowCounts } from './generate.js';
import { initDemoSource, PUBLICATION_NAME, REPLICATOR_ROLE } from './init.js';
import { startWorkload } from './workload.js';

const SCALE = 0.05;
const PASSWORD = `demo 'secret' "quoted" \\ pass`;

let cluster: PgCluster;
const loaded: Record<string, DemoRowCounts | null> = {};

beforeAll(async () => {
  cluster = await startCluster({ name: 'source-demo' });
  for (const database of ['demo_a', 'demo_b', 'demo_workload']) {
    await cluster.psql(`create database ${database}`);
    loaded[database] = (
      await initDemoSource(cluster.url(database), { scale: SCALE, replicatorPassword: PASSWORD })
    ).rows;
  }
});

afterAll(async () => {
  await cluster?.destroy();
});

/** One value from a one-row, one-column query (psql -A -t output). */
async function scalar(sql: string, database = 'demo_a'): Promise<string> {
  return cluster.psql(sql, database);
}

async function checksum(table: string, database: string): Promise<string> {
  return scalar(`select md5(string_agg(t::text, '|' order by t::text)) from ${table} as t`, database);
}

describe('generated demo data', () => {
  it('fills every table', async () => {
    for (const table of DEMO_TABLES) {
      expect(Number(await scalar(`select count(*) from ${table}`)), table).toBeGreaterThan(0);
      expect(loaded.demo_a?.[table], table).toBe(Number(await scalar(`select count(*) from ${table}`)));
    }
  });

  it('spreads payments over many monthly partitions', async () => {
    const partitions = Number(await scalar(`select count(distinct tableoid) from payments`));
    expect(partitions).toBeGreaterThanOrEqual(12);
    expect(Number(await scalar(`select count(*) from payments_default`))).toBe(0);
  });

  it('stores about one review body in ten out of line (TOAST)', async () => {
    const long = Number(await scalar(`select count(*) from reviews where octet_length(body) > 4096`));
    const all = Number(await scalar(`select count(*) from reviews`));
    expect(long / all).toBeGreaterThan(0.04);
    expect(long / all).toBeLessThan(0.2);
    const toastTable = await scalar(`select reltoastrelid::regclass from pg_class where oid = 'reviews'::regclass`);
    expect(Number(await scalar(`select count(distinct chunk_id) from ${toastTable}`))).toBeGreaterThan(0);
  });

  it('includes the awkward values a replicator must carry exactly', async () => {
    const checks: Record<string, string> = {
      nulls: `select count(*) from customers where phone is null`,
      emptyVersusNull: `select count(*) from orders where notes = ''`,
      unicode: `select count(*) from customers where last_name = '山田' or first_name like '%é%'`,
      emoji: `select count(*) from reviews where body like '%🎉%'`,
      tab: `select count(*) from orders where notes like '%' || chr(9) || '%'`,
      newline: `select count(*) from orders where notes like '%' || chr(10) || '%'`,
      backslash: `select count(*) from orders where strpos(notes, '\\') > 0`,
      quotes: `select count(*) from orders where notes like '%"%' and notes like '%''%'`,
      manyDigits: `select count(*) from payments where fx_rate <> round(fx_rate, 10)`,
      microseconds: `select count(*) from orders where extract(microseconds from placed_at)::bigint % 1000 <> 0`,
      emptyArray: `select count(*) from customers where tags = '{}'`,
      arrayWithNull: `select count(*) from inventory where array_position(bin_locations, null) is not null`,
      nestedJsonb: `select count(*) from customers where jsonb_typeof(preferences -> 'newsletter' -> 'topics') = 'array'`,
      zeroBytes: `select count(*) from payments where position('\\x00'::bytea in raw_response) > 0`,
    };
    for (const [name, sql] of Object.entries(checks)) {
      expect(Number(await scalar(sql)), name).toBeGreaterThan(0);
    }
  });

  it('is the same, byte for byte, on every run', async () => {
    expect(loaded.demo_b).toEqual(loaded.demo_a);
    for (const table of DEMO_TABLES) {
      expect(await checksum(table, 'demo_b'), table).toBe(await checksum(table, 'demo_a'));
    }
  });

  it('sets identity sequences past the generated ids', async () => {
    const next = await scalar(
      `insert into customers (external_id, email, first_name, last_name)
                               values (gen_random_uuid(), 'probe@example.com', 'P', 'Robe') returning customer_id`,
      'demo_workload',
    );
    expect(Number(next)).toBe((loaded.demo_workload?.customers ?? 0) + 1);
    await scalar(`delete from customers where customer_id = ${Number(next)}`, 'demo_workload');
  });
});

describe('init', () => {
  it('refuses a database that already holds the demo tables', async () => {
    await expect(initDemoSource(cluster.url('demo_a'), { scale: SCALE, replicatorPassword: PASSWORD })).rejects.toThrow(
      /already holds the demo tables/,
    );
  });

  it('with force keeps the data and runs roles.sql again', async () => {
    const before = await checksum('orders', 'demo_a');
    const outcome = await initDemoSource(cluster.url('demo_a'), {
      scale: SCALE,
      replicatorPassword: PASSWORD,
      force: true,
    });
    expect(outcome.rows).toBeNull();
    expect(await checksum('orders', 'demo_a')).toBe(before);
    expect(await scalar(`select count(*) from pg_publication where pubname = '${PUBLICATION_NAME}'`)).toBe('1');
  });
});

describe(`the ${REPLICATOR_ROLE} role and the ${PUBLICATION_NAME} publication`, () => {
  it('is a replication login with a password, and nothing more', async () => {
    const row = await scalar(
      `select concat_ws(',', rolcanlogin, rolreplication, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, rolpassword is not null)
       from pg_authid where rolname = '${REPLICATOR_ROLE}'`,
    );
    expect(row).toBe('t,t,f,f,f,f,t');
  });

  it('can read every table but not write any', async () => {
    const client = new pg.Client({ connectionString: cluster.url('demo_a', REPLICATOR_ROLE) });
    await client.connect();
    try {
      for (const table of [...DEMO_TABLES, 'payments_2025_06', 'payments_default']) {
        await expect(client.query(`select * from ${table} limit 1`), table).resolves.toBeDefined();
      }
      for (const table of DEMO_TABLES) {
        for (const sql of [
          `insert into ${table} default values`,
          `update ${table} set ${nullableColumn(table)} = null`,
          `delete from ${table}`,
        ]) {
          await expect(client.query(sql), sql).rejects.toMatchObject({
            code: '42501',
            message: expect.stringMatching(/permission denied/),
          });
        }
      }
    } finally {
      await client.end();
    }
  });

  it('publishes every demo table, partitions through their root', async () => {
    const published = (
      await scalar(
        `select string_agg(tablename, ',' order by tablename) from pg_publication_tables where pubname = '${PUBLICATION_NAME}'`,
      )
    ).split(',');
    expect(published).toEqual([...DEMO_TABLES].sort());
    expect(await scalar(`select pubviaroot from pg_publication where pubname = '${PUBLICATION_NAME}'`)).toBe('t');
  });

  it('gives events (no primary key) replica identity full', async () => {
    expect(await scalar(`select relreplident from pg_class where oid = 'events'::regclass`)).toBe('f');
  });
});

describe('workload', () => {
  it('commits inserts, updates and deletes without errors', async () => {
    // A count of transactions, not a time: on a loaded machine fewer commit per second (the rate is bench/'s to measure).
    const workload = startWorkload({ url: cluster.url('demo_workload'), ratePerSecond: 40, seed: 42 });
    await waitFor(
      'the workload to commit 120 transactions',
      async () => workload.stats.transactions >= 120 || workload.stats.errors > 0,
      120_000,
      50,
    );
    const stats = await workload.stop();

    expect(stats.errors).toBe(0);
    expect(stats.transactions).toBeGreaterThanOrEqual(120);
    const total = (kind: 'inserts' | 'updates' | 'deletes') =>
      Object.values(stats.tables).reduce((sum, table) => sum + table[kind], 0);
    expect(total('inserts')).toBeGreaterThan(0);
    expect(total('updates')).toBeGreaterThan(0);
    expect(total('deletes')).toBeGreaterThan(0);
    expect(stats.tables.orders.inserts).toBeGreaterThan(0);
    const newOrders = Number(
      await scalar(
        `select count(*) from orders where order_id > ${loaded.demo_workload?.orders ?? 0}`,
        'demo_workload',
      ),
    );
    expect(newOrders).toBeGreaterThan(0);
    expect(newOrders).toBeLessThanOrEqual(stats.tables.orders.inserts);
  });
});

describe('workload when the server ends its connections', () => {
  it('counts the failed transactions and goes on, where it used to end the process', async () => {
    const workload = startWorkload({ url: cluster.url('demo_workload'), ratePerSecond: 0, seed: 7, connections: 4 });
    await waitFor('the workload to commit', async () => workload.stats.transactions >= 20, 120_000, 20);
    // The error a restart of the source sends (57P01): ends every connection. A connection ended
    // between two transactions fails none, so they are ended again until a transaction has failed.
    for (let round = 0; round < 5; round++) {
      const errors = workload.stats.errors;
      await waitFor(
        'a transaction to fail',
        async () => {
          if (workload.stats.errors > errors) return true;
          await scalar(
            `select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = 'elt-demo-workload'`,
          );
          return false;
        },
        60_000,
        50,
      );
    }
    const committed = workload.stats.transactions;
    await waitFor(
      'the workload to commit again',
      async () => workload.stats.transactions >= committed + 20,
      120_000,
      20,
    );
    const stats = await workload.stop();
    expect(stats.errors).toBeGreaterThanOrEqual(5);
    expect(stats.transactions).toBeGreaterThanOrEqual(committed + 20);
  });
});

const NULLABLE_COLUMN: Record<string, string> = {
  customers: 'phone',
  addresses: 'line2',
  products: 'description',
  inventory: 'bin_locations',
  orders: 'notes',
  order_items: 'gift_message',
  payments: 'metadata',
  reviews: 'title',
  events: 'ip_address',
};

/** A nullable column of `table`, for an UPDATE that only a privilege check can stop. */
function nullableColumn(table: string): string {
  const column = NULLABLE_COLUMN[table];
  if (!column) throw new Error(`no nullable column listed for ${table}`);
  return column;
}
