import { describe, expect, it } from 'vitest';
import { planColumns, type MessageColumn } from './column-plan.js';
import type { CatalogTable } from './source-catalog.js';

const INT = 23;
const TEXT = 25;

const message = (...columns: [string, number][]): MessageColumn[] =>
  columns.map(([name, typeOid]) => ({ name, typeOid, typeMod: -1 }));

function catalog(
  live: [number, string, number][],
  dropped: number[] = [],
  natts = Math.max(0, ...live.map((c) => c[0]), ...dropped),
): CatalogTable {
  return {
    oid: 1,
    columns: live.map(([attnum, name, typeOid]) => ({
      attnum,
      name,
      typeOid,
      typeMod: -1,
      generated: false,
      missing: null,
      hasDefault: false,
    })),
    dropped,
    natts,
    storage: '1:1',
  };
}

const recorded = (...columns: [number, string][]) => columns.map(([attnum, name]) => ({ attnum, name }));

describe('planColumns', () => {
  it('tells two renames in one migration apart from drops and adds', () => {
    const plan = planColumns(
      message(['id', INT], ['given', TEXT], ['family', TEXT]),
      catalog([
        [1, 'id', INT],
        [2, 'given', TEXT],
        [3, 'family', TEXT],
      ]),
      recorded([1, 'id'], [2, 'first'], [3, 'last']),
      3,
    );
    expect(plan).toMatchObject({
      proven: true,
      drops: [],
      adds: [],
      ambiguous: null,
      renames: [
        { attnum: 2, from: 'first', to: 'given' },
        { attnum: 3, from: 'last', to: 'family' },
      ],
    });
  });

  it('follows a swap of two names as two renames', () => {
    const plan = planColumns(
      message(['id', INT], ['q', INT], ['p', INT]),
      catalog([
        [1, 'id', INT],
        [2, 'q', INT],
        [3, 'p', INT],
      ]),
      recorded([1, 'id'], [2, 'p'], [3, 'q']),
      3,
    );
    expect(plan).toMatchObject({
      proven: true,
      renames: [
        { attnum: 2, from: 'p', to: 'q' },
        { attnum: 3, from: 'q', to: 'p' },
      ],
    });
  });

  it('sees a column dropped and added under its name as a drop and an add, and says the values are ambiguous', () => {
    const plan = planColumns(
      message(['id', INT], ['price', INT]),
      catalog(
        [
          [1, 'id', INT],
          [3, 'price', INT],
        ],
        [2],
      ),
      recorded([1, 'id'], [2, 'price']),
      2,
    );
    expect(plan).toMatchObject({
      proven: true,
      drops: [{ attnum: 2, name: 'price' }],
      adds: [{ attnum: 3, name: 'price' }],
      renames: [],
    });
    expect(plan.proven && plan.ambiguous).toMatch(/dropped and added again/);
  });

  it('sees a drop and an add of another name at the same place as such, with no ambiguity', () => {
    const plan = planColumns(
      message(['id', INT], ['d', INT]),
      catalog(
        [
          [1, 'id', INT],
          [3, 'd', INT],
        ],
        [2],
      ),
      recorded([1, 'id'], [2, 'c']),
      2,
    );
    expect(plan).toMatchObject({
      proven: true,
      drops: [{ attnum: 2, name: 'c' }],
      adds: [{ attnum: 3, name: 'd' }],
      renames: [],
      ambiguous: null,
    });
  });

  it('calls an add ambiguous when columns came and went unseen since the last record', () => {
    const plan = planColumns(
      message(['id', INT], ['x', INT]),
      catalog(
        [
          [1, 'id', INT],
          [4, 'x', INT],
        ],
        [3],
      ),
      recorded([1, 'id']),
      2,
    );
    expect(plan.proven && plan.ambiguous).toMatch(/added and dropped/);
  });

  it.each([
    [
      'a name',
      message(['id', INT], ['b', TEXT]),
      catalog([
        [1, 'id', INT],
        [2, 'a', TEXT],
      ]),
    ],
    [
      'a type',
      message(['id', INT], ['a', INT]),
      catalog([
        [1, 'id', INT],
        [2, 'a', TEXT],
      ]),
    ],
    ['a column less', message(['id', INT], ['a', TEXT]), catalog([[1, 'id', INT]])],
  ])('proves nothing when the catalog differs from the message by %s', (_what, columns, table) => {
    expect(planColumns(columns, table, recorded([1, 'id'], [2, 'a']), 2)).toMatchObject({ proven: false });
  });

  it('leaves generated columns out of the match (pgoutput does not send them)', () => {
    const table = catalog([
      [1, 'id', INT],
      [2, 'twice', INT],
      [3, 'a', TEXT],
    ]);
    table.columns[1]!.generated = true;
    expect(planColumns(message(['id', INT], ['a', TEXT]), table, recorded([1, 'id'], [3, 'a']), 3)).toMatchObject({
      proven: true,
      attnums: [1, 3],
      drops: [],
      adds: [],
      renames: [],
    });
  });

  it('proves the message columns when the catalog has columns added after them, and names those', () => {
    const plan = planColumns(
      message(['id', INT], ['a', TEXT]),
      catalog([
        [1, 'id', INT],
        [2, 'a', TEXT],
        [3, 'b', INT],
      ]),
      recorded([1, 'id'], [2, 'a']),
      2,
    );
    expect(plan).toMatchObject({ proven: true, attnums: [1, 2], adds: [], later: [{ attnum: 3, name: 'b' }] });
  });
});
