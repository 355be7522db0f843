/**
 * What a copy taken at an exported snapshot holds, by identity: each copied table's relation
 * OID and the attnums of its copied columns, read from the source catalog as that snapshot
 * sees it (the catalog may have moved on since). The initial snapshot and a resync record it
 * (state/replica-columns.ts) when their copy becomes the replica.
 */
import { literal } from '../sql.js';
import { connectSource } from '../source/source-db.js';
import type { TableIdentity } from '../state/replica-columns.js';
import { copiedIdentity, readCatalogTableByName } from './source-catalog.js';

export interface CopiedTable {
  schema: string;
  table: string;
  /** The columns the copy holds; default: every live, non-generated column. */
  columns?: string[];
}

export async function readIdentitiesAtSnapshot(
  sourceUrl: string,
  snapshotName: string,
  tables: CopiedTable[],
): Promise<TableIdentity[]> {
  const source = await connectSource(sourceUrl, 'elt-snapshot-identity');
  try {
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await source.query(`SET TRANSACTION SNAPSHOT ${literal(snapshotName)}`);
    const identities: TableIdentity[] = [];
    for (const t of tables) {
      const catalog = await readCatalogTableByName(source, t.schema, t.table);
      if (!catalog) continue;
      identities.push(copiedIdentity(t.schema, t.table, catalog, t.columns ?? catalog.columns.map((c) => c.name)));
    }
    await source.query('COMMIT');
    return identities;
  } finally {
    await source.end().catch(() => undefined); // closing: nothing is lost if it fails
  }
}
