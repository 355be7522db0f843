/**
 * What a Relation message means for the replica's columns, by attnum (pure).
 *
 * pgoutput's Relation message lists the live, non-generated columns in attnum order, with
 * names and types but no attnums. The source catalog, read when the message is handled, has
 * the attnums; when its live non-generated columns (names and types, in order) are the
 * message's, they are the message's attnums. Compared with the attnums the replica holds,
 * they tell renames, drops and adds apart, whatever the names do.
 *
 * The catalog may have moved on since the message was written. Columns added since come
 * after the message's (attnums only grow): the message matches the catalog's first columns,
 * and the rest are `later`. Any other move shows as a mismatch (not proven: resync), except
 * when a column was dropped and one of the same name and type added at the same place:
 * then the message may be older than the drop. Such a plan is marked ambiguous (followed,
 * then resynced).
 */
import type { CatalogColumn, CatalogTable } from './source-catalog.js';
import type { RecordedColumn } from '../state/replica-columns.js';

export interface MessageColumn {
  name: string;
  typeOid: number;
  typeMod: number;
}

export type ColumnPlan =
  | { proven: false; reason: string }
  | {
      proven: true;
      /** The attnum of each message column, in message order. */
      attnums: number[];
      /** Replica columns whose source column is gone. */
      drops: RecordedColumn[];
      /** Source columns renamed since recorded (`from`: the replica's name now). */
      renames: { attnum: number; from: string; to: string }[];
      /** Source columns the replica does not hold yet. */
      adds: { attnum: number; name: string }[];
      /** Why the values cannot be trusted after following (resync), or null. */
      ambiguous: string | null;
      /** Catalog columns added after the message was written (the stream has not reached them). */
      later: CatalogColumn[];
    };

/** Match the message with the catalog, then with what the replica holds. */
export function planColumns(
  message: MessageColumn[],
  catalog: CatalogTable,
  recorded: RecordedColumn[],
  recordedNatts: number | null,
): ColumnPlan {
  const all = catalog.columns.filter((c) => !c.generated);
  const live = all.slice(0, message.length);
  const matches =
    live.length === message.length &&
    live.every(
      (c, i) => c.name === message[i]!.name && c.typeOid === message[i]!.typeOid && c.typeMod === message[i]!.typeMod,
    );
  if (!matches) return { proven: false, reason: 'the source catalog has changed since this change was written' };
  const later = all.slice(message.length);
  const attnums = live.map((c) => c.attnum);
  const byAttnum = new Map(recorded.map((c) => [c.attnum, c]));
  const drops = recorded.filter((c) => !attnums.includes(c.attnum));
  const renames: { attnum: number; from: string; to: string }[] = [];
  const adds: { attnum: number; name: string }[] = [];
  for (const column of live) {
    const held = byAttnum.get(column.attnum);
    if (!held) adds.push({ attnum: column.attnum, name: column.name });
    else if (held.name !== column.name) renames.push({ attnum: column.attnum, from: held.name, to: column.name });
  }
  return {
    proven: true,
    attnums,
    drops,
    renames,
    adds,
    ambiguous: ambiguity(catalog, drops, adds, recordedNatts),
    later,
  };
}

/**
 * A column added under the name of one dropped since recorded, or added after columns that
 * came and went unseen: the message may predate the drop, so its values may be the old
 * column's. Only a copy can tell.
 */
function ambiguity(
  catalog: CatalogTable,
  drops: RecordedColumn[],
  adds: { name: string }[],
  recordedNatts: number | null,
): string | null {
  const readded = adds.find((a) => drops.some((d) => d.name === a.name));
  if (readded) return `column ${readded.name} was dropped and added again`;
  const unseen = catalog.dropped.filter((attnum) => recordedNatts === null || attnum > recordedNatts);
  if (adds.length > 0 && unseen.length > 0)
    return 'columns were added and dropped since the replica last followed the table';
  return null;
}
