import { describe, expect, test } from 'vitest';
import type { CatalogColumn, CatalogIndex, CatalogTable, CatalogType, SourceCatalog } from './catalog.js';
import { planReplica } from './replica-ddl.js';
import { ColumnPolicy } from '../source/column-policy.js';
import { TargetSchemas } from './target-schemas.js';

const OPTIONS = { sourceSchemas: ['public'], targets: new TargetSchemas('staging') };

function column(
  attnum: number,
  name: string,
  typeOid: number,
  typeText: string,
  extra: Partial<CatalogColumn> = {},
): CatalogColumn {
  return {
    attnum,
    name,
    typeOid,
    typeText,
    binaryIo: true,
    collation: null,
    generated: '',
    generationExpr: null,
    generationDeps: [],
    comment: null,
    ...extra,
  };
}

function type(oid: number, name: string, extra: Partial<CatalogType> = {}): CatalogType {
  return {
    oid,
    schema: 'public',
    name,
    typtype: 'b',
    elementOid: 0,
    extension: null,
    relkind: null,
    printed: `public.${name}`,
    enumLabels: [],
    domainBase: null,
    attributes: [],
    rangeSubtype: null,
    rangeOpclass: null,
    multirangeName: null,
    rangeOfMultirange: 0,
    ...extra,
  };
}

function index(
  name: string,
  keys: { attnum: number; definition: string }[],
  extra: Partial<CatalogIndex> = {},
): CatalogIndex {
  return {
    oid: 1,
    name,
    unique: false,
    primary: false,
    replicaIdentity: false,
    exclusion: false,
    method: 'btree',
    keyColumns: keys.map((k) => ({ ...k, opclass: null, collation: null, descending: false, nullsFirst: false })),
    includeColumns: [],
    predicate: null,
    deps: [],
    constraintName: null,
    ...extra,
  };
}

function table(
  columns: CatalogColumn[],
  indexes: CatalogIndex[] = [],
  extra: Partial<CatalogTable> = {},
): CatalogTable {
  return {
    oid: 100,
    schema: 'public',
    name: 'orders',
    kind: 'r',
    replicaIdentity: 'd',
    columns,
    indexes,
    comment: null,
    ...extra,
  };
}

function plan(tables: CatalogTable[], types: CatalogType[] = []): ReturnType<typeof planReplica> {
  const catalog: SourceCatalog = { tables, types: new Map(types.map((t) => [t.oid, t])), collations: new Map() };
  return planReplica(catalog, OPTIONS);
}

const PK = index('orders_pkey', [{ attnum: 1, definition: 'id' }], {
  unique: true,
  primary: true,
  constraintName: 'orders_pkey',
});
const ID = column(1, 'id', 23, 'integer');

