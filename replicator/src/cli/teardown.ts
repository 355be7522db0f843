/**
 * `elt teardown`: find out what there is to drop, say exactly that, and drop it only once
 * confirmed (--yes, or "yes" typed on a terminal).
 *
 * On the source: the replication slot and the publication; on the destination: elt's state
 * for the slot and, with --drop-target, the target schema. Things are left alone, and the
 * plan says why, when dropping them would break something else (another slot on the same
 * database may stream from the publication; another slot may replicate into the schema) or
 * when the role may not drop them. The slot goes first (it is what holds WAL on the
 * source); if it cannot be dropped, nothing else is touched.
 */
import type { ClientBase } from 'pg';
import { AlreadyRunningError, EltError, describeUrl } from '../errors.js';
import type { Config } from '../config.js';
import { dropPublication } from '../source/publication.js';
import { dropSlot, inspectSlot, slotInUse } from '../source/slot.js';
import { ident } from '../sql.js';
import { deleteSlotState, otherSlotsIn, slotStateRows } from '../state/teardown.js';

export interface TeardownPlan {
  /** host:port/database, without credentials. */
  source: string;
  destination: string;
  role: string;
  slot: { name: string; exists: boolean; retainedWalBytes: number | null; mayDrop: boolean };
  publication: { name: string; exists: boolean; owner: string | null; mayDrop: boolean; usedBy: string[] };
  state: { exists: boolean };
  /** With --drop-target: each target schema the settings name (ELT_TARGET_SCHEMA, ELT_TARGET_SCHEMA_MAP); empty without. */
  targets: TargetSchemaInfo[];
}

export interface TargetSchemaInfo {
  name: string;
  exists: boolean;
  tables: number;
  /** Other slots whose tables are in it: it is left alone. */
  usedBy: string[];
}

/** The target schemas teardown drops: those that exist and no other slot replicates into. */
function droppable(plan: TeardownPlan): TargetSchemaInfo[] {
  return plan.targets.filter((t) => t.exists && t.usedBy.length === 0);
}

export type Action = 'slot' | 'publication' | 'state' | 'target';

/** What the plan will drop, in order. */
export function actions(plan: TeardownPlan): Action[] {
  const out: Action[] = [];
  if (plan.slot.exists) out.push('slot');
  if (plan.publication.exists && plan.publication.mayDrop && plan.publication.usedBy.length === 0)
    out.push('publication');
  if (plan.state.exists) out.push('state');
  if (droppable(plan).length > 0) out.push('target');
  return out;
}

function size(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} kB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Something teardown could not drop, and how to drop it. */
interface Leftover {
  what: string;
  fix: string;
}

function publicationLeftover(plan: TeardownPlan): Leftover {
  const p = plan.publication;
  return {
    what: `publication ${p.name} on the source: role ${plan.role} may not drop it (it is owned by ${p.owner})`,
    fix: `a superuser can run on the source: DROP PUBLICATION ${ident(p.name)};`,
  };
}

/** What `elt teardown` prints before it drops anything. */
export function formatPlan(plan: TeardownPlan): string {
  const todo = new Set(actions(plan));
  const lines: string[] = [];
  const drop: string[] = [];
  const keep: string[] = [];
  const { slot, publication } = plan;
  if (todo.has('slot')) {
    drop.push(
      `  replication slot ${slot.name} on the source at ${plan.source}${slot.retainedWalBytes !== null ? ` (it holds ${size(slot.retainedWalBytes)} of WAL)` : ''}`,
    );
  } else {
    keep.push(`  replication slot ${slot.name}: there is none on the source at ${plan.source}`);
  }
  if (todo.has('publication')) drop.push(`  publication ${publication.name} on the source at ${plan.source}`);
  else if (!publication.exists) keep.push(`  publication ${publication.name}: there is none on the source`);
  else if (publication.usedBy.length > 0) {
    keep.push(
      `  publication ${publication.name} on the source: slot ${publication.usedBy.join(', ')} on that database may stream from it`,
    );
  } else keep.push(`  ${publicationLeftover(plan).what}`);
  if (todo.has('state'))
    drop.push(
      `  elt's state for slot ${slot.name} (its rows in elt.replication_state, elt.tables, the job tables and elt.verify_results) on the destination at ${plan.destination}`,
    );
  for (const target of plan.targets) {
    if (!target.exists) keep.push(`  schema ${target.name}: there is none on the destination`);
    else if (target.usedBy.length > 0)
      keep.push(`  schema ${target.name} on the destination: slot ${target.usedBy.join(', ')} replicates into it too`);
    else
      drop.push(
        `  schema ${target.name} and its ${target.tables} table${target.tables === 1 ? '' : 's'} on the destination at ${plan.destination}`,
      );
  }
  if (drop.length > 0) lines.push('elt teardown will drop:', ...drop);
  else lines.push('elt teardown has nothing to drop.');
  if (keep.length > 0) lines.push('and leave alone:', ...keep);
  return lines.join('\n') + '\n';
}

