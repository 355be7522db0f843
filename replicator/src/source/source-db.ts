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

export async function connectDestination(url: string, applicationName = 'elt'): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    options: DESTINATION_SESSION_OPTIONS,
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
