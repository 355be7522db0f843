import { describe, expect, it } from 'vitest';
import { parseSchemaMap, TargetSchemas } from './target-schemas.js';

describe('target schemas', () => {
  const targets = new TargetSchemas('staging', { sales: 'staging_sales', hr: 'staging' });

  it.each([
    ['public', 'staging'],
    ['sales', 'staging_sales'],
    ['hr', 'staging'],
    ['unmapped', 'staging'],
  ])('puts the tables of %s in %s', (source, target) => {
    expect(targets.of(source)).toBe(target);
  });

  it('lists the targets the source schemas use, the default first, each once', () => {
    expect(targets.all(['sales', 'hr', 'public'])).toEqual(['staging', 'staging_sales']);
    expect(targets.all(['sales'])).toEqual(['staging', 'staging_sales']);
  });

  it.each([
    ['', {}],
    ['public:staging, sales:staging_sales', { public: 'staging', sales: 'staging_sales' }],
    ['Sales Team:Sales Staging,', { 'Sales Team': 'Sales Staging' }],
  ])('parses %j', (text, map) => {
    expect(parseSchemaMap(text)).toEqual(map);
  });

  it.each([
    ['sales', /'sales' is not a source:target pair/],
    ['sales:', /'sales:' is not a source:target pair/],
    ['a:b:c', /'a:b:c' is not a source:target pair/],
    ['sales:x,sales:y', /names the source schema sales twice/],
    [`sales:${'x'.repeat(64)}`, /longer than 63 characters/],
  ])('refuses %j with a sentence', (text, message) => {
    expect(() => parseSchemaMap(text)).toThrow(message);
  });
});
