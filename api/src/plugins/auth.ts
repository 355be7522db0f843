/**
 * Bearer-token access. Each route says in its config who may call it:
 *   public  always open (/health, /ready, /metrics, the OpenAPI document and /docs)
 *   read    open, unless ELT_API_READS_NEED_TOKEN is true
 *   write   always needs `Authorization: Bearer $ELT_API_TOKEN`
 * The check runs in onRequest, before the body is even read: an unauthenticated request
 * never reaches validation or the database. No header → 401; a wrong token → 403.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { globalPlugin } from './global-plugin.js';

export type Access = 'public' | 'read' | 'write';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}

/** The OpenAPI security requirement of a route that needs the token. */
export const BEARER_SECURITY = [{ bearerAuth: [] as string[] }];

export interface AuthOptions {
  /** ELT_API_TOKEN; without it the API refuses every mutation. */
  token?: string | undefined;
  readsNeedToken: boolean;
}

const BEARER = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Compare in constant time: hashing first makes the lengths equal, as timingSafeEqual requires. */
export function tokenMatches(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}

export const authPlugin = globalPlugin('auth', async (app: FastifyInstance, options: AuthOptions) => {
  const expected = options.token === undefined ? null : digest(options.token);

  app.addHook('onRequest', async (request: FastifyRequest, reply) => {
    const access = request.routeOptions.config.access ?? 'public';
    if (access === 'public' || (access === 'read' && !options.readsNeedToken)) return;
    if (expected === null) {
      throw new ApiError(
        403,
        'forbidden',
        'This API has no ELT_API_TOKEN configured, so it accepts no changes: set ELT_API_TOKEN and restart it.',
      );
    }
    const header = request.headers.authorization;
    const match = header === undefined ? null : BEARER.exec(header);
    if (!match) {
      reply.header('www-authenticate', 'Bearer realm="elt"');
      throw new ApiError(
        401,
        'unauthorized',
        'This endpoint needs the header "Authorization: Bearer <ELT_API_TOKEN>".',
      );
    }
    if (!tokenMatches(match[1]!, expected)) {
      throw new ApiError(403, 'forbidden', "The bearer token is not this API's ELT_API_TOKEN.");
    }
  });
});
