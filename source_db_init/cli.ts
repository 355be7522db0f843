/**
 * What the three command-line entry points (init, generate, workload) share: where the
 * source URL comes from, how a failure becomes one sentence and an exit code, and how a
 * file knows it was run rather than imported.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { describeUrl } from '../replicator/src/errors.js';

export { describeUrl };

/** A failure the user can fix; the CLI prints `message` and `hint`, not a stack trace. */
export class DemoError extends Error {
  override readonly name = 'DemoError';
  /** 2 for a bad command line, 1 otherwise. */
  readonly exitCode: number;
  constructor(
    message: string,
    readonly hint: string,
    options?: { cause?: unknown; exitCode?: number },
  ) {
    super(message, { cause: options?.cause });
    this.exitCode = options?.exitCode ?? 1;
  }
}

export const sourceUrlSchema = z
  .string({ error: 'Give the source database with --url, ELT_SOURCE_URL or DATABASE_URL.' })
  .regex(/^postgres(ql)?:\/\//, { error: 'The source URL must start with postgres:// or postgresql://.' });

export const scaleSchema = z.coerce
  .number({ error: '--scale must be a number, e.g. 1 (about 100k rows) or 0.05.' })
  .positive({ error: '--scale must be greater than 0.' })
  .max(1000, { error: '--scale above 1000 (about 100M rows) is not supported.' });

/** --url, else ELT_SOURCE_URL, else DATABASE_URL. */
export function sourceUrlFrom(flag: string | undefined): string | undefined {
  return flag ?? process.env.ELT_SOURCE_URL ?? process.env.DATABASE_URL;
}

/** Parse CLI values with a zod schema; a bad value ends in one sentence (exit 2). */
export function parseFlags<T>(schema: z.ZodType<T>, values: unknown): T {
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new DemoError(first?.message ?? 'Invalid arguments.', 'Run with --help for the usage.', { exitCode: 2 });
  }
  return parsed.data;
}

/** Turn what pg or the OS threw into a DemoError with a sentence a user can act on. */
export function explainError(url: string, error: unknown): DemoError {
  if (error instanceof DemoError) return error;
  const e = error as { code?: string; message?: string };
  const where = describeUrl(url);
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || e.code === 'ETIMEDOUT') {
    return new DemoError(
      `Cannot reach the source database at ${where} (${e.code}).`,
      'Start the server or fix the host and port in --url.',
      { cause: error },
    );
  }
  if (e.code === '28P01' || e.code === '28000') {
    return new DemoError(
      `Cannot log in to the source database at ${where}: ${e.message}.`,
      'Fix the user and password in --url.',
      { cause: error },
    );
  }
  if (e.code === '3D000') {
    return new DemoError(
      `The source database at ${where} does not exist.`,
      'Create it first (createdb) or fix the database name in --url.',
      { cause: error },
    );
  }
  if (e.code === '42501') {
    return new DemoError(
      `Permission denied on ${where}: ${e.message}.`,
      'Run this as a superuser (or the database owner).',
      { cause: error },
    );
  }
  return new DemoError(
    `Failed on ${where}: ${e.message ?? String(error)}`,
    'The failed transaction was rolled back; fix the cause and run again.',
    { cause: error },
  );
}

/** True when `moduleUrl` (import.meta.url) is the file node was started with. */
export function isMainModule(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === moduleUrl;
  } catch {
    return false;
  }
}

/** Run a CLI body: a failure prints what went wrong and what to do, then exits non-zero. */
export function runCli(body: () => Promise<void>): void {
  body().then(
    () => process.exit(0),
    (error: unknown) => {
      if (error instanceof DemoError) {
        process.stderr.write(`error: ${error.message}\n${error.hint}\n`);
        process.exit(error.exitCode);
      }
      process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
