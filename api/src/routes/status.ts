/** GET /v1/status: the slot, LSNs, lag, retained WAL and the replicator's state, from elt.replication_state. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { notFound } from '../errors.js';
import { BEARER_SECURITY } from '../plugins/auth.js';
import { errorResponses } from '../schemas/common.js';
import { statusResponse } from '../schemas/status.js';

export interface StatusRouteOptions {
  slot: string;
  heartbeatMaxAgeS: number;
  readsNeedToken: boolean;
}

export const statusRoutes: FastifyPluginAsyncZod<StatusRouteOptions> = async (app, options) => {
  app.get(
    '/v1/status',
    {
      config: { access: 'read' },
      schema: {
        tags: ['status'],
        summary:
          'Replication status: slot, applied and confirmed LSN, lag in bytes and seconds, retained WAL, state, last error',
        ...(options.readsNeedToken ? { security: BEARER_SECURITY } : {}),
        response: { 200: statusResponse, ...errorResponses(401, 403, 404, 503) },
      },
    },
    async () => {
      const status = await app.controlRepo.status(options.heartbeatMaxAgeS);
      if (!status)
        throw notFound(
          `No replication state for slot ${options.slot} in the destination: start the replicator (elt replicate), or set ELT_SLOT to the slot it uses.`,
        );
      return status;
    },
  );
};
