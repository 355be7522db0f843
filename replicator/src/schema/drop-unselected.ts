/**
 * ELT_DROP_UNSELECTED=true: the replica of a table the selection no longer takes is dropped at
 * start (by default it is kept as it was, no longer updated). Only a replica elt made: a table
 * it replicated, or kept when it was left out before; never one whose row says it was never
 * replicated (excluded for another reason). A view on the replica keeps it: the drop is refused,
 * said in the log, and the replica stays.
 */
import type pg from 'pg';
import type { Logger } from '../log.js';
import { readDroppableReplica } from '../state/control.js';
import { clearRecordedIdentity } from '../state/replica-columns.js';

export async function dropUnselectedReplicas(
  lc: Logger,
  control: pg.Client,
  slot: string,
  tables: { schema: string; name: string }[],
): Promise<void> {
  for (const table of tables) {
    const target = await readDroppableReplica(control, slot, table.schema, table.name);
    if (!target) continue;
    try {
      await control.query(`DROP TABLE ${target}`);
      await clearRecordedIdentity(control, slot, table.schema, table.name);
      lc.info(
        { table: `${table.schema}.${table.name}`, replica: target },
        'dropped the replica of an unselected table',
      );
    } catch (error) {
      lc.warn(
        { table: `${table.schema}.${table.name}`, replica: target, err: error },
        'could not drop the replica of an unselected table (a view may depend on it); it is kept',
      );
    }
  }
}
