/**
 * Connections to the source and the destination, with the session settings that make
 * values read and compare the same whatever the servers' defaults: ISO dates, postgres
 * intervals, UTC, hex bytea, exact floats. On the source they make the text pgoutput sends
 * unambiguous; on the destination they make that text parse back as it was meant, and the
 * values the replicator reads back or compares as text there (a row matched by its old
 * image, a stored value kept under a new key) exact.
 */
import pg from 'pg';
import { connectionError } from '../errors.js';

/**
 * Session settings for every source connection, the replication one included. row_security=off:
 * a copy that row-level security would filter fails instead (as pg_dump does), so the table
 * stops with the reason rather than silently missing rows.
 */
export const SOURCE_SESSION_OPTIONS =
  '-c datestyle=ISO,YMD -c intervalstyle=postgres -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex -c row_security=off';

/**
 * Session settings for every destination connection (the snapshot's copies included).
 * search_path is the source's default one, so that a type name the
 * source's catalog prints unqualified (an extension's type in public) names the same type
 * here; relations are always schema-qualified, and the stage tables are temporary.
 */
export const DESTINATION_SESSION_OPTIONS = `${SOURCE_SESSION_OPTIONS} -c search_path=pg_catalog,public`;

export function sourceClientConfig(url: string, applicationName: string): pg.ClientConfig {
  return { connectionString: url, application_name: applicationName, options: SOURCE_SESSION_OPTIONS };
}

export async function connectSource(url: string, applicationName = 'elt'): Promise<pg.Client> {
  const client = new pg.Client(sourceClientConfig(url, applicationName));
  try {
    await client.connect();
  } catch (error) {
    throw connectionError('source', url, error);
  }
  client.on('error', () => {
    // Surfaces on the next query; without a listener a dropped idle connection would crash the process.
  });
  return client;
}

/** `extraOptions`: more `-c name=value` settings for this connection's session. */
export async function connectDestination(url: string, applicationName = 'elt', extraOptions = ''): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    options: extraOptions ? `${DESTINATION_SESSION_OPTIONS} ${extraOptions}` : DESTINATION_SESSION_OPTIONS,
  });
  try {
    await client.connect();
  } catch (error) {
    throw connectionError('destination', url, error);
  }
  // Unhandled, the event would end the process; the query that meets the error rejects and reports it.
  client.on('error', () => undefined);
  return client;
}

/**
 * Open several connections at once (each costs a few round trips; opened one after another they
 * held up the start). When one fails, the others are ended and the first failure is thrown.
 */
export async function connectAll<T extends Record<string, Promise<pg.Client>>>(
  connecting: T,
): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  const names = Object.keys(connecting);
  const settled = await Promise.allSettled(Object.values(connecting));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    for (const s of settled) if (s.status === 'fulfilled') await s.value.end().catch(() => undefined); // giving up on this attempt: the failure above is what to report
    throw failed.reason;
  }
  const clients = settled.map((s) => (s as PromiseFulfilledResult<pg.Client>).value);
  return Object.fromEntries(names.map((name, i) => [name, clients[i]])) as { [K in keyof T]: Awaited<T[K]> };
}
