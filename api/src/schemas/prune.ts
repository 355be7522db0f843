/** POST/GET /v1/prune and GET /v1/prune/{id}: passes that remove old soft-deleted rows. */
import { z } from 'zod';
import { parseDuration } from '../../../replicator/src/prune/duration.js';
import { jobIdParams, timestamp } from './common.js';

export const pruneStates = ['queued', 'running', 'succeeded', 'failed'] as const;
export const pruneState = z.enum(pruneStates);

export const pruneRequest = z
  .strictObject({
    older_than: z
      .string()
      .refine((value) => parseDuration(value) !== null, 'must be a duration like 30d, 12h, 90m or 45s')
      .describe(
        'Remove rows marked deleted longer ago than this (by their _synced_at): 30d, 12h, 90m, 45s; 0s removes every deleted row',
      ),
    requested_by: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('Who asks (shown in the job); default: api and the client address'),
  })
  .meta({ id: 'PruneRequest' });

export const pruneJob = z
  .object({
    id: z.number().int(),
    slot: z.string(),
    state: pruneState,
    older_than: z.string().describe('As requested, e.g. 7d'),
    older_than_seconds: z.number().int(),
    cutoff: timestamp
      .nullable()
      .describe('Rows marked deleted before this instant are removed (set when the pass starts)'),
    requested_at: timestamp,
    requested_by: z
      .string()
      .nullable()
      .describe('Who asked; ELT_SOFT_DELETE_RETENTION for the passes the replicator starts itself'),
    started_at: timestamp.nullable(),
    finished_at: timestamp.nullable(),
    rows_pruned: z.number(),
    tables: z.record(z.string(), z.number()).describe('Rows removed per table (schema.table of the source)'),
    error: z.string().nullable(),
  })
  .meta({ id: 'PruneJob' });

export type PruneJob = z.output<typeof pruneJob>;

export const pruneListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('At most this many jobs, newest first'),
  state: pruneState.optional().describe('Only jobs in this state'),
});

export const pruneListResponse = z.object({ jobs: z.array(pruneJob) });

export const pruneParams = jobIdParams('POST /v1/prune');
