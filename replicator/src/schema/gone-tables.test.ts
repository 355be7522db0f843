import { describe, expect, it } from 'vitest';
import { goneReason } from './gone-tables.js';

describe('goneReason', () => {
  const recorded = { schema: 'public', table: 'orders', oid: 16_384 };
  const replicated = ['public', 'sales'];

  it('a table where its row says, or renamed in its schema, is not gone', () => {
    expect(goneReason(recorded, { schema: 'public', name: 'orders' }, replicated)).toBeNull();
    expect(goneReason(recorded, { schema: 'public', name: 'orders_v2' }, replicated)).toBeNull();
  });

  it('a table no longer in the catalog was dropped', () => {
    expect(goneReason(recorded, null, replicated)).toMatch(
      /^The source table was dropped \(OID 16384\): the replica keeps the rows it had then.*created again under this name is copied/,
    );
  });

  it('a table moved to a replicated schema is followed there', () => {
    expect(goneReason(recorded, { schema: 'sales', name: 'orders' }, replicated)).toMatch(
      /^The source table moved to sales\.orders .*until it follows the table there/,
    );
  });

  it('a table moved out of the replicated schemas says how to follow it', () => {
    expect(goneReason(recorded, { schema: 'archive', name: 'orders_2025' }, replicated)).toMatch(
      /moved to archive\.orders_2025 .*outside the replicated schemas.*Add archive to ELT_SOURCE_SCHEMAS/,
    );
  });
});
