/** POST/GET /v1/resync and GET/DELETE /v1/resync/{id}. */
import { z } from 'zod';
import { jobIdParams, jobState, percent, tableName, timestamp } from './common.js';

export const resyncRequest = z
  .strictObject({
    tables: z
      .array(tableName)
      .min(1, 'must name at least one table')
      .max(1000, 'must name at most 1000 tables')
      .optional()
      .describe('Tables to copy again, as schema.table'),
    all: z.literal(true).optional().describe('Copy every replicated table again'),
    requested_by: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('Who asks (shown in the job); default: api and the client address'),
  })
  .refine((body) => (body.tables === undefined) !== (body.all === undefined), {
    message: 'give either "tables": ["schema.table", …] or "all": true',
  })
  .meta({ id: 'ResyncRequest' });

export type ResyncRequest = z.output<typeof resyncRequest>;

const progress = z.object({
  tables_total: z.number().int(),
  tables_done: z.number().int().describe('Tables whose resync succeeded'),
  rows_copied: z.number(),
  rows_estimated: z.number().nullable().describe('Sum of the per-table estimates that are known'),
  percent,
});

export const resyncJobTable = z
  .object({
    table: z.string(),
    state: jobState,
    rows_copied: z.number(),
    rows_estimated: z.number().nullable(),
    percent,
    started_at: timestamp.nullable(),
    finished_at: timestamp.nullable(),
    error: z.string().nullable(),
  })
  .meta({ id: 'ResyncJobTable' });

export const resyncJobSummary = z
  .object({
    id: z.number().int(),
    slot: z.string(),
    state: jobState,
    requested_at: timestamp,
    requested_by: z.string().nullable(),
    started_at: timestamp.nullable(),
    finished_at: timestamp.nullable(),
    cancel_requested: z.boolean(),
    error: z.string().nullable(),
    progress,
  })
  .meta({ id: 'ResyncJobSummary' });

export const resyncJob = resyncJobSummary.extend({ tables: z.array(resyncJobTable) }).meta({ id: 'ResyncJob' });

export type ResyncJobSummary = z.output<typeof resyncJobSummary>;
export type ResyncJob = z.output<typeof resyncJob>;
export type ResyncJobTable = z.output<typeof resyncJobTable>;

export const resyncListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('At most this many jobs, newest first'),
  state: jobState.optional().describe('Only jobs in this state'),
});

export const resyncListResponse = z.object({ jobs: z.array(resyncJobSummary) });

export const jobParams = jobIdParams('POST /v1/resync');
