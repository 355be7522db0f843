/**
 * The initial copy: `pg_dump --snapshot=<exported> | psql`, schema first, then the data
 * of each table through its own pipe (a few in parallel), then keys and indexes.
 *
 * Every pg_dump reads the exported snapshot of the slot, so the copy is exactly the
 * source at the slot's consistent point. Passwords travel in PGPASSWORD, never on a
 * command line where `ps` would show them.
 */
import { spawn } from 'node:child_process';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../log.js';
import type { PublishedTable } from '../source/publication.js';
import { DESTINATION_SESSION_OPTIONS } from '../source/source-db.js';
import { EltError } from '../errors.js';
import { dumpIdent, planReplicaDdl, rewriteCopyHeader, type DdlPlan } from './dump-filter.js';

export interface ConnectionTarget {
  /** URL without the password. */
  url: string;
  env: NodeJS.ProcessEnv;
}

/** Split a libpq URL into a password-free URL and the environment carrying the password. */
export function connectionTarget(url: string): ConnectionTarget {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (password) env.PGPASSWORD = password;
  else delete env.PGPASSWORD;
  return { url: parsed.toString(), env };
}

/** pg_dump's -t pattern that matches exactly one table. */
function exactTablePattern(qualifiedName: string): string {
  const [schema, table] = splitQualified(qualifiedName);
  return `"${schema.replaceAll('"', '""')}"."${table.replaceAll('"', '""')}"`;
}

/** Split `schema.table` as printed by format('%I.%I') into its two names. */
function splitQualified(name: string): [string, string] {
  const match = /^("(?:[^"]|"")+"|[^."]+)\.("(?:[^"]|"")+"|[^."]+)$/.exec(name);
  if (!match) throw new Error(`not a qualified name: ${name}`);
  const unquote = (part: string) => (part.startsWith('"') ? part.slice(1, -1).replaceAll('""', '"') : part);
  return [unquote(match[1]!), unquote(match[2]!)];
}

/** Run a process to completion and return its stdout; its stderr becomes the error. */
async function capture(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new EltError(`${command} failed: ${withoutRowData(Buffer.concat(err).toString())}`, `Check the ${command} output above.`);
  return Buffer.concat(out).toString('utf8');
}

export interface SchemaDumpInput {
  sourceUrl: string;
  snapshotName: string;
  sourceSchemas: string[];
  targetSchema: string;
  tables: PublishedTable[];
}