describe('replica tables', () => {
  test('carry the source columns, NOT NULL on the key only, and the metadata columns; the key is added after the data', () => {
    const p = plan([table([ID, column(2, 'total', 1700, 'numeric(12,2)'), column(3, 'note', 25, 'text')], [PK])]);
    expect(p.tables[0]!.create[0]).toBe(
      'CREATE TABLE "staging"."orders" ("id" integer NOT NULL, "total" numeric(12,2), "note" text, ' +
        '_synced_at timestamptz NOT NULL DEFAULT now(), _lsn pg_lsn, _deleted boolean NOT NULL DEFAULT false)',
    );
    expect(p.tables[0]!.identityIndex).toBe(
      'ALTER TABLE "staging"."orders" ADD CONSTRAINT "orders_pkey" PRIMARY KEY ("id")',
    );
    expect(p.tables[0]!.problem).toBeNull();
  });

  test('a REPLICA IDENTITY USING INDEX key stays a unique index; other unique indexes become plain ones', () => {
    const identity = index('orders_code_key', [{ attnum: 2, definition: 'code' }], {
      unique: true,
      replicaIdentity: true,
    });
    const other = index('orders_email_key', [{ attnum: 3, definition: 'lower(email)' }], { unique: true });
    const p = plan([
      table([ID, column(2, 'code', 25, 'text'), column(3, 'email', 25, 'text')], [identity, other], {
        replicaIdentity: 'i',
      }),
    ]);
    expect(p.tables[0]!.create[0]).toContain('"code" text NOT NULL');
    expect(p.tables[0]!.identityIndex).toBe(
      'CREATE UNIQUE INDEX "orders_code_key" ON "staging"."orders" USING "btree" (code)',
    );
    expect(p.tables[0]!.indexes).toEqual([
      {
        name: 'orders_email_key',
        sql: 'CREATE INDEX "orders_email_key" ON "staging"."orders" USING "btree" (lower(email))',
      },
    ]);
  });

  test('partial, descending and INCLUDE indexes keep their shape; an extension operator class keeps its schema', () => {
    const partial = index('open_orders', [{ attnum: 1, definition: 'id' }], {
      predicate: "status = 'open'::order_status",
      includeColumns: ['note'],
    });
    partial.keyColumns[0]!.descending = true;
    const trigram = index('note_trgm', [{ attnum: 3, definition: 'note' }], { method: 'gin' });
    trigram.keyColumns[0]!.opclass = { schema: 'public', name: 'gin_trgm_ops', extension: 'pg_trgm' };
    const p = plan([
      table([ID, column(2, 'status', 25, 'text'), column(3, 'note', 25, 'text')], [PK, partial, trigram]),
    ]);
    expect(p.tables[0]!.indexes.map((i) => i.sql)).toEqual([
      `CREATE INDEX "open_orders" ON "staging"."orders" USING "btree" (id DESC NULLS LAST) INCLUDE (note) WHERE status = 'open'::order_status`,
      'CREATE INDEX "note_trgm" ON "staging"."orders" USING "gin" (note "public"."gin_trgm_ops")',
    ]);
  });

  test.each([
    ['an exclusion constraint', { exclusion: true, constraintName: 'no_overlap' }, 'exclusion constraint no_overlap'],
    [
      'a function of the user',
      { deps: [{ catalog: 'pg_proc', schema: 'public', name: 'normalize', extension: null }] },
      'the function public.normalize',
    ],
    [
      "an extension's function",
      { deps: [{ catalog: 'pg_proc', schema: 'public', name: 'similarity', extension: 'pg_trgm' }] },
      null,
    ],
  ])('an index with %s is left out only when the replica cannot build it', (_what, extra, reason) => {
    const p = plan([table([ID], [PK, index('idx', [{ attnum: 0, definition: '(f(id))' }], extra)])]);
    if (reason === null) expect(p.tables[0]!.skippedIndexes).toEqual([]);
    else expect(p.tables[0]!.skippedIndexes[0]!.reason).toContain(reason);
  });

  test('a generated column is computed by the replica; one that calls a function of the user stops the table', () => {
    const computed = column(2, 'doubled', 23, 'integer', { generated: 's', generationExpr: 'id * 2' });
    const userFn = column(3, 'slug', 25, 'text', {
      generated: 's',
      generationExpr: 'slugify(name)',
      generationDeps: [{ catalog: 'pg_proc', schema: 'public', name: 'slugify', extension: null }],
    });
    const ok = plan([table([ID, computed], [PK])]).tables[0]!;
    expect(ok.create[0]).toContain('"doubled" integer GENERATED ALWAYS AS (id * 2) STORED');
    expect(ok.copyColumns).toEqual(['id']);
    const stopped = plan([table([ID, userFn], [PK])]).tables[0]!;
    expect(stopped.problem).toContain('public.slugify');
  });

  test('a column named like a metadata column stops the table with the reason', () => {
    const p = plan([table([ID, column(2, '_lsn', 25, 'text')], [PK])]);
    expect(p.tables[0]!.problem).toContain('_lsn');
    expect(p.tables[0]!.problem).toContain('Rename the source column');
  });

  test.each([
    ['no columns', []],
    ['only a generated column', [column(1, 'g', 23, 'integer', { generated: 's', generationExpr: '1' })]],
  ])('a table with %s stops with the reason, not a syntax error later', (_what, columns) => {
    const p = plan([table(columns, [], { replicaIdentity: 'f' })]);
    expect(p.tables[0]!.problem).toMatch(/public\.orders has no columns to copy.*Add a column to it/);
  });
});

