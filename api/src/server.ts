/**
 * Running the API: `startApi` listens and returns its URL and a close function (for `elt
 * api`, tests and the local stack); `runApi` adds configuration from the environment and a
 * graceful stop on SIGINT/SIGTERM (close-with-grace). Run this file directly to start the
 * API on its own:  ELT_DESTINATION_URL=… ELT_API_TOKEN=… npx tsx api/src/server.ts
 */
import { pathToFileURL } from 'node:url';
import closeWithGrace from 'close-with-grace';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { ConfigError, EltError, describeUrl } from '../../replicator/src/errors.js';
import { createLogger } from '../../replicator/src/log.js';
import { buildApp, type App } from './app.js';
import { loadApiConfig, type ApiConfig } from './config.js';

export interface StartApiDeps {
  /** A pino logger (default: none; `runApi` passes the elt logger). */
  logger?: FastifyBaseLogger | boolean;
  /** Use this pool instead of building one from `config.destinationUrl` (the caller ends it). */
  pool?: pg.Pool;
  /** Collect process metrics into /metrics (default true). */
  processMetrics?: boolean;
}

export interface RunningApi {
  /** Where it listens, e.g. http://127.0.0.1:5001 */
  readonly url: string;
  readonly app: App;
  /** Stop accepting requests, finish the ones in flight, end the pool. */
  close(): Promise<void>;
}

/**
 * Build the app and listen on `config.host:config.port` (port 0 picks a free one).
 * A destination that is down is not fatal: requests answer 503 until it is back.
 * A port in use is a ConfigError.
 */
export async function startApi(config: ApiConfig, deps: StartApiDeps = {}): Promise<RunningApi> {
  const app = await buildApp({
    database: deps.pool ?? config.destinationUrl,
    token: config.token,
    slot: config.slot,
    readsNeedToken: config.readsNeedToken,
    heartbeatMaxAgeS: config.heartbeatMaxAgeS,
    logger: deps.logger ?? false,
    processMetrics: deps.processMetrics ?? true,
  });
  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app.close();
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      const why =
        e.code === 'EADDRINUSE'
          ? 'the port is in use'
          : e.code === 'EACCES'
            ? 'permission denied'
            : 'no such local address';
      throw new ConfigError(
        `Cannot listen on ${config.host}:${config.port}: ${why}.`,
        'Set ELT_API_PORT (and ELT_API_HOST) to a free port on this machine.',
        { cause: error },
      );
    }
    throw error;
  }
  app.log.info(
    {
      url: address,
      slot: config.slot,
      destination: describeUrl(config.destinationUrl),
      tokenSet: config.token !== undefined,
      readsNeedToken: config.readsNeedToken,
    },
    'elt api listening',
  );
  if (config.token === undefined) app.log.warn('ELT_API_TOKEN is not set: the API refuses every resync request (403)');
  await app.controlRepo.ping().catch((error: Error) => {
    app.log.warn(
      { destination: describeUrl(config.destinationUrl), error: error.message },
      'destination unreachable for now: requests answer 503 until it is back',
    );
  });
  return {
    url: address,
    app,
    close: () => app.close(),
  };
}

/**
 * `elt api`: read the configuration from `env`, listen, and stop gracefully on SIGINT or
 * SIGTERM. Resolves 0 once stopped. Bad configuration throws ConfigError (exit 2).
 */
export async function runApi(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = loadApiConfig(env);
  const logger = createLogger('elt-api');
  const api = await startApi(config, { logger });
  return new Promise<number>((resolve) => {
    closeWithGrace(
      { delay: 10_000, logger: { error: (message: unknown) => logger.error({ err: message }, 'forced stop') } },
      async ({ signal, err }) => {
        if (err) logger.error({ err }, 'stopping after an unexpected error');
        else logger.info({ signal }, 'stopping');
        await api.close();
        resolve(err ? 1 : 0);
      },
    );
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runApi().then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof EltError) process.stderr.write(`elt api: ${error.message}\n         ${error.hint}\n`);
      else
        process.stderr.write(`elt api: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(error instanceof ConfigError ? 2 : 1);
    },
  );
}
