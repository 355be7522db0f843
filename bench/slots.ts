/** The source side of a consumer: its slot's activity and the source's WAL position. */
import { query } from '../harness/replication.js';
import { poll } from './wait.js';

/** Wait until the slot is (in)active; resolves with Date.now() when it was seen so. */
export async function waitSlotActive(
  sourceUrl: string,
  slot: string,
  active: boolean,
  timeoutMs = 60_000,
): Promise<number> {
  await poll(
    `slot ${slot} to become ${active ? 'active' : 'inactive'}`,
    async () => {
      const rows = await query<{ active: boolean }>(
        sourceUrl,
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      return rows[0]?.active === active;
    },
    timeoutMs,
    25,
  );
  return Date.now();
}

export async function dropSlotIfExists(sourceUrl: string, slot: string): Promise<void> {
  await query(
    sourceUrl,
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
    [slot],
  );
}
