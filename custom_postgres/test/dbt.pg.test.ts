/**
 * The dbt project against a real replica: replicate the demo shop, `dbt build` on the
 * snapshot, then change the source (the demo workload plus targeted price changes,
 * cancellations, hard deletes and new orders), let the replicator apply it, run the
 * incremental build and check that every mart equals what a full refresh computes and
 * shows each change.
 *
 * dbt comes from the virtualenv `make dbt-deps` creates: $ELT_DBT_VENV, else the path the
 * Makefile computes from custom_postgres/requirements.txt.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbtVenv } from '../../harness/venvs.js';
import { replicationSuite } from '../../harness/fixture.js';
import { query, REPO_ROOT, waitFor } from '../../harness/replication.js';
import { initDemoSource } from '../../source_db_init/init.js';
import { startWorkload } from '../../source_db_init/workload.js';

const PROJECT_DIR = join(REPO_ROOT, 'custom_postgres');
/** Demo scale: 0.1 ≈ 10k rows. */
const SCALE = Number(process.env.ELT_DBT_TEST_SCALE ?? 0.1);
/** One dbt command's budget. */
const DBT_TIMEOUT_MS = 600_000;
/**
 * One test's budget: a test runs several dbt commands (the incremental one four builds), which took
 * up to 500 s on a loaded 2-core machine. A budget, not a measure.
 */
const DBT_TEST_TIMEOUT_MS = 1_500_000;
const MARTS = [
  'fct_orders',
  'fct_order_items',
  'fct_payments',
  'dim_customers',
  'dim_products',
  'daily_revenue',
] as const;
const INCREMENTAL_MARTS = ['fct_orders', 'fct_order_items', 'fct_payments'] as const;
/** The full-refresh comparison builds with target `dev` into <prefix>_stg and <prefix>_marts. */
const FULL_REFRESH_PREFIX = 'fullrefresh';
/**
 * Nothing writes to the source while dbt runs here, so the checks that a streaming replica
 * can trip between two models' reads (a hard delete after a build) must pass outright.
 */
const STRICT = 'elt_reconciliation_severity: error';

interface DbtRun {
  code: number;
  output: string;
  /** Rows the last statement of each model wrote (run_results.json), by model name. */
  rowsAffected: Record<string, number>;
}

interface Catalog {
  nodes: Record<string, { columns: Record<string, unknown> }>;
}

interface Manifest {
  nodes: Record<
    string,
    { resource_type: string; description: string; columns: Record<string, { description: string }> }
  >;
}

interface RunResults {
  results: { unique_id: string; adapter_response?: { rows_affected?: number } }[];
}

