/**
 * One verification run: the tables of a slot (or those asked for), one after the other, each
 * result stored in elt.verify_results and counted in the metrics; with repair, a table with
 * differing rows is queued for an online resync of just the differing keys (of the whole
 * table when it has no key, or when more rows differ than a result lists).
 */
import type pg from 'pg';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { connectDestination, connectSource } from '../source/source-db.js';
import { activeJobOf, enqueueResync } from '../state/resync-queue.js';
import { readReplicatedTables } from '../state/control.js';
import type { RepairKeys } from '../state/resync-jobs.js';
import { checkReplicatorStreaming, ReplicaNotApplying } from './point.js';
import { RateLimiter } from './rate-limit.js';
import { storeResult } from '../state/verify-results.js';
import { verifyTable, type TableResult } from './verify-table.js';

export interface VerifyOptions {
  lc: Logger;
  sourceUrl: string;
  destinationUrl: string;
  slot: string;
  /** schema.table names; all of the slot's replicated tables when absent. */
  tables?: string[] | undefined;
  maxRowsPerS: number;
  repair: boolean;
  metrics?: Metrics | undefined;
  signal?: AbortSignal | undefined;
}

export interface VerifiedTable extends TableResult {
  /** The resync job queued to repair the table, when one was. */
  repairJobId: number | null;
}

export interface VerifyReport {
  slot: string;
  tables: VerifiedTable[];
}

export async function runVerify(options: VerifyOptions): Promise<VerifyReport> {
  const { lc, slot } = options;
  const source = await connectSource(options.sourceUrl, 'elt-verify');
  try {
    const replica = await connectDestination(options.destinationUrl, 'elt-verify');
    try {
      await checkReplicatorStreaming(replica, slot);
      const tables = await tablesToVerify(replica, slot, options.tables);
      const limiter = new RateLimiter(options.maxRowsPerS);
      const ctx = { lc, sourceUrl: options.sourceUrl, slot, source, replica, signal: options.signal };
      const report: VerifyReport = { slot, tables: [] };
      for (const { schema, table } of tables) {
        if (options.signal?.aborted) break;
        const name = `${schema}.${table}`;
        const result = await verifyTable(ctx, limiter, schema, table, (rows) =>
          options.metrics?.verifyRowsChecked.inc({ table: name }, rows),
        ).catch((error: unknown): TableResult => {
          if (error instanceof ReplicaNotApplying || options.signal?.aborted) throw error;
          const now = new Date();
          const reason = error instanceof Error ? error.message : String(error);
          return {
            schema,
            table,
            outcome: 'failed',
            rowsChecked: 0,
            rowsDiffering: 0,
            differences: [],
            startedAt: now,
            finishedAt: now,
            reason,
          };
        });
        const repairJobId =
          options.repair && result.outcome === 'differs' ? await queueRepair(replica, slot, result) : null;
        await storeResult(replica, slot, result, repairJobId);
        if (result.outcome === 'equal' || result.outcome === 'differs')
          options.metrics?.verifyRowsDiffering.set({ table: name }, result.rowsDiffering);
        const log = {
          table: name,
          outcome: result.outcome,
          rowsChecked: result.rowsChecked,
          rowsDiffering: result.rowsDiffering,
          reason: result.reason,
          repairJobId,
        };
        if (result.outcome === 'equal' || result.outcome === 'skipped') lc.info(log, 'verify: table checked');
        else
          lc.warn(
            log,
            result.outcome === 'differs'
              ? 'verify: the replica differs from the source'
              : 'verify: the table could not be verified',
          );
        report.tables.push({ ...result, repairJobId });
      }
      return report;
    } finally {
      // Closing: an error here changes nothing the report says.
      await replica.end().catch(() => undefined);
    }
  } finally {
    // Closing: an error here changes nothing the report says.
    await source.end().catch(() => undefined);
  }
}

/** Queue a resync of the differing keys, or find the one already queued or running for the table; its job id. */
async function queueRepair(db: pg.Client, slot: string, result: TableResult): Promise<number | null> {
  const { schema, table } = result;
  const queued = await enqueueResync(db, slot, [{ schema, table, keys: repairKeys(result) }], 'elt verify');
  return queued ?? activeJobOf(db, slot, schema, table);
}

/** The differing keys, when the result lists them all and the table has a key; else undefined (the whole table). */
export function repairKeys(result: TableResult): RepairKeys | undefined {
  const first = result.differences[0];
  if (!first || 'row_md5' in first.key || result.differences.length < result.rowsDiffering) return undefined;
  const columns = Object.keys(first.key);
  return { columns, values: result.differences.map((d) => columns.map((c) => d.key[c]!)) };
}

/** The slot's replicated tables, or those named (each must be one of them). */
async function tablesToVerify(
  db: pg.Client,
  slot: string,
  names: string[] | undefined,
): Promise<{ schema: string; table: string }[]> {
  const rows = await readReplicatedTables(db, slot);
  if (!names) return rows;
  const unknown = names.filter((n) => !rows.some((r) => `${r.schema}.${r.table}` === n));
  if (unknown.length > 0) {
    throw new ConfigError(
      `Not replicated by slot ${slot}: ${unknown.join(', ')}.`,
      'Name tables as schema.table, as elt status lists them.',
    );
  }
  return rows.filter((r) => names.includes(`${r.schema}.${r.table}`));
}
