/**
 * GET /health: the process is alive (no database). GET /ready: the destination answers and
 * the replicator's heartbeat is fresh, so its numbers can be trusted; 503 with the reason
 * otherwise. GET /metrics: Prometheus text.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError, toApiError } from '../errors.js';
import { errorResponses } from '../schemas/common.js';
import { healthResponse, readyResponse } from '../schemas/status.js';

export interface HealthRouteOptions {
  slot: string;
  heartbeatMaxAgeS: number;
}

const notReady = (reason: string) => new ApiError(503, 'not_ready', reason);

export const healthRoutes: FastifyPluginAsyncZod<HealthRouteOptions> = async (app, options) => {
  app.get(
    '/health',
    {
      config: { access: 'public' },
      schema: { tags: ['health'], summary: 'The API process is alive', response: { 200: healthResponse } },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      config: { access: 'public' },
      schema: {
        tags: ['health'],
        summary: "The destination is reachable and the replicator's heartbeat is fresh",
        description: `503 with the reason when the destination is down, the replicator never ran, its heartbeat is older than ELT_API_HEARTBEAT_MAX_AGE_S (${options.heartbeatMaxAgeS} s), it reports an error, or the slot lost its WAL.`,
        response: { 200: readyResponse, ...errorResponses(503) },
      },
    },
    async (request) => {
      const state = await app.controlRepo.readiness().catch((error: unknown) => {
        const apiError = toApiError(error, request.id);
        throw apiError.statusCode === 503 ? notReady(apiError.message) : error;
      });
      if (!state)
        throw notReady(
          `The replicator has recorded no state for slot ${options.slot}: start it (elt replicate), or set ELT_SLOT to the slot it uses.`,
        );
      const age = state.heartbeatAgeSeconds;
      if (age === null)
        throw notReady(`The replicator has sent no heartbeat yet for slot ${options.slot} (phase ${state.phase}).`);
      if (age > options.heartbeatMaxAgeS) {
        throw notReady(
          `The replicator's last heartbeat is ${Math.round(age)} s old (limit ${options.heartbeatMaxAgeS} s): check that elt replicate is running and can reach the source.`,
        );
      }
      if (state.walStatus === 'lost')
        throw notReady(`Slot ${options.slot} has lost WAL it needs: a full resync is required.`);
      if (state.status === 'error')
        throw notReady(`The replicator reports an error: ${state.lastError ?? 'no message'}.`);
      return { status: 'ready' as const, slot: options.slot, phase: state.phase, heartbeat_age_seconds: age };
    },
  );

  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics of the API (requests by route and status, durations)',
        response: {
          200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } },
        },
      },
    },
    async (_request, reply) => {
      const text = await app.metricsRegistry.metrics();
      return reply
        .type(app.metricsRegistry.contentType)
        .serializer((payload) => payload as string)
        .send(text);
    },
  );
};