describe.each([{ deleteMode: 'hard' }, { deleteMode: 'soft' }])(
  'dbt project on a live replica (ELT_DELETE_MODE=$deleteMode)',
  ({ deleteMode }) => {
    const dbt = join(dbtVenv(), 'bin', 'dbt');
    const pair = replicationSuite({ start: false, env: { ELT_DELETE_MODE: deleteMode } });
    let workDir: string;
    let dbtEnv: Record<string, string>;

    async function runDbt(args: string[], extraEnv: Record<string, string> = {}): Promise<DbtRun> {
      const targetPath = join(workDir, extraEnv.ELT_DBT_SCHEMA ? 'target-dev' : 'target');
      const argv = [
        ...args,
        '--project-dir',
        PROJECT_DIR,
        '--profiles-dir',
        PROJECT_DIR,
        '--target-path',
        targetPath,
        '--log-path',
        join(workDir, 'logs'),
      ];
      const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
        execFile(
          dbt,
          argv,
          {
            cwd: PROJECT_DIR,
            env: { ...process.env, ...dbtEnv, ...extraEnv },
            maxBuffer: 64 * 1024 * 1024,
            timeout: DBT_TIMEOUT_MS,
          },
          (error, stdout, stderr) => {
            const exit = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
            resolve({ code: exit, output: `${stdout}${stderr}` });
          },
        );
      });
      const rowsAffected: Record<string, number> = {};
      const resultsPath = join(targetPath, 'run_results.json');
      if (existsSync(resultsPath)) {
        const results = JSON.parse(await readFile(resultsPath, 'utf8')) as RunResults;
        for (const result of results.results) {
          const rows = result.adapter_response?.rows_affected;
          if (result.unique_id.startsWith('model.') && typeof rows === 'number')
            rowsAffected[result.unique_id.split('.').at(-1)!] = rows;
        }
      }
      return { code, output, rowsAffected };
    }

    /** Run dbt and fail with its output unless it succeeded. */
    async function runDbtOk(args: string[], extraEnv: Record<string, string> = {}): Promise<DbtRun> {
      const run = await runDbt(args, extraEnv);
      if (run.code !== 0) throw new Error(`dbt ${args.join(' ')} exited ${run.code}:\n${run.output.slice(-20_000)}`);
      return run;
    }

    const dest = <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
      query<T>(pair.destinationUrl, sql, params);
    const source = <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
      query<T>(pair.sourceUrl, sql, params);

    beforeAll(async () => {
      if (!existsSync(dbt))
        throw new Error(
          `dbt not found at ${dbt}: run \`make dbt-deps\` (or set ELT_DBT_VENV to a virtualenv with custom_postgres/requirements.txt).`,
        );
      workDir = await mkdtemp(join(tmpdir(), 'elt-dbt-test-'));
      await initDemoSource(pair.sourceUrl, { scale: SCALE, replicatorPassword: 'elt-test' });
      await pair.start({}, { timeoutMs: 300_000 });
      const url = new URL(pair.destinationUrl);
      dbtEnv = {
        ELT_DBT_HOST: url.hostname,
        ELT_DBT_PORT: url.port,
        ELT_DBT_USER: decodeURIComponent(url.username),
        ELT_DBT_PASSWORD: decodeURIComponent(url.password),
        ELT_DBT_DBNAME: url.pathname.slice(1),
        ELT_DBT_THREADS: '2',
        DBT_SEND_ANONYMOUS_USAGE_STATS: 'false',
      };
    }, 360_000);

    afterAll(async () => {
      if (workDir) await rm(workDir, { recursive: true, force: true });
    });

    it(
      'builds every model, unit test and data test on the snapshot',
      async () => {
        const run = await runDbtOk(['build', '--vars', `{${STRICT}}`]);
        expect(run.output).toMatch(/Completed successfully/);
        for (const table of ['orders', 'order_items', 'payments']) {
          const [staged] = await dest<{ n: string }>(`SELECT count(*) AS n FROM staging.${table} WHERE NOT _deleted`);
          const [built] = await dest<{ n: string }>(`SELECT count(*) AS n FROM marts.fct_${table}`);
          expect(built!.n).toBe(staged!.n);
        }
        const schemas = await dest<{ nspname: string }>(
          "SELECT nspname FROM pg_namespace WHERE nspname IN ('stg', 'marts', 'staging') ORDER BY 1",
        );
        expect(schemas.map((s) => s.nspname)).toEqual(['marts', 'staging', 'stg']);
      },
      DBT_TEST_TIMEOUT_MS,
    );

    it(
      'checks source freshness and generates the docs, with every model and column described',
      async () => {
        await runDbtOk(['source', 'freshness']);
        await runDbtOk(['docs', 'generate']);
        const catalog = JSON.parse(await readFile(join(workDir, 'target', 'catalog.json'), 'utf8')) as Catalog;
        const manifest = JSON.parse(await readFile(join(workDir, 'target', 'manifest.json'), 'utf8')) as Manifest;
        for (const mart of MARTS) expect(Object.keys(catalog.nodes)).toContain(`model.elt.${mart}`);
        const undocumented: string[] = [];
        for (const [id, node] of Object.entries(manifest.nodes)) {
          if (node.resource_type !== 'model') continue;
          if (!node.description.trim()) undocumented.push(id);
          for (const column of Object.keys(catalog.nodes[id]?.columns ?? {})) {
            if (!node.columns[column]?.description.trim()) undocumented.push(`${id}.${column}`);
          }
        }
        expect(undocumented).toEqual([]);
      },
      DBT_TEST_TIMEOUT_MS,
    );

    it(
      'after inserts, updates and deletes, an incremental run equals a full refresh and shows each change',
      async () => {
        // Some realistic traffic first: orders placed, paid, shipped, cancelled, deleted, price changes...
        const workload = startWorkload({ url: pair.sourceUrl, ratePerSecond: 40, seed: 7 });
        await waitFor(
          'the workload to commit 160 transactions',
          async () => workload.stats.transactions >= 160 || workload.stats.errors > 0,
          120_000,
          50,
        );
        expect((await workload.stop()).errors).toBe(0);

        // ...then targeted changes whose effect we check row by row.
        const [toCancel] = await source<{ order_id: string }>(
          "SELECT order_id::text FROM orders WHERE status = 'paid' ORDER BY order_id LIMIT 1",
        );
        const [toDelete] = await source<{ order_id: string }>(
          "SELECT o.order_id::text FROM orders o WHERE status = 'cancelled' AND EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.order_id) ORDER BY order_id LIMIT 1",
        );
        const [toTrim] = await source<{ order_id: string }>(
          "SELECT order_id::text FROM orders o WHERE status = 'pending' AND (SELECT count(*) FROM order_items i WHERE i.order_id = o.order_id) >= 2 ORDER BY order_id LIMIT 1",
        );
        const [product] = await source<{ product_id: number; price: string }>(
          'SELECT product_id, (price + 1.25)::text AS price FROM products ORDER BY product_id LIMIT 1',
        );
        expect(toCancel && toDelete && toTrim && product).toBeTruthy();

        await source('UPDATE products SET price = price + 1.25, updated_at = now() WHERE product_id = $1', [
          product!.product_id,
        ]);
        // Cancel: the order changes, its lines do not (fct_order_items must follow the order).
        await source(
          `BEGIN;
       UPDATE orders SET status = 'cancelled', cancelled_at = now(), updated_at = now() WHERE order_id = ${Number(toCancel!.order_id)};
       UPDATE payments SET status = CASE status WHEN 'authorized' THEN 'voided' ELSE 'refunded' END
         WHERE order_id = ${Number(toCancel!.order_id)} AND status IN ('authorized', 'captured');
       COMMIT;`,
        );
        // Hard delete of an order with its payments and lines, as the shop does it.
        await source(
          `BEGIN;
       UPDATE reviews SET order_id = NULL, updated_at = now() WHERE order_id = ${Number(toDelete!.order_id)};
       DELETE FROM payments WHERE order_id = ${Number(toDelete!.order_id)};
       DELETE FROM order_items WHERE order_id = ${Number(toDelete!.order_id)};
       DELETE FROM orders WHERE order_id = ${Number(toDelete!.order_id)};
       COMMIT;`,
        );
        // Drop one line of an unpaid order and correct its totals.
        await source(
          `BEGIN;
       DELETE FROM order_items WHERE order_id = ${Number(toTrim!.order_id)} AND line_no = (SELECT max(line_no) FROM order_items WHERE order_id = ${Number(toTrim!.order_id)});
       UPDATE orders o SET subtotal = s.subtotal, total = s.subtotal + o.shipping_fee + o.tax, updated_at = now()
         FROM (SELECT sum(round(quantity * unit_price * (1 - discount_pct / 100.0), 2)) AS subtotal FROM order_items WHERE order_id = ${Number(toTrim!.order_id)}) s
         WHERE o.order_id = ${Number(toTrim!.order_id)};
       COMMIT;`,
        );
        // A new order with two lines and a captured payment.
        const [created] = await source<{ order_id: string; customer_id: string }>(
          `WITH new_order AS (
         INSERT INTO orders (order_number, customer_id, status, currency, subtotal, shipping_fee, tax, total, placed_at, paid_at, updated_at)
         SELECT gen_random_uuid(), (SELECT min(customer_id) FROM customers), 'paid', 'EUR', s.subtotal, 4.90, 0, s.subtotal + 4.90,
                now(), now(), now()
         FROM (SELECT 2 * price + round(3 * price * 0.9, 2) AS subtotal FROM products WHERE product_id = $1) s
         RETURNING order_id, customer_id
       ) SELECT order_id::text, customer_id::text FROM new_order`,
          [product!.product_id],
        );
        await source(
          `INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price, discount_pct)
       SELECT $1, v.line_no, p.product_id, v.quantity, p.price, v.discount
       FROM products p, (VALUES (1, 2, 0), (2, 3, 10)) v (line_no, quantity, discount) WHERE p.product_id = $2`,
          [created!.order_id, product!.product_id],
        );
        await source(
          `INSERT INTO payments (order_id, created_at, amount, currency, method, status) SELECT order_id, now(), total, 'EUR', 'card', 'captured' FROM orders WHERE order_id = $1`,
          [created!.order_id],
        );
        await pair.catchUp();

        // The incremental build: lookback 0 so that it reads only what changed after the first build.
        const incremental = await runDbtOk(['build', '--vars', `{${STRICT}, elt_incremental_lookback: "0 seconds"}`]);
        const [{ orders }] = (await dest<{ orders: string }>('SELECT count(*) AS orders FROM marts.fct_orders')) as [
          { orders: string },
        ];
        for (const model of INCREMENTAL_MARTS) {
          // Only the changed rows were merged, not the whole table.
          expect(incremental.rowsAffected[model], model).toBeGreaterThan(0);
          expect(incremental.rowsAffected[model]!, model).toBeLessThan(Number(orders) / 2);
        }

        // Each change is visible.
        const cancelled = await dest<{ is_cancelled: boolean }>(
          'SELECT is_cancelled FROM marts.fct_orders WHERE order_id = $1',
          [toCancel!.order_id],
        );
        expect(cancelled).toEqual([{ is_cancelled: true }]);
        const cancelledLines = await dest<{ order_status: string; is_revenue: boolean }>(
          'SELECT DISTINCT order_status, is_revenue FROM marts.fct_order_items WHERE order_id = $1',
          [toCancel!.order_id],
        );
        expect(cancelledLines).toEqual([{ order_status: 'cancelled', is_revenue: false }]);
        // In soft mode the deleted order stays in staging, flagged; the marts must drop it all the same.
        const staged = await dest<{ _deleted: boolean }>('SELECT _deleted FROM staging.orders WHERE order_id = $1', [
          toDelete!.order_id,
        ]);
        expect(staged).toEqual(deleteMode === 'soft' ? [{ _deleted: true }] : []);
        for (const fact of INCREMENTAL_MARTS) {
          const left = await dest(`SELECT 1 FROM marts.${fact} WHERE order_id = $1`, [toDelete!.order_id]);
          expect(left, `deleted order ${toDelete!.order_id} left in ${fact}`).toEqual([]);
        }
        const [trimmed] = await dest<{ lines: string; staged: string }>(
          'SELECT (SELECT count(*) FROM marts.fct_order_items WHERE order_id = $1) AS lines, (SELECT count(*) FROM staging.order_items WHERE order_id = $1 AND NOT _deleted) AS staged',
          [toTrim!.order_id],
        );
        expect(trimmed!.lines).toBe(trimmed!.staged);
        const prices = await dest<{ price: string }>(
          'SELECT price::text FROM marts.dim_products WHERE product_id = $1',
          [product!.product_id],
        );
        expect(prices).toEqual([{ price: product!.price }]);
        const [newOrder] = await dest<{ lines: string; payments: string; status: string }>(
          `SELECT (SELECT count(*) FROM marts.fct_order_items WHERE order_id = $1) AS lines,
              (SELECT count(*) FROM marts.fct_payments WHERE order_id = $1 AND is_captured) AS payments,
              (SELECT order_status FROM marts.fct_orders WHERE order_id = $1) AS status`,
          [created!.order_id],
        );
        expect(newOrder).toEqual({ lines: '2', payments: '1', status: 'paid' });

        // The same models built from scratch into other schemas: every mart must be equal.
        await runDbtOk(['build', '--full-refresh', '--target', 'dev', '--vars', `{${STRICT}}`], {
          ELT_DBT_SCHEMA: FULL_REFRESH_PREFIX,
        });
        for (const mart of MARTS) {
          const [diff] = await dest<{ missing: string; extra: string; rows: string }>(
            `SELECT
           (SELECT count(*) FROM (SELECT * FROM ${FULL_REFRESH_PREFIX}_marts.${mart} EXCEPT ALL SELECT * FROM marts.${mart}) d) AS missing,
           (SELECT count(*) FROM (SELECT * FROM marts.${mart} EXCEPT ALL SELECT * FROM ${FULL_REFRESH_PREFIX}_marts.${mart}) d) AS extra,
           (SELECT count(*) FROM marts.${mart}) AS rows`,
          );
          expect({ mart, missing: diff!.missing, extra: diff!.extra }).toEqual({ mart, missing: '0', extra: '0' });
          expect(Number(diff!.rows), mart).toBeGreaterThan(0);
        }
      },
      DBT_TEST_TIMEOUT_MS,
    );
  },
);
