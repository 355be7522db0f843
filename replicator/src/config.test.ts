import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, settingDefaults } from './config.js';

const urls = {
  ELT_SOURCE_URL: 'postgres://u:p@src:5433/shop',
  ELT_DESTINATION_URL: 'postgresql://u@dst:5434/analytics',
};

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig(urls)).toMatchObject({
      slot: 'elt_slot',
      publication: 'elt_pub',
      sourceSchemas: ['public'],
      targetSchema: 'staging',
      metricsPort: 9464,
      deleteMode: 'hard',
      softDeleteRetention: null,
      pruneInterval: 3_600,
    });
  });

  it('reads the soft-delete retention and the prune interval as seconds', () => {
    const config = loadConfig(
      { ...urls, ELT_DELETE_MODE: 'soft', ELT_SOFT_DELETE_RETENTION: '30d' },
      { 'prune-interval': '15m' },
    );
    expect(config).toMatchObject({ softDeleteRetention: 2_592_000, pruneInterval: 900 });
    expect(
      loadConfig({ ...urls, ELT_DELETE_MODE: 'soft', ELT_SOFT_DELETE_RETENTION: 'off' }).softDeleteRetention,
    ).toBeNull();
  });

  it("shows the schema's defaults in help, as text", () => {
    expect(settingDefaults()).toMatchObject({
      slot: 'elt_slot',
      sourceSchemas: 'public',
      metricsPort: '9464',
      replicaIdentityFull: 'false',
      softDeleteRetention: 'off',
      pruneInterval: '1h',
    });
    expect(settingDefaults()).not.toHaveProperty('sourceUrl');
  });

  it('lets flags override the environment', () => {
    const config = loadConfig(
      { ...urls, ELT_SLOT: 'from_env' },
      { slot: 'from_flag', 'source-schemas': 'public, sales' },
    );
    expect(config.slot).toBe('from_flag');
    expect(config.sourceSchemas).toEqual(['public', 'sales']);
  });

  it('reads the table selection as lists of schema.table globs, and drop-unselected as a boolean', () => {
    expect(loadConfig(urls)).toMatchObject({ includeTables: [], excludeTables: [], dropUnselected: false });
    const config = loadConfig(
      { ...urls, ELT_INCLUDE_TABLES: 'public.orders, sales.*', ELT_DROP_UNSELECTED: 'true' },
      { 'exclude-tables': 'sales.audit_?' },
    );
    expect(config).toMatchObject({
      includeTables: ['public.orders', 'sales.*'],
      excludeTables: ['sales.audit_?'],
      dropUnselected: true,
    });
  });

  it('reads the column policy; the mask key is kept but never shown as a default', () => {
    expect(loadConfig(urls)).toMatchObject({ excludeColumns: [], maskColumns: [], maskKey: null });
    const config = loadConfig({
      ...urls,
      ELT_EXCLUDE_COLUMNS: 'public.users.ssn, *.*.password',
      ELT_MASK_COLUMNS: 'public.users.email:hash,public.users.phone:redact:4',
      ELT_MASK_KEY: 'sixteen chars ok',
    });
    expect(config).toMatchObject({
      excludeColumns: ['public.users.ssn', '*.*.password'],
      maskColumns: ['public.users.email:hash', 'public.users.phone:redact:4'],
      maskKey: 'sixteen chars ok',
    });
    expect(settingDefaults()).not.toHaveProperty('maskKey');
  });

  it.each([
    [
      { ...urls, ELT_EXCLUDE_COLUMNS: 'users.ssn' },
      /ELT_EXCLUDE_COLUMNS \(--exclude-columns\) 'users\.ssn' is not a schema\.table\.column/,
    ],
    [
      { ...urls, ELT_MASK_COLUMNS: 'public.users.email:md5' },
      /ELT_MASK_COLUMNS \(--mask-columns\) 'md5' is not a mask method/,
    ],
    [
      { ...urls, ELT_MASK_COLUMNS: 'public.users.email:hash' },
      /ELT_MASK_KEY \(--mask-key\) is required by the hash masks of ELT_MASK_COLUMNS/,
    ],
    [
      { ...urls, ELT_MASK_COLUMNS: 'public.users.email:hash', ELT_MASK_KEY: 'short' },
      /ELT_MASK_KEY \(--mask-key\) must be at least 16 characters/,
    ],
  ])('names a bad column policy setting, never the key: %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
    expect(() => loadConfig(env)).not.toThrow(/short/);
  });

  it.each([
    [
      { ...urls, ELT_INCLUDE_TABLES: 'orders' },
      /ELT_INCLUDE_TABLES \(--include-tables\) 'orders' is not a schema\.table/,
    ],
    [{ ...urls, ELT_DROP_UNSELECTED: 'yes' }, /ELT_DROP_UNSELECTED \(--drop-unselected\) must be true or false/],
    [{}, /ELT_SOURCE_URL \(--source-url\) is required\. ELT_DESTINATION_URL \(--destination-url\) is required\./],
    [{ ...urls, ELT_SOURCE_URL: 'mysql://x' }, /ELT_SOURCE_URL \(--source-url\) must be a PostgreSQL URL/],
    [{ ...urls, ELT_SLOT: 'Bad-Slot' }, /ELT_SLOT \(--slot\) must be 1-63 lower-case letters/],
    [{ ...urls, ELT_METRICS_PORT: '70000' }, /ELT_METRICS_PORT \(--metrics-port\) must be a port number/],
    [{ ...urls, ELT_METRICS_PORT: 'abc' }, /ELT_METRICS_PORT \(--metrics-port\) must be a whole number\./],
    [{ ...urls, ELT_DELETE_MODE: 'maybe' }, /ELT_DELETE_MODE \(--delete-mode\) must be hard or soft/],
    [
      { ...urls, ELT_DELETE_MODE: 'soft', ELT_SOFT_DELETE_RETENTION: '30 days' },
      /ELT_SOFT_DELETE_RETENTION \(--soft-delete-retention\) must be a duration of at least 1s like 30d/,
    ],
    [
      { ...urls, ELT_SOFT_DELETE_RETENTION: '30d' },
      /ELT_SOFT_DELETE_RETENTION \(--soft-delete-retention\) needs ELT_DELETE_MODE=soft/,
    ],
    [
      { ...urls, ELT_PRUNE_INTERVAL: '0s' },
      /ELT_PRUNE_INTERVAL \(--prune-interval\) must be a duration of at least 1s/,
    ],
  ])('names the bad setting in one sentence: %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('target schemas', () => {
  it.each([
    [{ ELT_TARGET_SCHEMA: 'elt' }, /ELT_TARGET_SCHEMA \(--target-schema\) must not be elt: elt's control schema/],
    [{ ELT_TARGET_SCHEMA: 'pg_temp' }, /ELT_TARGET_SCHEMA \(--target-schema\) must not be pg_temp/],
    [
      { ELT_SOURCE_SCHEMAS: 'public,sales', ELT_TARGET_SCHEMA_MAP: 'sales:elt' },
      /ELT_TARGET_SCHEMA_MAP \(--target-schema-map\) must not name elt/,
    ],
    [
      { ELT_TARGET_SCHEMA_MAP: 'sales:staging_sales' },
      /maps sales, which ELT_SOURCE_SCHEMAS does not replicate \(add it there, or remove it from the map\)/,
    ],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig({ ...urls, ...env })).toThrow(message);
  });

  it('reads the map', () => {
    expect(
      loadConfig({ ...urls, ELT_SOURCE_SCHEMAS: 'public,sales', ELT_TARGET_SCHEMA_MAP: 'sales:staging_sales' })
        .targetSchemaMap,
    ).toEqual({ sales: 'staging_sales' });
  });
});

