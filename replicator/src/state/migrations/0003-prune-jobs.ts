/**
 * Migration 3: prune jobs. Passes that remove old soft-deleted rows: queued by the API
 * (POST /v1/prune) or by the replicator itself (ELT_SOFT_DELETE_RETENTION); the replicator
 * runs them on its apply connection (replicator/src/prune/). Additive: a replicator of the
 * previous version never reads it.
 */
export const sql = `
CREATE TABLE elt.prune_jobs (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slot_name          text NOT NULL,
  state              text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
  older_than_seconds bigint NOT NULL CHECK (older_than_seconds >= 0),
  requested_at       timestamptz NOT NULL DEFAULT now(),
  requested_by       text,
  started_at         timestamptz,
  finished_at        timestamptz,
  cutoff             timestamptz,
  rows_pruned        bigint NOT NULL DEFAULT 0,
  tables             jsonb NOT NULL DEFAULT '{}',
  error              text
);
CREATE INDEX prune_jobs_by_slot ON elt.prune_jobs (slot_name, state, id);
`;
