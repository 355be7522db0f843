/**
 * The API as a Fastify app, apart from listening (server.ts), so tests can `inject` into it.
 *
 * Order (Fastify's Getting Started): compilers → ecosystem plugins (OpenAPI, which must
 * see every route) → own plugins and decorators (db, control repository, metrics, auth
 * hook) → error and 404 handlers → routes.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerOptions,
} from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { ApiError, clientErrorResponse, errorBody, toApiError } from './errors.js';
import { authPlugin } from './plugins/auth.js';
import { controlRepoPlugin } from './plugins/control-repo.js';
import { dbPlugin } from './plugins/db.js';
import { metricsPlugin } from './plugins/metrics.js';
import { openapiPlugin } from './plugins/openapi.js';
import { healthRoutes } from './routes/health.js';
import { pruneRoutes } from './routes/prune/index.js';
import { resyncRoutes } from './routes/resync/index.js';
import { statusRoutes } from './routes/status.js';
import { tablesRoutes } from './routes/tables/index.js';
import { verifyRoutes } from './routes/verify.js';

/** Requests are small JSON documents; anything bigger is refused before it is parsed. */
export const BODY_LIMIT_BYTES = 64 * 1024;

export interface AppOptions {
  /** The destination: a pool to use (the caller ends it) or a URL to build one from (ended on close). */
  database: pg.Pool | string;
  /** ELT_API_TOKEN. Without it every mutating request is refused (403). */
  token?: string | undefined;
  /** ELT_SLOT: whose state this API shows and for which slot it queues jobs. */
  slot: string;
  /** ELT_API_READS_NEED_TOKEN: GET /v1/* need the token too. */
  readsNeedToken?: boolean;
  /** ELT_API_HEARTBEAT_MAX_AGE_S: /ready fails when the replicator's heartbeat is older. */
  heartbeatMaxAgeS?: number;
  /** A pino logger to use, or true/false for Fastify's own (default: off). */
  logger?: FastifyBaseLogger | boolean;
  /** Collect process metrics (CPU, memory, event loop) into /metrics; default false. */
  processMetrics?: boolean;
}

/** Never log a credential, whatever logger is used. */
const REDACT = ['req.headers.authorization', 'req.headers.cookie'];

/** A request as logged: the path without its query string, where a misplaced credential may be. */
const REQUEST_SERIALIZER = {
  req: (req: { method: string; url: string; host?: string; ip?: string; socket?: { remotePort?: number } }) => ({
    method: req.method,
    url: req.url.split('?')[0],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
};

function loggerOptions(logger: AppOptions['logger']): Pick<FastifyServerOptions, 'logger' | 'loggerInstance'> {
  if (logger === undefined || logger === false) return { logger: false };
  if (logger === true) return { logger: { level: 'info', redact: REDACT, serializers: REQUEST_SERIALIZER } };
  return { loggerInstance: logger.child({}, { serializers: REQUEST_SERIALIZER }) };
}

/** Methods a path may have; a request with another one on a known path is a 405. */
const METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const;

export type App = FastifyInstance;

/** Build the app (not yet listening). Call `await app.ready()` or `inject` to start it, `close()` to end it. */
export async function buildApp(options: AppOptions): Promise<App> {
  const readsNeedToken = options.readsNeedToken ?? false;
  const heartbeatMaxAgeS = options.heartbeatMaxAgeS ?? 30;
  const app = Fastify({
    ...loggerOptions(options.logger),
    bodyLimit: BODY_LIMIT_BYTES,
    // Table names travel in the path; the schema limits them to 300 characters (400 beyond).
    routerOptions: { maxParamLength: 1_000 },
    return503OnClosing: true,
    requestTimeout: 30_000,
    // A URL the router cannot decode, or a path segment over maxParamLength: our error format.
    frameworkErrors: (error, request, reply) => {
      const apiError = toApiError(error, request.id);
      void (reply as FastifyReply).code(apiError.statusCode).send(errorBody(apiError.code, apiError.message));
    },
    // What Node's HTTP parser refuses (oversized headers, bad framing, unknown methods): our error format too.
    clientErrorHandler: (error, socket) => {
      const response = socket.destroyed ? null : clientErrorResponse(error);
      if (response !== null && socket.writable) socket.write(response);
      socket.destroy(error);
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Bodies are JSON only: anything else is a 415 before any parsing.
  app.removeContentTypeParser('text/plain');

  await app.register(openapiPlugin);
  await app.register(dbPlugin, { database: options.database });
  await app.register(controlRepoPlugin, { slot: options.slot });
  await app.register(metricsPlugin, { processMetrics: options.processMetrics ?? false });
  await app.register(authPlugin, { token: options.token, readsNeedToken });

  app.setErrorHandler(async (error, request, reply) => {
    const apiError = toApiError(error, request.id);
    if (apiError.statusCode >= 500 && apiError.code === 'internal') {
      request.log.error({ err: error }, 'request failed');
    } else if (apiError.statusCode >= 500) {
      const cause = apiError.cause as { message?: string; code?: string } | undefined;
      request.log.warn({ code: apiError.code, error: cause?.message, errorCode: cause?.code }, apiError.message);
    } else {
      request.log.info({ code: apiError.code, statusCode: apiError.statusCode }, apiError.message);
    }
    if (apiError.statusCode === 503) reply.header('retry-after', '5');
    return reply.code(apiError.statusCode).send(errorBody(apiError.code, apiError.message));
  });
  // A known path with a method it does not have: 405 and Allow, before any body is read.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.is404) return;
    const path = request.url.split('?')[0] ?? '';
    const allowed = METHODS.filter((method) => app.findRoute({ method, url: path }) !== null);
    if (allowed.length === 0) return;
    void reply.header('allow', allowed.join(', '));
    throw new ApiError(
      405,
      'method_not_allowed',
      `${request.method} is not allowed on ${path.slice(0, 200)}: use ${allowed.join(', ')}.`,
    );
  });
  app.setNotFoundHandler(async (request) => {
    const path = (request.url.split('?')[0] ?? '').slice(0, 200);
    throw new ApiError(
      404,
      'not_found',
      `No route ${request.method} ${path}: the routes are listed at /docs and /openapi.json.`,
    );
  });

  await app.register(healthRoutes, { slot: options.slot, heartbeatMaxAgeS });
  await app.register(statusRoutes, { slot: options.slot, heartbeatMaxAgeS, readsNeedToken });
  await app.register(tablesRoutes, { slot: options.slot, readsNeedToken });
  await app.register(verifyRoutes, { readsNeedToken });
  await app.register(resyncRoutes, { slot: options.slot, readsNeedToken });
  await app.register(pruneRoutes, { slot: options.slot, readsNeedToken });
  return app;
}
