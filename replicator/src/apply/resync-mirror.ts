/**
 * The apply loop's side of an online resync: the changes of a table being copied again are
 * held aside in `elt.resync_delta`, in the apply transaction (so they commit with the rows),
 * for the resync to replay onto its copy (./apply-hooks.ts says which tables and jobs).
 */
import type { Logger } from '../log.js';
import type { TableRegistry } from '../schema/mapping.js';
import { insertDelta, type DeltaRow } from '../state/resync-delta.js';
import type { Applier } from './applier.js';
import { MIRROR_VALUE_MAX_BYTES, encodeDelta, largestValue, type ApplyHooks, type DeltaChange } from './apply-hooks.js';

/** Changes held in memory before they are written out. */
const FLUSH_ROWS = 2_000;

export class ResyncMirror {
  #held: DeltaRow[] = [];

  constructor(
    private readonly lc: Logger,
    private readonly registry: TableRegistry,
    private readonly hooks: ApplyHooks,
  ) {}

  /** Enough is held to write it out now. */
  get full(): boolean {
    return this.#held.length >= FLUSH_ROWS;
  }

  /** Hold a change if its table is being resynced (stopped or not: the new copy needs it). */
  record(relationId: number, change: DeltaChange): void {
    const relation = this.registry.relation(relationId);
    const jobId = relation && this.hooks.mirroredBy(relation.schema, relation.name);
    if (!relation || jobId === undefined) return;
    const largest = largestValue(change);
    if (largest > MIRROR_VALUE_MAX_BYTES) {
      const table = `${relation.schema}.${relation.name}`;
      const reason =
        `A change to ${table} carried a value of ${(largest / 1024 / 1024).toFixed(0)} MB while the table was being copied again; ` +
        `a change held aside for a resync can carry at most ${MIRROR_VALUE_MAX_BYTES / 1024 / 1024} MB. Run the resync again (POST /v1/resync) when such values are not changing.`;
      this.lc.warn(
        { table, job: jobId, valueBytes: largest },
        'resync: a change is too big to hold aside; the resync will fail',
      );
      this.hooks.spoil(relation.schema, relation.name, reason);
      return;
    }
    this.#held.push({ jobId, schema: relation.schema, table: relation.name, change: encodeDelta(change) });
  }

  /** Write the held changes into elt.resync_delta, in the apply transaction. */
  async flush(applier: Applier): Promise<void> {
    if (this.#held.length === 0) return;
    const rows = this.#held;
    this.#held = [];
    await insertDelta(applier, rows);
  }
}
