/**
 * Migration 2: resync jobs by slot. Every job ever queued stays in elt.resync_jobs (the API
 * shows the history), and the replicator's queue (the oldest queued job of its slot) and the
 * API's job list (a slot's newest jobs first) read it by slot and id: this index finds them
 * without reading the whole history.
 */
export const sql = `
CREATE INDEX resync_jobs_by_slot ON elt.resync_jobs (slot_name, id);
`;
