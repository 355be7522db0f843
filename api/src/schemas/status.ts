/** GET /health, GET /ready and GET /v1/status. */
import { z } from 'zod';
import { lsn, tableState, timestamp } from './common.js';

export const healthResponse = z.object({ status: z.literal('ok') });

export const readyResponse = z.object({
  status: z.literal('ready'),
  slot: z.string(),
  phase: z.string(),
  heartbeat_age_seconds: z.number().describe("Seconds since the replicator's last heartbeat (destination clock)"),
});

export const statusResponse = z
  .object({
    slot: z.string(),
    phase: z.enum(['snapshotting', 'streaming']),
    status: z.string().describe('What the replicator last reported: starting, snapshotting, streaming, error, …'),
    host: z.string().nullable(),
    pid: z.number().int().nullable(),
    started_at: timestamp.nullable(),
    heartbeat_at: timestamp.nullable(),
    heartbeat_age_seconds: z.number().nullable().describe('Seconds since the last heartbeat, to the millisecond'),
    heartbeat_fresh: z.boolean().describe('The heartbeat is younger than ELT_API_HEARTBEAT_MAX_AGE_S'),
    applied_lsn: lsn.nullable().describe('End LSN of the last source transaction committed in the destination'),
    applied_commit_at: timestamp.nullable().describe('Source commit time of that transaction'),
    applied_at: timestamp.nullable(),
    received_lsn: lsn.nullable(),
    confirmed_lsn: lsn.nullable().describe("The slot's confirmed flush LSN on the source"),
    source_wal_lsn: lsn
      .nullable()
      .describe(
        "The source's WAL position at the last heartbeat, or applied_lsn when that is further (the source has reached it)",
      ),
    lag_bytes: z
      .number()
      .nullable()
      .describe(
        'WAL between the source position and the confirmed LSN, both read at the last heartbeat; never negative',
      ),
    lag_seconds: z
      .number()
      .nullable()
      .describe(
        'Age of the oldest source commit not yet applied, at the last heartbeat, to the millisecond; 0 when caught up',
      ),
    retained_wal_bytes: z.number().nullable().describe('WAL the source keeps for this slot'),
    slot_active: z.boolean().nullable(),
    wal_status: z.string().nullable().describe('reserved, extended, unreserved or lost'),
    last_error: z.string().nullable(),
    last_error_at: timestamp.nullable(),
    tables: z.object({
      total: z.number().int(),
      by_state: z.record(tableState, z.number().int()),
    }),
  })
  .meta({ id: 'Status' });

export type StatusResponse = z.output<typeof statusResponse>;
