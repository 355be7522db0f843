/**
 * Set up the demo source database: schema.sql and the generated data in one transaction,
 * then roles.sql through psql (the replication role, its grants and the publication).
 *
 * A database that already holds the demo tables is refused, unless `force` is set: then
 * schema and data are left alone and only roles.sql runs again (it is idempotent, and so
 * the role's password always matches what was passed).
 *
 * CLI: npx tsx source_db_init/init.ts --url postgres://… --scale 1 --password … [--force]
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import type { ClientBase } from 'pg';
import { z } from 'zod';
import {
  DemoError,
  describeUrl,
  explainError,
  isMainModule,
  parseFlags,
  runCli,
  scaleSchema,
  sourceUrlFrom,
  sourceUrlSchema,
} from './cli.js';
import { DEMO_TABLES, analyzeDemoTables, loadDemoData, type DemoRowCounts } from './generate.js';

const run = promisify(execFile);

const SCHEMA_SQL_PATH = fileURLToPath(new URL('./schema.sql', import.meta.url));
const ROLES_SQL_PATH = fileURLToPath(new URL('./roles.sql', import.meta.url));

/** The role roles.sql creates and the publication it reads. */
export const REPLICATOR_ROLE = 'elt_replicator';
export const PUBLICATION_NAME = 'elt_pub';

export interface InitDemoOptions {
  /** 1 ≈ 100k rows; fractions are fine (0.05 for tests). */
  scale: number;
  /** Password set on the elt_replicator role. */
  replicatorPassword: string;
  /** If the demo tables exist already: skip loading instead of refusing. */
  force?: boolean;
}

export interface InitDemoOutcome {
  /** Rows loaded per table, or null when existing demo tables were kept (force). */
  rows: DemoRowCounts | null;
}

/** Create schema, data, role and publication on the source database at `url` (as a superuser). */
export async function initDemoSource(url: string, options: InitDemoOptions): Promise<InitDemoOutcome> {
  const rows = await loadSchemaAndData(url, options);
  await runRolesSql(url, options.replicatorPassword);
  return { rows };
}

/** schema.sql + generated rows in one transaction; null if the tables exist and `force` is set. */
async function loadSchemaAndData(url: string, options: InitDemoOptions): Promise<DemoRowCounts | null> {
  const client = new pg.Client({ connectionString: url, application_name: 'elt-demo-init' });
  await client.connect();
  try {
    await requireSuperuser(client, url);
    const existing = await existingDemoTables(client);
    if (existing.length > 0) {
      if (options.force) return null;
      throw new DemoError(
        `The database at ${describeUrl(url)} already holds the demo tables (${existing.join(', ')}); refusing to load them again.`,
        'Pass --force to keep them and only refresh the replication role and publication, or use an empty database.',
      );
    }
    const schemaSql = await readFile(SCHEMA_SQL_PATH, 'utf8');
    await client.query('begin');
    try {
      await client.query(schemaSql);
      const rows = await loadDemoData(client, options.scale);
      await client.query('commit');
      await analyzeDemoTables(client);
      return rows;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  } finally {
    await client.end();
  }
}

/** Which of the demo tables exist in schema public. */
export async function existingDemoTables(client: ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ tablename: string }>(
    `select tablename from pg_tables where schemaname = 'public' and tablename = any($1) order by tablename`,
    [DEMO_TABLES],
  );
  return rows.map((row) => row.tablename);
}

async function requireSuperuser(client: ClientBase, url: string): Promise<void> {
  const { rows } = await client.query<{ rolsuper: boolean; user: string }>(
    `select rolsuper, current_user as user from pg_roles where rolname = current_user`,
  );
  const me = rows[0];
  if (!me?.rolsuper) {
    throw new DemoError(
      `The user ${me?.user ?? '?'} on ${describeUrl(url)} is not a superuser, and creating a replication role and a FOR TABLES IN SCHEMA publication needs one.`,
      'Connect as a superuser (e.g. postgres) for the one-time setup.',
    );
  }
}

/** Run roles.sql with psql as the connecting (super)user. */
async function runRolesSql(url: string, password: string): Promise<void> {
  const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `elt_password=${password}`, '-d', url, '-f', ROLES_SQL_PATH];
  try {
    await run('psql', args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { code?: string | number; stderr?: string; message: string };
    if (e.code === 'ENOENT') {
      throw new DemoError(
        'psql was not found on PATH; roles.sql runs through it.',
        'Install the PostgreSQL client (postgresql-client) or add it to PATH.',
        { cause: error },
      );
    }
    const detail = (e.stderr ?? e.message).trim().split('\n').slice(-3).join(' ');
    throw new DemoError(
      `roles.sql failed on ${describeUrl(url)}: ${detail}`,
      'Fix the cause and run init again with --force (schema and data are kept).',
      {
        cause: error,
      },
    );
  }
}

// ---------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------

const USAGE = `Usage: npx tsx source_db_init/init.ts --url postgres://… --password … [--scale 1] [--force]

Creates the demo shop schema with generated data (scale 1 ≈ 100k rows), the replication
role ${REPLICATOR_ROLE} (LOGIN REPLICATION, SELECT only) and the publication ${PUBLICATION_NAME}.
Connect as a superuser. --url defaults to ELT_SOURCE_URL, then DATABASE_URL; --password to
ELT_REPLICATOR_PASSWORD. With --force an already initialised database keeps its tables and
only the role and publication are refreshed.`;

const flagsSchema = z.object({
  url: sourceUrlSchema,
  scale: scaleSchema,
  password: z.string({ error: 'Give the replicator password with --password or ELT_REPLICATOR_PASSWORD.' }).min(1, {
    error: 'The replicator password must not be empty.',
  }),
  force: z.boolean(),
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      scale: { type: 'string', default: '1' },
      password: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const flags = parseFlags(flagsSchema, {
    url: sourceUrlFrom(values.url),
    scale: values.scale,
    password: values.password ?? process.env.ELT_REPLICATOR_PASSWORD,
    force: values.force,
  });
  const started = performance.now();
  try {
    const { rows } = await initDemoSource(flags.url, {
      scale: flags.scale,
      replicatorPassword: flags.password,
      force: flags.force,
    });
    const seconds = Math.round(performance.now() - started) / 1000;
    const summary = rows
      ? { loaded: true, scale: flags.scale, seconds, rows }
      : { loaded: false, reason: 'demo tables already present (--force)', seconds };
    process.stdout.write(JSON.stringify({ ...summary, role: REPLICATOR_ROLE, publication: PUBLICATION_NAME }) + '\n');
  } catch (error) {
    throw explainError(flags.url, error);
  }
}

if (isMainModule(import.meta.url)) runCli(main);
