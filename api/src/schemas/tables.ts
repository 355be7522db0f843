/** GET /v1/tables and GET /v1/tables/{table}. */
import { z } from 'zod';
import { lsn, tableName, tableState, timestamp } from './common.js';

export const tableResponse = z
  .object({
    table: z.string().describe('schema.table in the source'),
    source_schema: z.string(),
    source_table: z.string(),
    target: z.string().describe('schema.table in the destination'),
    state: tableState,
    rows_estimated: z.number().nullable(),
    rows_copied: z
      .number()
      .describe('Rows copied by the last copy of the whole table: the snapshot, or a resync since'),
    snapshot_started_at: timestamp.nullable(),
    snapshot_done_at: timestamp.nullable(),
    inserts: z.number(),
    updates: z.number(),
    deletes: z.number(),
    truncates: z.number(),
    last_change_lsn: lsn.nullable().describe('Commit LSN of the last change applied to this table'),
    last_change_at: timestamp.nullable(),
    last_error: z.string().nullable(),
    last_error_at: timestamp.nullable(),
    active_resync_job_id: z
      .number()
      .int()
      .nullable()
      .describe('The queued or running resync job of this table, if any'),
    selected: z
      .boolean()
      .describe(
        'False when ELT_INCLUDE_TABLES / ELT_EXCLUDE_TABLES leave the table out (state excluded, the pattern in last_error)',
      ),
    excluded_columns: z
      .array(z.string())
      .describe('Source columns ELT_EXCLUDE_COLUMNS leaves out of the replica (never copied), in column order'),
    masked_columns: z
      .array(
        z.object({
          column: z.string(),
          method: z.string().describe('hash (HMAC-SHA256, hex), null, or redact:N (the first N characters kept)'),
        }),
      )
      .describe('Source columns ELT_MASK_COLUMNS masks before they reach the destination, in column order'),
  })
  .meta({ id: 'Table' });

export type TableResponse = z.output<typeof tableResponse>;

export const tablesQuery = z.object({
  state: tableState.optional().describe('Only tables in this state'),
});

export const tablesResponse = z.object({
  slot: z.string(),
  tables: z.array(tableResponse),
});

export const tableParams = z.object({ table: tableName });
