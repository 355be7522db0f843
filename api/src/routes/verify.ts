/** GET /v1/verify: the last verification of each table (elt verify, or the background verifier of elt replicate). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { BEARER_SECURITY } from '../plugins/auth.js';
import { errorResponses } from '../schemas/common.js';
import { verifyResponse } from '../schemas/verify.js';

export interface VerifyRouteOptions {
  readsNeedToken: boolean;
}

export const verifyRoutes: FastifyPluginAsyncZod<VerifyRouteOptions> = async (app, options) => {
  app.get(
    '/v1/verify',
    {
      config: { access: 'read' },
      schema: {
        tags: ['verify'],
        summary:
          'The last verification of each table: rows compared, rows differing and which, when, and the repair queued',
        ...(options.readsNeedToken ? { security: BEARER_SECURITY } : {}),
        response: { 200: verifyResponse, ...errorResponses(401, 403, 503) },
      },
    },
    async () => ({ results: await app.controlRepo.verifyResults() }),
  );
};
