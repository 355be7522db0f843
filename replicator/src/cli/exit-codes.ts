/**
 * What `elt` exits with, and the one sentence it prints before a non-zero exit.
 *
 * The codes are part of the interface (scripts and the Makefile test them): `elt --help`
 * and the README list them from EXIT_CODES_HELP.
 */
import { AlreadyRunningError, ConfigError, EltError } from '../errors.js';

export const EXIT = {
  /** Done. */
  ok: 0,
  /** Failed: a server unreachable, a login or a privilege refused, replication stopped, teardown incomplete. */
  failed: 1,
  /** Nothing was done: an unknown command or flag, a bad setting, or a teardown not confirmed. */
  usage: 2,
  /** The replication slot is in use by another replicator. */
  slotInUse: 3,
  /** elt verify: rows of the replica differ from the source's. */
  differs: 4,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  done
  1  failed: a server is unreachable, a password or a privilege was refused,
     replication stopped, or teardown left something behind (it says what)
  2  nothing was done: unknown command or flag, a bad setting, or teardown without --yes
  3  the replication slot is in use by another replicator
  4  elt verify found rows that differ between the source and the replica`;

/** A teardown that was not confirmed: nothing was changed. */
export class NotConfirmedError extends EltError {
  override readonly name = 'NotConfirmedError';
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError || error instanceof NotConfirmedError) return EXIT.usage;
  if (error instanceof AlreadyRunningError) return EXIT.slotInUse;
  return EXIT.failed;
}

interface ServerErrorFields {
  code?: unknown;
  severity?: unknown;
  message: string;
}

/** An error PostgreSQL sent (node-postgres' DatabaseError): a SQLSTATE and a severity. */
function isServerError(error: unknown): error is Error & ServerErrorFields {
  const e = error as ServerErrorFields;
  return (
    error instanceof Error &&
    typeof e.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(e.code) &&
    typeof e.severity === 'string'
  );
}

/**
 * What the CLI prints for an error that ended a command: its sentence and what to do, never
 * a stack trace alone. The stack of an unexpected error is shown only with `debug`.
 */
export function describeFailure(error: unknown, logLevel = 'info'): string {
  if (error instanceof EltError) return `elt: ${error.message}\n     ${error.hint}\n`;
  const debug = logLevel === 'debug' || logLevel === 'trace';
  if (isServerError(error)) {
    return `elt: The server refused: ${error.message} (SQLSTATE ${String(error.code)}).\n     Check the role's privileges; ELT_LOG_LEVEL=debug shows where it happened.\n${debug ? `${error.stack}\n` : ''}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  const stack = debug && error instanceof Error && error.stack ? `${error.stack}\n` : '';
  return `elt: Unexpected error: ${message}\n     This is a bug in elt: run again with ELT_LOG_LEVEL=debug to see where it happened, and report it.\n${stack}`;
}
