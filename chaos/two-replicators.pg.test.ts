/**
 * One writer: however many replicators are started for one slot, exactly one runs. Three
 * started at the same instant on a fresh destination race for the control schema and the
 * writer lock; a fourth pointed at another destination finds the source slot busy. Every
 * one refused says so in one sentence and exits 3; the one that runs goes on, and the
 * replica equals the source.
 */
import { describe, expect, it } from 'vitest';
import { replicationSuite } from '../harness/fixture.js';
import { expectReplicaEqual, query, waitFor, waitForCatchUp, type ReplicatorProcess } from '../harness/replication.js';
import { recordFigure } from './figures.js';

const STREAMING = '"msg":"streaming changes"';

describe('two replicators on one slot', () => {
  const pair = replicationSuite({
    start: false,
    sourceSql:
      "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 50000) i",
    destinationSql: 'CREATE DATABASE other_analytics',
  });
  let replicators: ReplicatorProcess[] = [];

  it('three started at once: exactly one runs, the others refuse in one sentence', async () => {
    replicators = [pair.spawn(['replicate']), pair.spawn(['replicate']), pair.spawn(['replicate'])];
    await waitFor(
      'all but one to give up',
      async () => replicators.filter((r) => r.child.exitCode !== null).length === 2,
      90_000,
    );
    const [running, ...refused] = [...replicators].sort(
      (a, b) => Number(a.child.exitCode !== null) - Number(b.child.exitCode !== null),
    );
    for (const r of refused) {
      expect(await r.exited, r.output()).toBe(3);
      expect(r.output()).toMatch(
        /Another replicator is already running for slot elt_slot \(destination backend pid \d+, from [^)]+\)\.\n\s+Only one replicator may write for a slot/,
      );
      expect(r.output()).not.toMatch(/\n\s+at /);
    }
    await waitFor('the one left to stream', async () => running!.output().includes(STREAMING), 90_000);

    await query(
      pair.sourceUrl,
      "UPDATE items SET name = name || ' (renamed)' WHERE id % 3 = 0; DELETE FROM items WHERE id % 7 = 0",
    );
    await waitForCatchUp(pair, running!);
    await expectReplicaEqual(pair, running!);
    expect(running!.child.exitCode).toBeNull();
    recordFigure({
      fault: 'three replicators started at once on one slot',
      measure: 'running, refused (exit 3)',
      value: `1, ${refused.length}`,
    });
  });

  it('one for another destination on the same source slot is refused by the source', async () => {
    const other = new URL(pair.destinationUrl);
    other.pathname = '/other_analytics';
    const intruder = pair.spawn(['replicate'], { ELT_DESTINATION_URL: other.toString() });
    replicators.push(intruder);
    expect(await intruder.exited, intruder.output()).toBe(3);
    expect(intruder.output()).toMatch(
      /The replication slot elt_slot is in use by another connection \(source backend pid \d+\)\.\n\s+Another replicator is streaming from this slot/,
    );
    // It wrote nothing into its own destination but its control schema, and the slot is untouched.
    const staging = await query<{ n: number }>(
      other.toString(),
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'staging'",
    );
    expect(staging[0]!.n).toBe(0);
    await query(pair.sourceUrl, "INSERT INTO items VALUES (100001, 'after the intruder')");
    // The one that ran since the first case.
    const running = replicators.find((r) => r !== intruder && r.child.exitCode === null);
    expect(running, replicators.map((r) => r.output()).join('\n---\n')).toBeDefined();
    await waitForCatchUp(pair, running!);
    await expectReplicaEqual(pair, running!);
    recordFigure({
      fault: 'a replicator for another destination on the same slot',
      measure: 'refused (exit 3), rows written',
      value: 'yes, 0',
    });
  });
});