describe('types', () => {
  test("a user's enum and domain are recreated in the target schema, the domain without its checks", () => {
    const mood = type(500, 'mood', { typtype: 'e', enumLabels: ['sad', "it's ok"] });
    const moods = type(501, '_mood', { elementOid: 500, printed: 'public.mood[]' });
    const positive = type(502, 'positive', {
      typtype: 'd',
      domainBase: { typeOid: 23, typeText: 'integer', collation: null },
    });
    const p = plan(
      [
        table(
          [
            ID,
            column(2, 'm', 500, 'public.mood'),
            column(3, 'ms', 501, 'public.mood[]'),
            column(4, 'n', 502, 'public.positive'),
          ],
          [PK],
        ),
      ],
      [mood, moods, positive],
    );
    expect(p.objects.map((o) => o.sql)).toEqual([
      `CREATE TYPE "staging"."mood" AS ENUM ('sad', 'it''s ok')`,
      'CREATE DOMAIN "staging"."positive" AS integer',
    ]);
    expect(p.tables[0]!.create[0]).toContain('"m" "staging"."mood", "ms" "staging"."mood"[], "n" "staging"."positive"');
    expect(p.tables[0]!.needs).toEqual(['type:500', 'type:502']);
  });

  test("an extension's type keeps its schema, and the table names the extension it needs", () => {
    const citext = type(600, 'citext', { extension: 'citext' });
    const p = plan([table([ID, column(2, 'email', 600, 'public.citext')], [PK])], [citext]);
    expect(p.objects).toEqual([]);
    expect(p.tables[0]!.create[0]).toContain('"email" public.citext');
    expect(p.tables[0]!.extensions).toEqual([{ name: 'citext', schema: 'public' }]);
  });

  test('a composite is created after the types it uses; a range with its multirange', () => {
    const mood = type(500, 'mood', { typtype: 'e', enumLabels: ['sad'] });
    const pair = type(510, 'pair', {
      typtype: 'c',
      relkind: 'c',
      attributes: [{ name: 'm', typeOid: 500, typeText: 'public.mood', collation: null }],
    });
    const span = type(520, 'span', {
      typtype: 'r',
      rangeSubtype: { typeOid: 23, typeText: 'integer', collation: null },
      multirangeName: 'spans',
    });
    const p = plan(
      [table([ID, column(2, 'p', 510, 'public.pair'), column(3, 's', 520, 'public.span')], [PK])],
      [mood, pair, span],
    );
    expect(p.objects.map((o) => o.sql)).toEqual([
      `CREATE TYPE "staging"."mood" AS ENUM ('sad')`,
      'CREATE TYPE "staging"."pair" AS ("m" "staging"."mood")',
      'CREATE TYPE "staging"."span" AS RANGE (SUBTYPE = integer, MULTIRANGE_TYPE_NAME = "staging"."spans")',
    ]);
  });

  test("a table's row type used as a column type stops the table with the reason", () => {
    const row = type(530, 'customers', { typtype: 'c', relkind: 'r' });
    const p = plan([table([ID, column(2, 'c', 530, 'public.customers')], [PK])], [row]);
    expect(p.tables[0]!.problem).toContain('row type of a table');
  });
});

test("an index using a user's collation is built with the collation the replica recreates", () => {
  const german = {
    oid: 900,
    schema: 'public',
    name: 'german',
    extension: null,
    provider: 'i',
    collate: '',
    ctype: '',
    iculocale: 'de-DE',
    deterministic: true,
  };
  const byName = index('by_name', [{ attnum: 2, definition: 'name' }], {
    deps: [{ catalog: 'pg_collation', schema: 'public', name: 'german', extension: null }],
  });
  byName.keyColumns[0]!.collation = { oid: 900, schema: 'public', name: 'german' };
  const catalog: SourceCatalog = {
    tables: [
      table(
        [ID, column(2, 'name', 25, 'text', { collation: { oid: 900, schema: 'public', name: 'german' } })],
        [PK, byName],
      ),
    ],
    types: new Map(),
    collations: new Map([[900, german]]),
  };
  const p = planReplica(catalog, OPTIONS);
  expect(p.objects.map((o) => o.sql)).toEqual([
    `CREATE COLLATION "staging"."german" (provider = icu, locale = 'de-DE')`,
  ]);
  expect(p.tables[0]!.create[0]).toContain('"name" text COLLATE "staging"."german"');
  expect(p.tables[0]!.indexes[0]!.sql).toBe(
    'CREATE INDEX "by_name" ON "staging"."orders" USING "btree" (name COLLATE "staging"."german")',
  );
});

