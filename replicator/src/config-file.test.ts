import { describe, expect, it } from 'vitest';
import { parseConfigFile } from './config-file.js';
import { SETTINGS } from './config.js';

const parse = (text: string) => parseConfigFile(text, 'elt.yaml', SETTINGS);

describe('the settings file', () => {
  it('reads each setting under its variable in lower case without ELT_', () => {
    expect(
      parse(
        [
          'source_url: postgres://u:p@src:5432/shop',
          'slot: shop_slot',
          'batch_max_rows: 5000',
          'verify_repair: true',
          'source_schemas: [public, sales]',
          'include_tables:',
          '  - public.orders',
          "  - 'sales.*'",
          'exclude_tables: sales.audit_*',
        ].join('\n'),
      ),
    ).toEqual({
      sourceUrl: 'postgres://u:p@src:5432/shop',
      slot: 'shop_slot',
      batchMaxRows: '5000',
      verifyRepair: 'true',
      sourceSchemas: 'public,sales',
      includeTables: 'public.orders,sales.*',
      excludeTables: 'sales.audit_*',
    });
  });

  it('turns a mapping into key:value items and leaves an empty value unset', () => {
    expect(parse('exclude_tables:\n  public.a: x\n  public.b: y\nslot:\n')).toEqual({
      excludeTables: 'public.a:x,public.b:y',
    });
  });

  it.each([
    ['', {}],
    ['# only a comment\n', {}],
  ])('an empty file sets nothing: %j', (text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  it.each([
    ['slott: x\nsorce_url: y', /^The settings file elt\.yaml: slott is not a setting; sorce_url is not a setting\.$/],
    ['ELT_SLOT: x', /ELT_SLOT is not a setting/],
    ['include_tables: [[a, b]]', /include_tables must be a value, a list of values or a mapping of values/],
    ['- slot\n- x', /must be a mapping of settings/],
    ['slot: [unclosed', /is not valid YAML/],
    ['just text', /must be a mapping of settings/],
  ])('refuses %j with a sentence', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });
});