/** Dump the source schemas' DDL at the snapshot and plan the replica's DDL from it. */
export async function dumpSchema(input: SchemaDumpInput): Promise<DdlPlan> {
  const source = connectionTarget(input.sourceUrl);
  const args = ['--schema-only', `--snapshot=${input.snapshotName}`, '--no-owner', '--no-privileges', '--no-publications', '--no-subscriptions', '--no-security-labels', '--no-tablespaces'];
  for (const schema of input.sourceSchemas) args.push('-n', `"${schema.replaceAll('"', '""')}"`);
  const dump = await capture('pg_dump', [...args, '-d', source.url], source.env);

  const published = new Set(input.tables.map((t) => `${dumpIdent(t.schema)}.${dumpIdent(t.name)}`));
  const partitions = input.tables.flatMap((t) => t.partitions);
  const unpublished = [...dump.matchAll(/^CREATE (?:UNLOGGED |FOREIGN )?TABLE (\S+) \(/gm)]
    .map((m) => m[1]!)
    .filter((name) => !published.has(name));
  return planReplicaDdl(dump, {
    sourceSchemas: input.sourceSchemas,
    targetSchema: input.targetSchema,
    excludedRelations: [...partitions, ...unpublished],
    identityIndexes: input.tables.flatMap((t) => (t.identityIndex ? [t.identityIndex] : [])),
  });
}

export interface TableCopyInput {
  sourceUrl: string;
  destinationUrl: string;
  snapshotName: string;
  sourceSchemas: string[];
  targetSchema: string;
  table: PublishedTable;
  /** Called with the rows copied so far, at most every PROGRESS_INTERVAL_MS and at the end. */
  onProgress: (rowsCopied: number) => void;
}

const PROGRESS_INTERVAL_MS = 2_000;

/**
 * Copy one table's rows: `pg_dump --data-only` of the table (or of all its partitions,
 * loaded via the root) at the snapshot, piped through the COPY-header rewrite into psql.
 * Returns the number of rows copied.
 */
export async function copyTableData(input: TableCopyInput): Promise<number> {
  const source = connectionTarget(input.sourceUrl);
  const destination = connectionTarget(input.destinationUrl);
  destination.env.PGOPTIONS = DESTINATION_SESSION_OPTIONS;
  const relations = input.table.kind === 'p' ? input.table.partitions : [`${dumpIdent(input.table.schema)}.${dumpIdent(input.table.name)}`];
  const args = ['--data-only', `--snapshot=${input.snapshotName}`, '--no-owner', '--no-privileges', '--load-via-partition-root'];
  for (const relation of relations) args.push('-t', exactTablePattern(relation));
  if (relations.length === 0) return 0;

  const dump = spawn('pg_dump', [...args, '-d', source.url], { env: source.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const load = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-d', destination.url], {
    env: destination.env,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const dumpErrors = collect(dump.stderr);
  const loadErrors = collect(load.stderr);
  const rewrite = new CopyRewrite(input.sourceSchemas, input.targetSchema, input.onProgress);
  const dumpExit = exitCode(dump);
  const loadExit = exitCode(load);
  await pipeline(dump.stdout, rewrite, load.stdin).catch(() => {
    // A broken pipe shows up as a failed process below, with its own message.
  });
  const [dumpCode, loadCode] = await Promise.all([dumpExit, loadExit]);
  if (dumpCode !== 0) throw new EltError(`pg_dump of ${input.table.schema}.${input.table.name} failed: ${withoutRowData(dumpErrors())}`, 'Check that the source is reachable and the role may read the table.');
  if (loadCode !== 0) throw new EltError(`Loading ${input.table.schema}.${input.table.name} into the destination failed: ${withoutRowData(loadErrors())}`, 'Check the destination server log.');
  input.onProgress(rewrite.rows);
  return rewrite.rows;
}

/**
 * psql's and pg_dump's messages without the rows they quote: DETAIL lines ("Failing row
 * contains (…)", "Key (id)=(42) already exists") go, and a COPY context keeps its line number
 * but not the line. The error stays precise; the data stays in the database.
 */
export function withoutRowData(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => !/^(\S+: )?DETAIL: /.test(line.trim()))
    .map((line) => line.replace(/^(.*CONTEXT:\s+COPY [^,]+, line \d+)(, column [^:]+)?: .*$/, '$1$2'))
    .join('\n')
    .trim();
}

function collect(stream: NodeJS.ReadableStream): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString('utf8');
}

function exitCode(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
}

/**
 * Passes a data-only dump through, keeping SET lines and COPY blocks only (sequence
 * setval calls and psql meta-commands are dropped), rewriting each COPY header to the
 * target schema and counting rows. Works on bytes so that a chunk boundary inside a
 * multi-byte character never corrupts a value; data lines pass through untouched.
 */
class CopyRewrite extends Transform {
  rows = 0;
  #inCopy = false;
  #pending: Buffer = Buffer.alloc(0);
  #lastReport = Date.now();

  constructor(
    private readonly sourceSchemas: string[],
    private readonly targetSchema: string,
    private readonly onProgress: (rows: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    const consumed = this.#process(buf);
    this.#pending = Buffer.from(buf.subarray(consumed));
    const now = Date.now();
    if (now - this.#lastReport >= PROGRESS_INTERVAL_MS) {
      this.#lastReport = now;
      this.onProgress(this.rows);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#pending.length > 0) this.#process(Buffer.concat([this.#pending, Buffer.from('\n')]));
    callback();
  }

  /** Handle every complete line in buf; returns how many bytes were consumed. */
  #process(buf: Buffer): number {
    let start = 0;
    for (;;) {
      if (this.#inCopy) {
        const blockStart = start;
        let newline = buf.indexOf(10, start);
        while (newline >= 0) {
          const endOfData = newline - start === 2 && buf[start] === 0x5c && buf[start + 1] === 0x2e; // "\."
          start = newline + 1;
          if (endOfData) {
            this.#inCopy = false;
            break;
          }
          this.rows++;
          newline = buf.indexOf(10, start);
        }
        this.push(buf.subarray(blockStart, start));
        if (this.#inCopy) return start;
      } else {
        const newline = buf.indexOf(10, start);
        if (newline < 0) return start;
        const line = buf.toString('utf8', start, newline);
        start = newline + 1;
        const header = rewriteCopyHeader(line, this.sourceSchemas, this.targetSchema);
        if (header !== null) {
          this.push(header + '\n');
          this.#inCopy = true;
        } else if (line.startsWith('SET ') || line.startsWith('SELECT pg_catalog.set_config')) {
          this.push(line + '\n');
        }
      }
    }
  }
}