describe('names in the target schema', () => {
  test('a REPLICA IDENTITY USING INDEX key keeps its collation and operator class', () => {
    const identity = index('ri_email', [{ attnum: 2, definition: 'email' }], { unique: true, replicaIdentity: true });
    identity.keyColumns[0]!.collation = { oid: 950, schema: 'pg_catalog', name: 'C' };
    const p = plan([table([ID, column(2, 'email', 25, 'text')], [identity], { replicaIdentity: 'i' })]);
    expect(p.tables[0]!.identityIndex).toBe(
      'CREATE UNIQUE INDEX "ri_email" ON "staging"."orders" USING "btree" (email COLLATE "pg_catalog"."C")',
    );
  });

  test('two tables of two schemas with an index of the same name both get theirs, under different names', () => {
    const a = table([ID], [index('pk', [{ attnum: 1, definition: 'id' }], { oid: 11, unique: true, primary: true })], {
      oid: 1,
      schema: 'public',
      name: 'events',
    });
    const b = table([ID], [index('pk', [{ attnum: 1, definition: 'id' }], { oid: 12, unique: true, primary: true })], {
      oid: 2,
      schema: 'audit',
      name: 'names',
    });
    const p = planReplica(
      { tables: [a, b], types: new Map(), collations: new Map() },
      { sourceSchemas: ['public', 'audit'], targets: new TargetSchemas('staging') },
    );
    expect(p.tables.map((t) => t.identityIndex)).toEqual([
      'ALTER TABLE "staging"."events" ADD CONSTRAINT "pk" PRIMARY KEY ("id")',
      'ALTER TABLE "staging"."names" ADD CONSTRAINT "pk_12" PRIMARY KEY ("id")',
    ]);
  });

  test('a user type named like a replicated table, or two collations of one name, stop the tables that need them', () => {
    const mood = type(500, 'mood', { typtype: 'e', enumLabels: ['ok'] });
    const feelings = table([ID, column(2, 'm', 500, 'public.mood')], [PK], { oid: 1, name: 'feelings' });
    const moodTable = table([ID], [], { oid: 2, schema: 'audit', name: 'mood', replicaIdentity: 'f' });
    const p = planReplica(
      { tables: [feelings, moodTable], types: new Map([[500, mood]]), collations: new Map() },
      { sourceSchemas: ['public', 'audit'], targets: new TargetSchemas('staging') },
    );
    expect(p.tables[0]!.problem).toContain('would both be staging.mood');
    expect(p.tables[1]!.problem).toBeNull();
  });

  test('with ELT_TARGET_SCHEMA_MAP, tables land in their schema, types stay in the default one, names clash per schema', () => {
    const mood = type(500, 'mood', { typtype: 'e', enumLabels: ['ok'] });
    const pk = (oid: number, name = 'pk') =>
      index(name, [{ attnum: 1, definition: 'id' }], { oid, unique: true, primary: true });
    const feelings = table([ID, column(2, 'm', 500, 'public.mood')], [pk(11)], {
      oid: 1,
      schema: 'audit',
      name: 'feelings',
    });
    const moodTable = table([ID], [pk(12, 'mood_pkey')], { oid: 2, schema: 'audit', name: 'mood' });
    const events = table([ID], [pk(13)], { oid: 3, schema: 'public', name: 'events' });
    const p = planReplica(
      { tables: [feelings, moodTable, events], types: new Map([[500, mood]]), collations: new Map() },
      { sourceSchemas: ['public', 'audit'], targets: new TargetSchemas('staging', { audit: 'staging_audit' }) },
    );
    expect(p.tables.map((t) => [t.targetSchema, t.problem])).toEqual([
      ['staging_audit', null],
      ['staging_audit', null],
      ['staging', null],
    ]);
    expect(p.objects.map((o) => o.sql)).toEqual([`CREATE TYPE "staging"."mood" AS ENUM ('ok')`]);
    expect(p.tables[0]!.create[0]).toMatch(
      /^CREATE TABLE "staging_audit"\."feelings" \("id" integer NOT NULL, "m" "staging"\."mood", /,
    );
    // Each schema has its own relation names: both keys named pk keep their name.
    expect(p.tables.map((t) => t.identityIndex)).toEqual([
      'ALTER TABLE "staging_audit"."feelings" ADD CONSTRAINT "pk" PRIMARY KEY ("id")',
      'ALTER TABLE "staging_audit"."mood" ADD CONSTRAINT "mood_pkey" PRIMARY KEY ("id")',
      'ALTER TABLE "staging"."events" ADD CONSTRAINT "pk" PRIMARY KEY ("id")',
    ]);
  });
});

describe('under a column policy (ELT_EXCLUDE_COLUMNS, ELT_MASK_COLUMNS)', () => {
  const columns = (exclude: string[], masks: string[]) => ({
    ...OPTIONS,
    columns: new ColumnPolicy(exclude, masks, 'a key of sixteen+ characters'),
  });
  const users = table(
    [
      ID,
      column(2, 'email', 1043, 'character varying(100)', { comment: 'the address' }),
      column(3, 'ssn', 1043, 'character varying(11)', { comment: 'private' }),
      column(4, 'age', 23, 'integer'),
    ],
    [
      PK,
      index('users_email', [{ attnum: 2, definition: 'email' }]),
      index('users_lower', [{ attnum: 0, definition: 'lower(email)' }]),
      index('users_age', [{ attnum: 4, definition: 'age' }]),
    ],
    { name: 'users' },
  );
  const planWith = (t: CatalogTable, options: ReturnType<typeof columns>) =>
    planReplica({ tables: [t], types: new Map(), collations: new Map() }, options).tables[0]!;

  test('leaves excluded columns out of the table, its comments and the copy; a hashed or redacted one is text, a nulled one keeps its type', () => {
    const p = planWith(users, columns(['public.users.ssn'], ['public.users.email:hash', 'public.users.age:null']));
    expect(p.create).toEqual([
      'CREATE TABLE "staging"."users" ("id" integer NOT NULL, "email" text, "age" integer, ' +
        '_synced_at timestamptz NOT NULL DEFAULT now(), _lsn pg_lsn, _deleted boolean NOT NULL DEFAULT false)',
      `COMMENT ON COLUMN "staging"."users"."email" IS 'the address'`,
    ]);
    expect(p.copyColumns).toEqual(['id', 'email', 'age']);
    expect(p.copyMasks).toEqual([null, { kind: 'hash' }, { kind: 'null' }]);
    expect(p.columnPolicy.entries).toEqual([
      { attnum: 2, column: 'email', policy: 'hash' },
      { attnum: 3, column: 'ssn', policy: 'exclude' },
      { attnum: 4, column: 'age', policy: 'null' },
    ]);
    expect(p.columnPolicy.keyFingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(p.indexes).toEqual([]);
    expect(p.skippedIndexes.map((i) => i.name)).toEqual(['users_email', 'users_lower', 'users_age']);
    expect(p.problem).toBeNull();
  });

  test('keeps every index of a table no pattern touches', () => {
    const p = planWith(users, columns(['public.orders.x'], []));
    expect(p.indexes.map((i) => i.name)).toEqual(['users_email', 'users_lower', 'users_age']);
    expect(p.copyMasks).toEqual([null, null, null, null]);
    expect(p.columnPolicy).toEqual({ entries: [], keyFingerprint: null });
  });

  test.each([
    [['public.users.id'], [], /Column id of public\.users identifies its rows.*ELT_EXCLUDE_COLUMNS/],
    [[], ['public.users.id:null'], /ELT_MASK_COLUMNS pattern 'public\.users\.id:null'/],
  ])('refuses a table whose key the policy breaks: exclude %j masks %j', (exclude, masks, problem) => {
    expect(planWith(users, columns(exclude, masks)).problem).toMatch(problem);
  });

  test('hashes a key: the key stays, on text', () => {
    const p = planWith(users, columns([], ['public.users.id:hash']));
    expect(p.problem).toBeNull();
    expect(p.create[0]).toContain('"id" text NOT NULL');
    expect(p.identityIndex).toBe('ALTER TABLE "staging"."users" ADD CONSTRAINT "orders_pkey" PRIMARY KEY ("id")');
  });

  test('under REPLICA IDENTITY FULL every column identifies rows', () => {
    const full = { ...users, replicaIdentity: 'f' as const, indexes: [] };
    expect(planWith(full, columns(['public.users.ssn'], [])).problem).toMatch(/Column ssn of public\.users identifies/);
    expect(planWith(full, columns([], ['public.users.ssn:hash'])).problem).toBeNull();
  });
});
