/**
 * The OpenAPI 3 document, generated from the same zod schemas that validate requests
 * (fastify-type-provider-zod's transform), served at /openapi.json, with Swagger UI at /docs.
 * Register it before the routes: @fastify/swagger collects routes as they are added.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { packageVersion } from '../../../replicator/src/package-info.js';
import { globalPlugin } from './global-plugin.js';

const VERSION = packageVersion();

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

export const openapiPlugin = globalPlugin('openapi', async (app: FastifyInstance) => {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'elt API',
        description:
          'Status of the elt change-data-capture replicator and its tables, resync jobs, prune jobs and verification results. ' +
          'Errors are {"error": {"code", "message"}}. Requests that change something need "Authorization: Bearer $ELT_API_TOKEN".',
        version: VERSION,
      },
      tags: [
        { name: 'health', description: 'Liveness, readiness and metrics' },
        { name: 'status', description: 'Replication status and tables' },
        { name: 'resync', description: 'Copy tables again while the stream keeps running' },
        { name: 'prune', description: 'Remove old soft-deleted rows, through the replicator' },
        { name: 'verify', description: 'The replica compared with the source (elt verify)' },
      ],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'ELT_API_TOKEN' } },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX, uiConfig: { deepLinking: true } });
  app.get(OPENAPI_PATH, { schema: { hide: true }, config: { access: 'public' } }, async () => app.swagger());
});
