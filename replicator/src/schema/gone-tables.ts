/**
 * A replicated table whose source table is gone stops saying it streams. A DROP TABLE, or an
 * ALTER TABLE … SET SCHEMA that moves it, sends nothing on the stream: the replica would go on
 * saying `streaming` over rows its source no longer has under that name. At each heartbeat the
 * source catalog is asked, by OID (names prove nothing), whether each recorded source table is
 * still where its row says; one that is not becomes `excluded` with the reason, once every
 * change committed before it went is applied (the stream is behind the catalog: the rows the
 * replica keeps are the table's last ones). A table renamed in its schema is not gone: the
 * stream renames its replica at its next change. A table created again under the name is
 * copied as a new table (../resync/selection-watch.ts).
 */
import type { ClientBase } from 'pg';
import type { StoppedTables } from '../apply/stopped-tables.js';
import { parseLsn, type Lsn } from '../lsn.js';
import { readDroppableReplica, readReplicationState } from '../state/control.js';
import {
  markRenamedAway,
  markSourceGone,
  readFormerNames,
  readTablesWithSource,
  type TableWithSource,
} from '../state/gone-tables.js';
import { forgetRecordedTable } from '../state/replica-columns.js';
import type { SchemaContext } from './schema-changes.js';

/** Where a recorded source OID is now: null when no table has it. */
export interface SourceWhereabouts {
  schema: string;
  name: string;
}

/** Why the row no longer replicates its source table, or null when the table is where the row says (renamed included). */
export function goneReason(
  recorded: TableWithSource,
  now: SourceWhereabouts | null,
  replicatedSchemas: readonly string[],
): string | null {
  if (now?.schema === recorded.schema) return null;
  const kept = 'the replica keeps the rows it had then and is no longer updated';
  if (now === null)
    return `The source table was dropped (OID ${recorded.oid}): ${kept}. Drop the replica table when you no longer need it; a table created again under this name is copied as a new table.`;
  const moved = `The source table moved to ${now.schema}.${now.name} (ALTER TABLE … SET SCHEMA)`;
  if (replicatedSchemas.includes(now.schema))
    return `${moved}: ${kept} until it follows the table there (when elt replicates ${now.schema}.${now.name}: ELT_INCLUDE_TABLES, ELT_EXCLUDE_TABLES).`;
  return `${moved}, outside the replicated schemas (ELT_SOURCE_SCHEMAS): ${kept}. Add ${now.schema} to ELT_SOURCE_SCHEMAS to replicate it there.`;
}

/** The tables found gone and the source WAL position by which every change made before they went was written. */
interface Pending {
  table: TableWithSource;
  reason: string;
  by: Lsn;
}

export class GoneTables {
  /** By JSON.stringify([schema, table, oid]). */
  readonly #pending = new Map<string, Pending>();

  constructor(private readonly stopped: StoppedTables) {}

