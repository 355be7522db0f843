/**
 * Prune jobs: POST queues a pass that removes soft-deleted rows older than a duration; the
 * replicator (the one writer of the replica) runs it between its apply transactions. GET
 * shows the jobs, those the ELT_SOFT_DELETE_RETENTION setting starts included.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { notFound } from '../../errors.js';
import { BEARER_SECURITY } from '../../plugins/auth.js';
import { errorResponses } from '../../schemas/common.js';
import { pruneJob, pruneListQuery, pruneListResponse, pruneParams, pruneRequest } from '../../schemas/prune.js';
import { getPrune, listPrunes, queuePrune } from './jobs.js';

export interface PruneRouteOptions {
  slot: string;
  readsNeedToken: boolean;
}

export const pruneRoutes: FastifyPluginAsyncZod<PruneRouteOptions> = async (app, options) => {
  const readSecurity = options.readsNeedToken ? { security: BEARER_SECURITY } : {};

  app.post(
    '/v1/prune',
    {
      config: { access: 'write' },
      schema: {
        tags: ['prune'],
        summary: 'Queue a pass that removes soft-deleted rows older than a duration ({"older_than": "7d"})',
        description:
          'Only for a replicator in soft-delete mode (ELT_DELETE_MODE=soft): the replicator removes, in small chunks between its ' +
          'apply transactions, the rows of streaming tables marked deleted longer ago than older_than. 202 with the job.',
        security: BEARER_SECURITY,
        body: pruneRequest,
        response: { 202: pruneJob, ...errorResponses(400, 401, 403, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const job = await queuePrune(
        app.db,
        options.slot,
        request.body.older_than,
        request.body.requested_by ?? `api ${request.ip}`,
      );
      request.log.info({ job: job.id, olderThan: job.older_than }, 'prune job queued');
      return reply.code(202).header('location', `/v1/prune/${job.id}`).send(job);
    },
  );

  app.get(
    '/v1/prune',
    {
      config: { access: 'read' },
      schema: {
        tags: ['prune'],
        summary: 'Recent prune jobs, newest first, with the rows each removed',
        ...readSecurity,
        querystring: pruneListQuery,
        response: { 200: pruneListResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => ({ jobs: await listPrunes(app.db, options.slot, request.query.limit, request.query.state) }),
  );

  app.get(
    '/v1/prune/:id',
    {
      config: { access: 'read' },
      schema: {
        tags: ['prune'],
        summary: 'One prune job: state, cutoff, rows removed per table',
        ...readSecurity,
        params: pruneParams,
        response: { 200: pruneJob, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const job = await getPrune(app.db, options.slot, request.params.id);
      if (!job)
        throw notFound(
          `Slot ${options.slot} has no prune job ${request.params.id}: GET /v1/prune lists the recent ones.`,
        );
      return job;
    },
  );
};
