/**
 * Errors a user can cause or fix. Each carries one sentence that says what to do (`hint`),
 * which the CLI prints instead of a stack trace.
 */

export class EltError extends Error {
  override readonly name: string = 'EltError';
  constructor(
    message: string,
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bad configuration: exit code 2. */
export class ConfigError extends EltError {
  override readonly name = 'ConfigError';
}

/** Another replicator holds the slot or the destination lock. */
export class AlreadyRunningError extends EltError {
  override readonly name = 'AlreadyRunningError';
}

/** A server cannot be reached: final at start-up, retried during an outage. */
export class UnreachableError extends EltError {
  override readonly name = 'UnreachableError';
}

interface PgErrorFields {
  code?: string;
  message?: string;
}

/** Turn a connection failure into a sentence that names the server and what to check. */
export function connectionError(role: 'source' | 'destination', url: string, cause: unknown): EltError {
  const e = cause as PgErrorFields & { errno?: string; syscall?: string };
  const where = describeUrl(url);
  const envName = role === 'source' ? 'ELT_SOURCE_URL' : 'ELT_DESTINATION_URL';
  if (e.code === '28P01' || e.code === '28000') {
    return new EltError(
      `Cannot log in to the ${role} database at ${where}: ${e.message}`,
      `Check the user and password in ${envName}.`,
      { cause },
    );
  }
  if (e.code === '3D000') {
    return new EltError(
      `The ${role} database at ${where} does not exist: ${e.message}`,
      `Fix the database name in ${envName}.`,
      { cause },
    );
  }
  return new UnreachableError(
    `Cannot reach the ${role} database at ${where}: ${e.message ?? String(cause)}`,
    `Check that the server is running and that ${envName} names the right host and port.`,
    { cause },
  );
}

/** host:port/database of a libpq URL, without the password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}
