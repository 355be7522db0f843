/**
 * A human-resources database in its own schema (fixtures/hr.sql), a sample database of another
 * shape than the demo, replicated with ELT_SOURCE_SCHEMAS=hr and a publication and slot of its
 * own: a department tree and a manager hierarchy (self-referencing keys), an enum, a domain,
 * salary history keyed by a daterange, jsonb and arrays, a generated column, leave requests in
 * an INHERITS hierarchy, timesheets partitioned by quarter, mixed-case names, comments. HR's
 * day (fixtures/hr-writes.sql: hires, promotions that change a key, transfers, leavers, a bulk
 * raise, erasures, leave, timesheets) runs over and over while the replicator snapshots,
 * streams and is killed twice; then every table equals its replica, or is excluded with its
 * reason, and nothing outside hr is replicated.
 */
import { describe, expect, it } from 'vitest';
import { query } from '../../harness/replication.js';
import {
  expectTablesEqual,
  replicateThroughKills,
  sampleDatabaseSuite,
  settledTableStates,
  type NotReplicated,
} from './sample-database.js';

const SLOT = 'hr_slot';

/** Every other table: streaming, and equal to its source. */
const REPLICATED = [
  'Departments',
  'Locations',
  'employees',
  'jobs',
  'leave_requests',
  'parental_leave',
  'salaries',
  'sick_leave',
  'timesheets',
];

/** Tables that must not be replicated, with words their reason must contain. */
const NOT_REPLICATED: Record<string, NotReplicated> = {
  audit_trail: { state: 'excluded', reason: 'no primary key or replica identity' },
};

describe('an HR schema', () => {
  const pair = sampleDatabaseSuite('hr');

  it('replicates through HR days and two kill -9s: every table equal or excluded with its reason', async () => {
    const env = { ELT_SOURCE_SCHEMAS: 'hr', ELT_PUBLICATION: 'hr_pub', ELT_SLOT: SLOT };
    const writes = await replicateThroughKills(pair, 'hr-writes.sql', env, SLOT);
    expect(await settledTableStates(pair, 'hr', NOT_REPLICATED, SLOT)).toEqual(
      REPLICATED.map((table) => `${table}: streaming`),
    );

    const tables = await expectTablesEqual(pair, 'hr', Object.keys(NOT_REPLICATED));
    expect(tables.map((t) => t.table)).toEqual(REPLICATED);
    expect(writes.rounds).toBeGreaterThanOrEqual(6);

    // Only hr is replicated: the application's table in public is neither listed nor copied.
    const [outside] = await query<{ listed: number; copied: string | null }>(
      pair.destinationUrl,
      "SELECT (SELECT count(*)::int FROM elt.tables WHERE source_schema <> 'hr') AS listed, to_regclass('staging.app_settings')::text AS copied",
    );
    expect(outside).toEqual({ listed: 0, copied: null });
  });
});
