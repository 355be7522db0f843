/** GET /v1/tables and GET /v1/tables/{schema.table}: each replicated table's state, rows and last change. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { notFound } from '../../errors.js';
import { BEARER_SECURITY } from '../../plugins/auth.js';
import { errorResponses } from '../../schemas/common.js';
import { tableParams, tableResponse, tablesQuery, tablesResponse } from '../../schemas/tables.js';

export interface TablesRouteOptions {
  slot: string;
  readsNeedToken: boolean;
}

export const tablesRoutes: FastifyPluginAsyncZod<TablesRouteOptions> = async (app, options) => {
  const security = options.readsNeedToken ? { security: BEARER_SECURITY } : {};

  app.get(
    '/v1/tables',
    {
      config: { access: 'read' },
      schema: {
        tags: ['status'],
        summary: 'Every replicated table: state, rows, changes applied, last change, last error',
        ...security,
        querystring: tablesQuery,
        response: { 200: tablesResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => ({ slot: options.slot, tables: await app.controlRepo.listTables(request.query.state) }),
  );

  app.get(
    '/v1/tables/:table',
    {
      config: { access: 'read' },
      schema: {
        tags: ['status'],
        summary: 'One replicated table, named schema.table (e.g. public.orders)',
        ...security,
        params: tableParams,
        response: { 200: tableResponse, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const table = await app.controlRepo.getTable(request.params.table);
      if (!table)
        throw notFound(
          `Table ${JSON.stringify(request.params.table)} is not replicated for slot ${options.slot}: name it as schema.table; GET /v1/tables lists them.`,
        );
      return table;
    },
  );
};
