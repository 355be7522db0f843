/**
 * Resync jobs. POST queues one (the replicator hears of it through NOTIFY and is its only
 * executor); GET shows progress; DELETE cancels. Jobs live in elt.resync_jobs, so they
 * survive a restart of the API or the replicator.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { notFound } from '../../errors.js';
import { BEARER_SECURITY } from '../../plugins/auth.js';
import { errorResponses } from '../../schemas/common.js';
import { jobParams, resyncJob, resyncListQuery, resyncListResponse, resyncRequest } from '../../schemas/resync.js';

export interface ResyncRouteOptions {
  slot: string;
  readsNeedToken: boolean;
}

export const resyncRoutes: FastifyPluginAsyncZod<ResyncRouteOptions> = async (app, options) => {
  const readSecurity = options.readsNeedToken ? { security: BEARER_SECURITY } : {};
  const jobNotFound = (id: string) =>
    notFound(`Slot ${options.slot} has no resync job ${id}: GET /v1/resync lists the recent ones.`);

  app.post(
    '/v1/resync',
    {
      config: { access: 'write' },
      schema: {
        tags: ['resync'],
        summary: 'Queue a resync of some tables ({"tables": ["public.orders"]}) or all of them ({"all": true})',
        description:
          'The tables are copied again from the source while the stream keeps applying every other table. ' +
          '202 with the job; 404 when a table is not replicated; 409 when one already has a queued or running resync.',
        security: BEARER_SECURITY,
        body: resyncRequest,
        response: { 202: resyncJob, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const requestedBy = body.requested_by ?? `api ${request.ip}`;
      const id = await app.controlRepo.queueResync(
        body.all ? { all: true, requestedBy } : { tables: body.tables ?? [], requestedBy },
      );
      const job = await app.controlRepo.getJob(id);
      if (!job) throw jobNotFound(String(id));
      request.log.info({ job: id, tables: job.tables.length }, 'resync job queued');
      return reply.code(202).header('location', `/v1/resync/${id}`).send(job);
    },
  );

  app.get(
    '/v1/resync',
    {
      config: { access: 'read' },
      schema: {
        tags: ['resync'],
        summary: 'Recent resync jobs, newest first, with their progress',
        ...readSecurity,
        querystring: resyncListQuery,
        response: { 200: resyncListResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => ({ jobs: await app.controlRepo.listJobs(request.query.limit, request.query.state) }),
  );

  app.get(
    '/v1/resync/:id',
    {
      config: { access: 'read' },
      schema: {
        tags: ['resync'],
        summary: 'One resync job: state, and rows copied of the estimate per table and in total',
        ...readSecurity,
        params: jobParams,
        response: { 200: resyncJob, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const job = await app.controlRepo.getJob(request.params.id);
      if (!job) throw jobNotFound(request.params.id);
      return job;
    },
  );

  app.delete(
    '/v1/resync/:id',
    {
      config: { access: 'write' },
      schema: {
        tags: ['resync'],
        summary: 'Cancel a resync job',
        description:
          'A queued job is cancelled at once (200). A running job is asked to stop (202: cancel_requested is true and ' +
          'the replicator stops it and marks it cancelled). A finished job is a 409.',
        security: BEARER_SECURITY,
        params: jobParams,
        response: { 200: resyncJob, 202: resyncJob, ...errorResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const outcome = await app.controlRepo.cancelJob(id);
      if (!outcome) throw jobNotFound(id);
      const job = await app.controlRepo.getJob(id);
      if (!job) throw jobNotFound(id);
      request.log.info({ job: job.id, outcome }, 'resync job cancel');
      return reply.code(outcome === 'cancelled' ? 200 : 202).send(job);
    },
  );
};
