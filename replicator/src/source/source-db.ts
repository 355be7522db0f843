/**
 * Connections to the source: a plain SQL connection for catalog reads, and the libpq
 * settings that make value output unambiguous (ISO dates, UTC, hex bytea, exact floats),
 * so that the text pgoutput sends is the text the destination parses back.
 */
import pg from 'pg';
import { connectionError } from '../errors.js';

/** Session settings for every source connection, the replication one included. */
export const SOURCE_SESSION_OPTIONS =
  '-c datestyle=ISO,YMD -c intervalstyle=postgres -c timezone=UTC -c extra_float_digits=3 -c bytea_output=hex';

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
  const client = new pg.Client({ connectionString: url, application_name: applicationName, options: '-c timezone=UTC' });
  try {
    await client.connect();
  } catch (error) {
    throw connectionError('destination', url, error);
  }
  client.on('error', () => {});
  return client;
}
