/**
 * Metrics the alerts and the dashboard use that the replicator does not export yet. Until
 * it does, their queries are checked as valid (no error) rather than as returning data; the
 * live test fails on any other missing metric, so a typo cannot hide here. Remove an entry
 * once replicator/src/metrics.ts exports it.
 */
export interface ProposedMetric {
  type: 'gauge' | 'counter';
  labels: string[];
  help: string;
  /** Where its value comes from. */
  source: string;
}

export const PROPOSED_METRICS: Record<string, ProposedMetric> = {
  elt_slot_active: {
    type: 'gauge',
    labels: ['slot'],
    help: '1 when a walsender is reading the replication slot (pg_replication_slots.active), else 0.',
    source: 'inspectSlot() on every heartbeat and on every replication attempt (also while retrying).',
  },
  elt_table_state: {
    type: 'gauge',
    labels: ['table', 'state'],
    help: '1 for the state each replicated table is in (snapshotting, streaming, resyncing, error, excluded), as in elt.tables.',
    source: 'every upsertTable()/state change of elt.tables; all five states set, 0 for the others.',
  },
  elt_resync_table_state: {
    type: 'gauge',
    labels: ['table', 'state'],
    help: '1 for the state of the latest resync job of each table (queued, running, succeeded, failed, cancelled).',
    source: 'elt.resync_job_tables, read at start-up and updated on every job state change.',
  },
  elt_resync_rows: {
    type: 'gauge',
    labels: ['table'],
    help: 'Rows copied so far by the running resync of each table.',
    source: 'the resync copy, like elt_snapshot_rows (at most every 2 s and at the end).',
  },
  elt_resync_rows_estimated: {
    type: 'gauge',
    labels: ['table'],
    help: 'Estimated rows of each table being resynced.',
    source: 'pg_class.reltuples when the resync of the table starts.',
  },
};
