/**
 * The control schema's migrations, in the order they run. Each one runs once per destination,
 * in the transaction that records its version in elt.schema_version (./../migrate.ts).
 * Released migrations never change: a change to the schema is a new file here with the next
 * version. Keep them additive where you can: a replicator of the previous version may still be
 * streaming for another slot of the same destination until it is restarted.
 */
import { sql as baseline } from './0001-baseline.js';
import { sql as resyncJobsBySlot } from './0002-resync-jobs-by-slot.js';
import { sql as pruneJobs } from './0003-prune-jobs.js';
import { sql as verifyResults } from './0004-verify-results.js';
import { sql as resyncKeys } from './0005-resync-keys.js';
import { sql as tableSelected } from './0006-table-selected.js';
import { sql as columnPolicy } from './0007-column-policy.js';
import { sql as sourceGone } from './0008-source-gone.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'baseline', sql: baseline },
  { version: 2, name: 'resync-jobs-by-slot', sql: resyncJobsBySlot },
  { version: 3, name: 'prune-jobs', sql: pruneJobs },
  { version: 4, name: 'verify-results', sql: verifyResults },
  { version: 5, name: 'resync-keys', sql: resyncKeys },
  { version: 6, name: 'table-selected', sql: tableSelected },
  { version: 7, name: 'column-policy', sql: columnPolicy },
  { version: 8, name: 'source-gone', sql: sourceGone },
];

/** The version of the control schema this build creates and understands. */
export const CURRENT_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