/** Look at both servers; change nothing. */
export async function planTeardown(
  source: ClientBase,
  dest: ClientBase,
  config: Config,
  dropTarget: boolean,
): Promise<TeardownPlan> {
  const slot = await inspectSlot(source, config.slot);
  if (slot?.active) throw slotInUse(config.slot, slot.activePid);
  const { rows: roles } = await source.query<{ role: string; may_drop_slot: boolean }>(
    'SELECT current_user AS role, rolreplication OR rolsuper AS may_drop_slot FROM pg_roles WHERE rolname = current_user',
  );
  const { rows: pubs } = await source.query<{ owner: string; may_drop: boolean }>(
    `SELECT pubowner::regrole::text AS owner,
       pg_has_role(current_user, pubowner, 'USAGE') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS may_drop
     FROM pg_publication WHERE pubname = $1`,
    [config.publication],
  );
  const { rows: others } = await source.query<{ slot_name: string }>(
    `SELECT slot_name FROM pg_replication_slots
     WHERE database = current_database() AND plugin = 'pgoutput' AND slot_name <> $1 ORDER BY 1`,
    [config.slot],
  );
  const { hasControl, rows: stateRows } = await slotStateRows(dest, config.slot);
  const targets: TargetSchemaInfo[] = [];
  if (dropTarget) {
    // The schemas the settings name: ELT_TARGET_SCHEMA and those of ELT_TARGET_SCHEMA_MAP, nothing else.
    const names = [...new Set([config.targetSchema, ...Object.values(config.targetSchemaMap)])];
    for (const name of names) targets.push(await targetSchemaInfo(dest, name, config.slot, hasControl));
  }
  return {
    source: describeUrl(config.sourceUrl),
    destination: describeUrl(config.destinationUrl),
    role: roles[0]?.role ?? 'unknown',
    slot: {
      name: config.slot,
      exists: slot !== null,
      retainedWalBytes: slot?.retainedWalBytes ?? null,
      mayDrop: roles[0]?.may_drop_slot ?? false,
    },
    publication: {
      name: config.publication,
      exists: pubs.length > 0,
      owner: pubs[0]?.owner ?? null,
      mayDrop: pubs[0]?.may_drop ?? false,
      usedBy: others.map((r) => r.slot_name),
    },
    state: { exists: Number(stateRows) > 0 },
    targets,
  };
}

/** Teardown dropped some things and could not drop others: exit 1, saying what is left. */
export class TeardownIncompleteError extends EltError {
  override readonly name = 'TeardownIncompleteError';
}

/**
 * Drop what the plan lists, reporting each step through `say`. A slot that cannot be
 * dropped stops everything; anything else that fails is reported as left behind.
 */
/** A target schema on the destination: whether it exists, its tables, and which other slots replicate into it. */
async function targetSchemaInfo(
  dest: ClientBase,
  name: string,
  slot: string,
  hasControl: boolean,
): Promise<TargetSchemaInfo> {
  const { rows } = await dest.query<{ exists: boolean; tables: number }>(
    `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists,
       (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')) AS tables`,
    [name],
  );
  const usedBy = hasControl ? await otherSlotsIn(dest, name, slot) : [];
  return { name, exists: rows[0]!.exists, tables: rows[0]!.tables, usedBy };
}

export async function executeTeardown(
  source: ClientBase,
  dest: ClientBase,
  plan: TeardownPlan,
  say: (line: string) => void,
): Promise<void> {
  const todo = new Set(actions(plan));
  const left: Leftover[] = [];
  if (plan.publication.exists && !plan.publication.mayDrop && plan.publication.usedBy.length === 0)
    left.push(publicationLeftover(plan));
  if (todo.has('slot')) {
    if (!plan.slot.mayDrop) {
      throw new EltError(
        `Nothing was dropped: role ${plan.role} may not drop the replication slot ${plan.slot.name} (it lacks the REPLICATION attribute).`,
        `Run elt teardown as the replication role, or ask a superuser to run on the source: SELECT pg_drop_replication_slot('${plan.slot.name}');`,
      );
    }
    try {
      await dropSlot(source, plan.slot.name);
    } catch (error) {
      if (error instanceof AlreadyRunningError) throw error;
      throw new EltError(
        `Nothing was dropped: the source refused to drop the replication slot ${plan.slot.name}: ${(error as Error).message}.`,
        'Fix the cause and run elt teardown again.',
        { cause: error },
      );
    }
    say(`dropped replication slot ${plan.slot.name}`);
  }
  if (todo.has('publication')) {
    try {
      await dropPublication(source, plan.publication.name);
      say(`dropped publication ${plan.publication.name}`);
    } catch (error) {
      left.push({
        what: `publication ${plan.publication.name} on the source: ${(error as Error).message}`,
        fix: `a superuser can run on the source: DROP PUBLICATION ${ident(plan.publication.name)};`,
      });
    }
  }
  if (todo.has('state') || todo.has('target')) {
    try {
      await dest.query('BEGIN');
      if (todo.has('state')) {
        await deleteSlotState(dest, plan.slot.name);
      }
      for (const target of droppable(plan)) await dest.query(`DROP SCHEMA ${ident(target.name)} CASCADE`);
      await dest.query('COMMIT');
      if (todo.has('state')) say(`deleted elt's state for slot ${plan.slot.name}`);
      for (const target of droppable(plan)) say(`dropped schema ${target.name}`);
    } catch (error) {
      await dest.query('ROLLBACK').catch(() => undefined); // the error below is the one to report
      const what = [
        todo.has('state') ? `elt's state for slot ${plan.slot.name}` : null,
        ...droppable(plan).map((t) => `schema ${t.name}`),
      ]
        .filter(Boolean)
        .join(' and ');
      left.push({
        what: `${what} on the destination: ${(error as Error).message}`,
        fix: 'run elt teardown again as a role that may change them',
      });
    }
  }
  if (left.length > 0) {
    const sentence = (items: string[]) => items.join('; and ');
    throw new TeardownIncompleteError(
      `Teardown dropped the rest but left behind ${sentence(left.map((l) => l.what))}.`,
      `To finish: ${sentence(left.map((l) => l.fix))}`,
    );
  }
}
