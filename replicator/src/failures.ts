/**
 * The one place that sorts failures. A failure is either transient (the network, a server
 * restarting, a timeout, a lock, a full disk: waiting and trying again can fix it) or
 * deterministic (the destination refuses a table's DDL, a type is missing, a row is
 * refused: trying again gives the same answer). Transient failures are retried with backoff
 * by the supervisor; a deterministic one stops the table it belongs to, and the others go on.
 */
import { EltError, UnreachableError } from './errors.js';

export type FailureKind = 'transient' | 'deterministic';

/** SQLSTATE classes (first two characters) that waiting can fix. */
const TRANSIENT_CLASSES = new Set([
  '08', // connection exception
  '40', // transaction rollback: serialization failure, deadlock
  '53', // insufficient resources: disk full, out of memory, too many connections
  '57', // operator intervention: admin shutdown, crash shutdown, cannot connect now, query canceled
  '58', // system error: I/O error
  'XX', // internal error (e.g. a corrupted page on a crashing server): retried, reported as an error
]);

/** Single SQLSTATEs outside those classes that are transient. */
const TRANSIENT_CODES = new Set([
  '55P03', // lock_not_available (lock_timeout)
  '55006', // object_in_use
  '25P03', // idle_in_transaction_session_timeout
]);

/** Node network error codes: always transient. */
const NETWORK_CODES =
  /^E(CONNRESET|CONNREFUSED|CONNABORTED|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|NETDOWN|AI_AGAIN|NOTFOUND)$/;

/** Messages of node-postgres for a connection that went away (they carry no code). */
const CONNECTION_GONE =
  /Connection terminated|Client has encountered a connection error|Client was closed|Connection ended|read ECONNRESET|timeout expired/i;

/** The SQLSTATE of a PostgreSQL error (directly or through its cause), if any. */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !NETWORK_CODES.test(code)) return code;
  }
  return undefined;
}

function networkCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.test(code)) return code;
  }
  return undefined;
}

/**
 * A failure with nothing that explains it: no SQLSTATE, no network code, no known
 * connection message, not one of ours (a bug, most likely). Sorted as transient, since
 * retrying is safe, but the supervisor gives it only a few attempts in a row.
 */
export function isUnexplained(error: unknown): boolean {
  if (error instanceof EltError || sqlState(error) !== undefined || networkCode(error) !== undefined) return false;
  return !CONNECTION_GONE.test(error instanceof Error ? error.message : String(error));
}

/** Is this failure transient (retry with backoff) or deterministic (stop what it belongs to)? */
export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof UnreachableError) return 'transient';
  if (networkCode(error)) return 'transient';
  const state = sqlState(error);
  if (state)
    return TRANSIENT_CLASSES.has(state.slice(0, 2)) || TRANSIENT_CODES.has(state) ? 'transient' : 'deterministic';
  if (error instanceof EltError) return 'deterministic';
  const message = error instanceof Error ? error.message : String(error);
  if (CONNECTION_GONE.test(message)) return 'transient';
  // An error with no code and no known shape is a bug of ours or an unknown server state:
  // retrying it is safe (nothing is acknowledged before it is applied), and it is logged.
  return 'transient';
}

/** A table that cannot be replicated as it is: its state becomes `error`, the others go on. */
export class TableFailure extends EltError {
  override readonly name = 'TableFailure';
  constructor(
    readonly schema: string,
    readonly table: string,
    message: string,
    hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, hint, options);
  }
}

/** The reason stored in elt.tables.last_error: the message, then what to do. */
export function tableFailureReason(error: unknown): string {
  if (error instanceof EltError) return `${error.message} ${error.hint}`.trim();
  const state = sqlState(error);
  const message = error instanceof Error ? error.message : String(error);
  return state ? `${message} (SQLSTATE ${state})` : message;
}