describe('loadConfig with a settings file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'elt-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads the column policy from the file: exclusions as a list, masks as a mapping of column to method', () => {
    const config = file(
      'columns.yaml',
      [
        'exclude_columns: [public.users.ssn, "*.*.password"]',
        'mask_columns:',
        '  public.users.email: hash',
        '  public.users.phone: redact:4',
        'mask_key: a secret of sixteen+ characters',
      ].join('\n'),
    );
    expect(loadConfig(urls, { config })).toMatchObject({
      excludeColumns: ['public.users.ssn', '*.*.password'],
      maskColumns: ['public.users.email:hash', 'public.users.phone:redact:4'],
      maskKey: 'a secret of sixteen+ characters',
    });
  });

  it('takes the file under the environment, and both under the flags', () => {
    const config = file(
      'elt.yaml',
      [
        'source_url: postgres://file@src/shop',
        'destination_url: postgres://file@dst/analytics',
        'slot: from_file',
        'publication: file_pub',
        'target_schema: file_schema',
        'include_tables: [public.orders, public.customers]',
      ].join('\n'),
    );
    expect(
      loadConfig(
        { ELT_SLOT: 'from_env', ELT_PUBLICATION: 'env_pub', ELT_TARGET_SCHEMA: '' },
        { config, slot: 'from_flag' },
      ),
    ).toMatchObject({
      sourceUrl: 'postgres://file@src/shop',
      slot: 'from_flag',
      publication: 'env_pub',
      targetSchema: 'file_schema',
      includeTables: ['public.orders', 'public.customers'],
    });
  });

  it('names the file key of a bad value that came from the file', () => {
    const config = file('bad.yaml', 'batch_max_rows: lots\n');
    expect(() => loadConfig(urls, { config })).toThrow(
      `ELT_BATCH_MAX_ROWS (--batch-max-rows) (batch_max_rows in ${config}) must be a whole number.`,
    );
    expect(() => loadConfig({ ...urls, ELT_BATCH_MAX_ROWS: 'many' }, { config })).toThrow(
      /ELT_BATCH_MAX_ROWS \(--batch-max-rows\) must be/,
    );
  });

  it('says which file it cannot read', () => {
    expect(() => loadConfig(urls, { config: join(dir, 'missing.yaml') })).toThrow(
      `Cannot read the settings file ${join(dir, 'missing.yaml')}: ENOENT.`,
    );
  });
});
