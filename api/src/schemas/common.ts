/**
 * Schemas shared by several routes. One zod schema serves request validation, response
 * serialization and the OpenAPI document (fastify-type-provider-zod).
 */
import { z } from 'zod';

export const errorResponse = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe(
          'Stable machine-readable code: bad_request, unauthorized, forbidden, not_found, conflict, not_ready, database_unavailable, …',
        ),
      message: z.string().describe('One sentence for humans: what went wrong and what to do.'),
    }),
  })
  .meta({ id: 'Error' });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request: the body, path or query does not match the schema',
  401: 'No "Authorization: Bearer <ELT_API_TOKEN>" header',
  403: 'Wrong token, or the API has no ELT_API_TOKEN configured',
  404: 'Unknown table (not in elt.tables for this slot) or job',
  409: 'A resync of that table is already queued or running, or the job has finished',
  413: 'Body larger than 64 KB',
  415: 'Body is not application/json',
  503: 'The destination database is unreachable (or the replicator is not ready)',
};

/** The error statuses a route can answer with, for its `response` map (documentation and serialization). */
export function errorResponses<const S extends readonly number[]>(
  ...statuses: S
): { [K in S[number]]: { description: string; content: { 'application/json': { schema: typeof errorResponse } } } } {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: ERROR_DESCRIPTIONS[status] ?? 'Error',
        content: { 'application/json': { schema: errorResponse } },
      },
    ]),
  ) as { [K in S[number]]: { description: string; content: { 'application/json': { schema: typeof errorResponse } } } };
}

/** A replicated table as `schema.table`, exactly as in `elt.tables` (case-sensitive). Never spliced into SQL. */
export const tableName = z
  .string()
  .min(1, 'must not be empty')
  .max(300, 'must be at most 300 characters')
  .refine((value) => !value.includes('\0'), 'must not contain a NUL character')
  .describe('A replicated table as schema.table, e.g. public.orders (see GET /v1/tables)');

/** A timestamp in UTC, ISO 8601 with microseconds. */
export const timestamp = z.iso.datetime().describe('ISO 8601, UTC');

/** A PostgreSQL LSN as the server prints it. */
export const lsn = z
  .string()
  .regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/)
  .describe('PostgreSQL LSN, e.g. 0/16B3748');

export const tableStates = ['snapshotting', 'streaming', 'resyncing', 'error', 'excluded'] as const;
export const tableState = z.enum(tableStates);

export const jobStates = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export const jobState = z.enum(jobStates);

/** Progress as a percentage of an estimate, or null when there is no estimate. */
export const percent = z
  .number()
  .min(0)
  .max(100)
  .nullable()
  .describe('rows_copied of rows_estimated in percent (null without an estimate)');

/** The path parameters of one job, `{id}`: the id as `returnedBy` gave it. */
export function jobIdParams(returnedBy: string) {
  return z.object({
    id: z
      .string()
      .regex(/^[1-9][0-9]{0,17}$/, 'must be a job id (a positive whole number)')
      .describe(`Job id, as returned by ${returnedBy}`),
  });
}
