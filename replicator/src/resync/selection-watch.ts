/**
 * At start and at each heartbeat, a table the selection takes that elt does not replicate yet
 * is copied online while the other tables stream: a new source table that matches
 * ELT_INCLUDE_TABLES, one a changed selection takes again at a restart, or one created under
 * the name of a table that is gone from the source (../schema/gone-tables.ts); a table moved
 * here from another replicated schema is followed instead (its replica moves, nothing is
 * copied), once every change made before the move is applied. On the publication
 * elt manages it is added first (ALTER PUBLICATION … ADD TABLE); its changes wait (a stopped
 * table, ../apply/stopped-tables.ts) until a resync's copy is swapped in. A new table the
 * selection leaves out is recorded `excluded` with the reason.
 *
 * What it never touches, so that nothing is copied twice: a slot that is not streaming (an
 * interrupted snapshot is resumed first, ../snapshot/resume-snapshot.ts), a table with an
 * elt.tables row that the selection took (whatever its state), a table with a queued or
 * running resync, and, without a selection, any table that has no row (the stream finds a new
 * table on its first change, as before selections existed).
 */
import type { ClientBase } from 'pg';
import type { StoppedTables } from '../apply/stopped-tables.js';
import { dropFormerNames, dropGoneReplica } from '../schema/gone-tables.js';
import type { SchemaContext } from '../schema/schema-changes.js';
import { moveTable } from '../schema/table-identity.js';
import { findRecordedOidElsewhere } from '../state/replica-columns.js';
import { EltError } from '../errors.js';
import { addToPublication, readSourceTables, type SourceTable } from '../source/selection-publication.js';
import type { TableSelection } from '../source/selection.js';
import { readReplicationState, readSelectionStates, upsertTable, type SelectionState } from '../state/control.js';
import { queueSelectedTable } from '../state/resync-queue.js';

export interface SelectionWatch {
  selection: TableSelection;
  publication: string;
  /** The publication carries elt's comment: elt may add tables to it. */
  managed: boolean;
  stopped: StoppedTables;
}

export async function watchSelection(
  ctx: SchemaContext & { control: ClientBase },
  watch: SelectionWatch,
): Promise<void> {
  const state = await readReplicationState(ctx.control, ctx.slot);
  if (state?.phase !== 'streaming') return;
  const known = await readSelectionStates(ctx.control, ctx.slot);
  // No selection now and none before, no table gone: nothing to do, exactly as before selections existed.
  if (!watch.selection.isSet && ![...known.values()].some((k) => (k.row && !k.selected) || k.gone)) return;
  for (const table of await readSourceTables(ctx.source, ctx.sourceSchemas, watch.publication)) {
    const seen = known.get(JSON.stringify([table.schema, table.name]));
    const decision = watch.selection.decide(table.schema, table.name);
    if (!decision.selected) {
      if (!seen) await excludeNewTable(ctx, watch, table, decision.reason);
      continue;
    }
    // Moved here from another replicated schema: followed, never copied.
    if (!seen?.row && table.replicable && table.published && (await followMovedTable(ctx, watch, table))) continue;
    if (!needsCopy(watch, table, seen)) continue;
    // The replica of the gone table first; one a reader holds is dropped, and the table copied, at a later heartbeat.
    if (seen?.gone && !(await dropGoneReplica(ctx, table.schema, table.name))) continue;
    await startCopy(ctx, watch, table);
  }
}

function needsCopy(watch: SelectionWatch, table: SourceTable, known: SelectionState | undefined): boolean {
  // Copied, being copied, stopped or excluded for another reason: never copied again from here.
  // A row whose source table is gone does not hold this table: a new one under its name.
  if (known?.active || (known?.row && known.selected && !known.gone)) return false;
  // Not replicable, or a user's publication that does not send it: the reason is recorded at start.
  if (!table.replicable || (!table.published && !watch.managed)) return false;
  // A new table: without a selection, or on a user's publication, the stream finds it as before.
  if (!known?.row && (!watch.selection.isSet || (table.published && !watch.managed))) return false;
  return true;
}

/**
 * A table moved here from another replicated schema (ALTER TABLE … SET SCHEMA) is followed, not
 * copied: once every change made before the move is applied (the gone watch marked its row), its
 * replica and row move here; until then nothing is done (the stream may follow it first, at its
 * next change). True when the table is such a table.
 */
async function followMovedTable(
  ctx: SchemaContext & { control: ClientBase },
  watch: SelectionWatch,
  table: SourceTable,
): Promise<boolean> {
  const moved = await findRecordedOidElsewhere(ctx.control, ctx.slot, table.schema, table.oid);
  if (moved === null) return false;
  if (moved.gone)
    await moveTable({ ...ctx, dest: ctx.control, stopped: watch.stopped }, moved, {
      schema: table.schema,
      name: table.name,
      relationId: table.oid,
    });
  return true;
}

/** Publish the table if elt must, then record it waiting for its copy and queue the copy. */
async function startCopy(
  ctx: SchemaContext & { control: ClientBase },
  watch: SelectionWatch,
  table: SourceTable,
): Promise<void> {
  // Before it is published: its first change must already find it waiting for its copy.
  watch.stopped.stop(table.schema, table.name, 'newly selected: its changes wait for its copy');
  if (!table.published) {
    try {
      await addToPublication(ctx.source, watch.publication, table.schema, table.name);
    } catch (error) {
      if (!(error instanceof EltError)) throw error;
      // Refused (the role does not own the table): a deterministic failure of this table alone. It stays
      // stopped, in error with what to do, and is not tried again at every heartbeat.
      await refuseTable(ctx, table, `${error.message} ${error.hint} Then resync the table.`);
      return;
    }
  }
  // The table may be one replicated under a former name (renamed, no change since): the copy replaces it.
  // A reader holding that replica: tried again at the next heartbeat (the table's changes wait meanwhile).
  if (!(await dropFormerNames(ctx, table))) return;
  const job = await queueSelectedTable(
    ctx.control,
    ctx.slot,
    { schema: table.schema, table: table.name },
    ctx.targets.of(table.schema),
  );
  ctx.lc.info(
    { table: `${table.schema}.${table.name}`, job, addedToPublication: !table.published },
    'a newly selected table is copied online',
  );
}

async function refuseTable(
  ctx: SchemaContext & { control: ClientBase },
  table: SourceTable,
  reason: string,
): Promise<void> {
  ctx.lc.warn({ table: `${table.schema}.${table.name}`, reason }, 'a newly selected table cannot be published');
  await upsertTable(ctx.control, ctx.slot, {
    sourceSchema: table.schema,
    sourceTable: table.name,
    targetSchema: ctx.targets.of(table.schema),
    targetTable: table.name,
    state: 'error',
    lastError: reason,
    selected: true,
  });
}

async function excludeNewTable(
  ctx: SchemaContext & { control: ClientBase },
  watch: SelectionWatch,
  table: SourceTable,
  reason: string,
): Promise<void> {
  watch.stopped.stop(table.schema, table.name, reason);
  await upsertTable(ctx.control, ctx.slot, {
    sourceSchema: table.schema,
    sourceTable: table.name,
    targetSchema: ctx.targets.of(table.schema),
    targetTable: table.name,
    state: 'excluded',
    lastError: reason,
    selected: false,
  });
}
