/**
 * Metrics the alerts and the dashboard read that have no series in the live test, and why.
 * The live test (test/prometheus-scrape.pg.test.ts) accepts "valid query, no data" only
 * for queries reading one of these, and fails on any other missing metric, so a typo
 * cannot hide here. It also keeps both lists honest: a proposed metric must not be
 * exported yet, a situational one must be declared by the replicator.
 */
export interface ProposedMetric {
  type: 'gauge' | 'counter';
  labels: string[];
  help: string;
  /** Where its value would come from. */
  source: string;
}

/** Not exported by the replicator yet: proposed name, labels and help. Remove an entry once it is. */
export const PROPOSED_METRICS: Record<string, ProposedMetric> = {};

/** Exported, but with series only after an event the live test does not cause. */
export const SITUATIONAL_METRICS: Record<string, string> = {
  elt_resync_rows: 'only once a resync has run',
  elt_resync_rows_estimated: 'only once a resync has run',
  elt_verify_rows_checked_total: 'only once the background verifier has run (ELT_VERIFY_INTERVAL, off by default)',
  elt_verify_rows_differing: 'only once the background verifier has run (ELT_VERIFY_INTERVAL, off by default)',
};
