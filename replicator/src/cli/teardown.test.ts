import { describe, expect, it } from 'vitest';
import { actions, formatPlan, type TeardownPlan } from './teardown.js';

const plan = (overrides: Partial<TeardownPlan> = {}): TeardownPlan => ({
  source: 'src:5433/shop',
  destination: 'dst:5434/analytics',
  role: 'elt_replicator',
  slot: { name: 'elt_slot', exists: true, retainedWalBytes: 3 * 1024 * 1024, mayDrop: true },
  publication: { name: 'elt_pub', exists: true, owner: 'elt_replicator', mayDrop: true, usedBy: [] },
  state: { exists: true },
  targets: [],
  ...overrides,
});

describe('teardown plan', () => {
  it('drops the slot, the publication and the state; the schema only with --drop-target', () => {
    expect(actions(plan())).toEqual(['slot', 'publication', 'state']);
    expect(actions(plan({ targets: [{ name: 'staging', exists: true, tables: 3, usedBy: [] }] }))).toEqual([
      'slot',
      'publication',
      'state',
      'target',
    ]);
    expect(formatPlan(plan())).toBe(
      [
        'elt teardown will drop:',
        '  replication slot elt_slot on the source at src:5433/shop (it holds 3.0 MB of WAL)',
        '  publication elt_pub on the source at src:5433/shop',
        "  elt's state for slot elt_slot (its rows in elt.replication_state, elt.tables, the job tables and elt.verify_results) on the destination at dst:5434/analytics",
        '',
      ].join('\n'),
    );
  });

  it('leaves a publication another slot may use, one the role may not drop, and a schema another slot fills', () => {
    const shared = plan({
      publication: { name: 'elt_pub', exists: true, owner: 'postgres', mayDrop: true, usedBy: ['elt_slot'] },
      slot: { name: 'scratch_slot', exists: true, retainedWalBytes: 1000, mayDrop: true },
      targets: [{ name: 'staging', exists: true, tables: 3, usedBy: ['elt_slot'] }],
    });
    expect(actions(shared)).toEqual(['slot', 'state']);
    expect(formatPlan(shared)).toContain(
      'and leave alone:\n  publication elt_pub on the source: slot elt_slot on that database may stream from it\n  schema staging on the destination: slot elt_slot replicates into it too\n',
    );
    const notOwned = plan({
      publication: { name: 'elt_pub', exists: true, owner: 'postgres', mayDrop: false, usedBy: [] },
    });
    expect(actions(notOwned)).toEqual(['slot', 'state']);
    expect(formatPlan(notOwned)).toContain(
      'publication elt_pub on the source: role elt_replicator may not drop it (it is owned by postgres)',
    );
  });

  it('drops every target schema of the map that no other slot fills, and says which it leaves', () => {
    const mapped = plan({
      targets: [
        { name: 'staging', exists: true, tables: 3, usedBy: [] },
        { name: 'staging_sales', exists: true, tables: 1, usedBy: [] },
        { name: 'shared', exists: true, tables: 2, usedBy: ['other_slot'] },
        { name: 'staging_hr', exists: false, tables: 0, usedBy: [] },
      ],
    });
    expect(actions(mapped)).toEqual(['slot', 'publication', 'state', 'target']);
    const text = formatPlan(mapped);
    expect(text).toContain('  schema staging and its 3 tables on the destination at dst:5434/analytics\n');
    expect(text).toContain('  schema staging_sales and its 1 table on the destination at dst:5434/analytics\n');
    expect(text).toContain(
      'and leave alone:\n  schema shared on the destination: slot other_slot replicates into it too\n',
    );
    expect(text).toContain('  schema staging_hr: there is none on the destination\n');
  });

  it('says when there is nothing to drop', () => {
    const empty = plan({
      slot: { name: 'elt_slot', exists: false, retainedWalBytes: null, mayDrop: true },
      publication: { name: 'elt_pub', exists: false, owner: null, mayDrop: false, usedBy: [] },
      state: { exists: false },
    });
    expect(actions(empty)).toEqual([]);
    expect(formatPlan(empty)).toMatch(
      /^elt teardown has nothing to drop\.\nand leave alone:\n {2}replication slot elt_slot: there is none/,
    );
  });
});