  /** One look at the source catalog, and the rows whose changes are all applied marked. */
  async watch(ctx: SchemaContext & { control: ClientBase }): Promise<void> {
    const recorded = await readTablesWithSource(ctx.control, ctx.slot);
    if (recorded.length === 0 && this.#pending.size === 0) return;
    const whereabouts = await readWhereabouts(ctx.source, recorded);
    // Read after the catalog, and only when a table is newly found gone: it went by this position.
    let by: Lsn | null = null;
    for (const table of recorded) {
      const reason = goneReason(table, whereabouts.get(table.oid) ?? null, ctx.sourceSchemas);
      const key = JSON.stringify([table.schema, table.table, table.oid]);
      if (reason === null) this.#pending.delete(key);
      else if (!this.#pending.has(key)) {
        by ??= await currentInsertLsn(ctx.source);
        this.#pending.set(key, { table, reason, by });
      }
    }
    if (this.#pending.size === 0) return;
    const applied = (await readReplicationState(ctx.control, ctx.slot))?.appliedLsn ?? null;
    for (const [key, pending] of this.#pending) {
      if (applied === null || applied < pending.by) continue;
      this.#pending.delete(key);
      const { schema, table } = pending.table;
      if (!(await markSourceGone(ctx.control, ctx.slot, pending.table, pending.reason))) continue;
      this.stopped.stop(schema, table, pending.reason);
      ctx.lc.warn(
        { table: `${schema}.${table}`, oid: pending.table.oid, reason: pending.reason },
        'the source table is gone',
      );
    }
  }
}

/** Where each recorded OID is in the source catalog now (tables and partitioned tables only). */
async function readWhereabouts(
  source: ClientBase,
  recorded: TableWithSource[],
): Promise<Map<number, SourceWhereabouts>> {
  if (recorded.length === 0) return new Map();
  const { rows } = await source.query<SourceWhereabouts & { oid: number }>(
    `SELECT c.oid::int8::float8 AS oid, n.nspname AS schema, c.relname AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = ANY($1::oid[]) AND c.relkind IN ('r', 'p')`,
    [recorded.map((t) => t.oid)],
  );
  return new Map(rows.map((r) => [r.oid, { schema: r.schema, name: r.name }]));
}

async function currentInsertLsn(source: ClientBase): Promise<Lsn> {
  const { rows } = await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return parseLsn(rows[0]!.lsn);
}

/**
 * How long dropping a replica waits for the sessions that read it (a long report, a transaction left
 * open) before it is tried again at the next heartbeat. The drop runs on the heartbeat's connection,
 * which the stream waits on too; and while it waits for its lock, every new reader of the table
 * waits behind it.
 */
const DROP_LOCK_TIMEOUT = '500ms';

/** Drop a replica table; false when a session holds it (tried again later). */
async function dropReplicaTable(control: ClientBase, target: string): Promise<boolean> {
  try {
    // One query string: one implicit transaction, so SET LOCAL applies to the drop alone.
    await control.query(`SET LOCAL lock_timeout = '${DROP_LOCK_TIMEOUT}'; DROP TABLE ${target}`);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') return false;
    throw error;
  }
}

/**
 * A table was created again under the name of one that is gone: the replica of the gone one is
 * dropped before the new one is copied (its columns may differ). A view on it keeps it: the copy
 * then replaces its rows if the columns allow, else the table stops in error saying why. False
 * when a session reading it holds it: the copy waits for the next heartbeat.
 */
export async function dropGoneReplica(
  ctx: SchemaContext & { control: ClientBase },
  schema: string,
  table: string,
): Promise<boolean> {
  const target = await readDroppableReplica(ctx.control, ctx.slot, schema, table);
  if (!target) return true;
  try {
    if (!(await dropReplicaTable(ctx.control, target))) {
      ctx.lc.info(
        { table: `${schema}.${table}`, replica: target },
        'the replica of a source table that is gone is in use; it is dropped, and the new table copied, at a later heartbeat',
      );
      return false;
    }
    ctx.lc.info({ table: `${schema}.${table}`, replica: target }, 'dropped the replica of a source table that is gone');
  } catch (error) {
    ctx.lc.warn(
      { table: `${schema}.${table}`, replica: target, err: error },
      'could not drop the replica of a source table that is gone (a view may depend on it); the new table is copied into it',
    );
  }
  return true;
}

/**
 * A table about to be copied under its name (one created again where a table is gone, or newly
 * selected) may be a table elt replicates under a former name: renamed on the source with no
 * change since, so the stream has not followed the rename (and never will: its changes under the
 * new name wait for the copy). The online migration's swap does this: DROP TABLE t; ALTER TABLE
 * t_new RENAME TO t. The row under the former name would go on saying `streaming` over a replica
 * no longer updated, and its indexes' names would refuse the copy: the copy replaces it, so its
 * replica is dropped and its row forgotten. A view on that replica keeps it: the row then says
 * `excluded` and why. False when a session reading it holds it: the copy waits for the next heartbeat.
 */
export async function dropFormerNames(
  ctx: SchemaContext & { control: ClientBase },
  table: { schema: string; name: string; oid: number },
): Promise<boolean> {
  for (const former of await readFormerNames(ctx.control, ctx.slot, table.schema, table.name, table.oid)) {
    const label = `${table.schema}.${former.table}`;
    try {
      if (former.target && !(await dropReplicaTable(ctx.control, former.target))) {
        ctx.lc.info(
          { table: label, renamedTo: `${table.schema}.${table.name}`, replica: former.target },
          'the replica under the former name of a table to copy is in use; the copy waits for a later heartbeat',
        );
        return false;
      }
      await forgetRecordedTable(ctx.control, ctx.slot, table.schema, former.table);
      ctx.lc.info(
        { table: label, renamedTo: `${table.schema}.${table.name}`, replica: former.target },
        'a source table renamed to a name that is copied: the replica under its former name was dropped',
      );
    } catch (error) {
      const reason = `The source table was renamed to ${table.schema}.${table.name}, which is copied as a new table: the replica keeps the rows it had then and is no longer updated (a view on it kept it). Drop the replica table when you no longer need it.`;
      await markRenamedAway(ctx.control, ctx.slot, table.schema, former.table, reason);
      ctx.lc.warn({ table: label, replica: former.target, err: error }, 'the source table was renamed away');
    }
  }
  return true;
}
