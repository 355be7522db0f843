/**
 * The destination pool, as the `db` decorator. The API only reads `elt.*` and writes resync
 * requests, so a handful of connections is plenty. A pool passed in is the caller's to end;
 * one built from a URL is ended when the app closes.
 */
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { DESTINATION_SESSION_OPTIONS } from '../../../replicator/src/source/source-db.js';
import { globalPlugin } from './global-plugin.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: pg.Pool;
  }
}

/** Fail fast when the destination is down, so the client gets a 503 instead of a hanging request. */
const CONNECT_TIMEOUT_MS = 3_000;
const STATEMENT_TIMEOUT_MS = 10_000;

/**
 * A pool on the destination with the API's settings, and the replicator's session settings
 * (UTC, ISO dates, exact floats), so that what the API reports does not depend on the
 * destination's or its database's defaults.
 */
export function createPool(url: string): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max: 5,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: 'elt-api',
    statement_timeout: STATEMENT_TIMEOUT_MS,
    options: DESTINATION_SESSION_OPTIONS,
  });
}

export interface DbOptions {
  /** A pool to use as it is, or the destination URL to build one from. */
  database: pg.Pool | string;
}

export const dbPlugin = globalPlugin('db', async (app: FastifyInstance, options: DbOptions) => {
  const owned = typeof options.database === 'string';
  const pool = typeof options.database === 'string' ? createPool(options.database) : options.database;
  if (owned) {
    // An idle connection that the server drops (restart, failover) must not crash the process.
    pool.on('error', (error) => app.log.warn({ error: error.message }, 'idle destination connection lost'));
    app.addHook('onClose', async () => {
      await pool.end();
    });
  }
  app.decorate('db', pool);
});
