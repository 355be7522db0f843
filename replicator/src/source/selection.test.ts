import { describe, expect, it } from 'vitest';
import { parsePattern, parsePatterns, TableSelection } from './selection.js';

describe('parsePatterns', () => {
  it.each([
    ['public.orders', ['public.orders']],
    [' public.orders , sales.* ,', ['public.orders', 'sales.*']],
    ['', []],
  ])('%j gives %j', (list, texts) => {
    expect(parsePatterns(list).map((p) => p.text)).toEqual(texts);
  });

  it.each(['orders', 'a.b.c', '.orders', 'public.'])('refuses %j: a pattern is schema.table', (text) => {
    expect(() => parsePattern(text)).toThrow(/is not a schema\.table pattern/);
  });
});

describe('TableSelection.decide', () => {
  it.each([
    // [include, exclude, schema, table, selected, reason]
    [[], [], 'public', 'orders', true, /ELT_INCLUDE_TABLES is not set/],
    [['public.orders'], [], 'public', 'orders', true, /pattern 'public\.orders' matches it/],
    [['public.orders'], [], 'public', 'orders2', false, /no ELT_INCLUDE_TABLES pattern matches it/],
    [['public.order?'], [], 'public', 'orders', true, /'public\.order\?'/],
    [['public.order?'], [], 'public', 'order', false, /Add public\.order to ELT_INCLUDE_TABLES/],
    [['public.*'], [], 'sales', 'orders', false, /no ELT_INCLUDE_TABLES pattern/],
    [['*.orders'], [], 'sales', 'orders', true, /'\*\.orders'/],
    // Case-sensitive, as PostgreSQL names are.
    [['public.Orders'], [], 'public', 'orders', false, /no ELT_INCLUDE_TABLES pattern/],
    // A star stays within its part: it never crosses the dot.
    [['*.x'], [], 'a', 'y.x', false, /no ELT_INCLUDE_TABLES pattern/],
    // Regular-expression characters are literal.
    [['public.a+b'], [], 'public', 'aab', false, /no ELT_INCLUDE_TABLES pattern/],
    [['public.a+b'], [], 'public', 'a+b', true, /'public\.a\+b'/],
    [[], ['public.audit_*'], 'public', 'audit_log', false, /ELT_EXCLUDE_TABLES pattern 'public\.audit_\*' matches it/],
    [[], ['public.audit_*'], 'public', 'auditors', true, /not set/],
    // Exclude wins over include.
    [['public.*'], ['public.audit_*'], 'public', 'audit_log', false, /ELT_EXCLUDE_TABLES pattern/],
    [['public.*'], ['public.audit_*'], 'public', 'orders', true, /'public\.\*' matches it/],
  ])('include %j exclude %j: %s.%s selected %s', (include, exclude, schema, table, selected, reason) => {
    const decision = new TableSelection(include, exclude).decide(schema, table);
    expect(decision.selected).toBe(selected);
    expect(decision.reason).toMatch(reason);
  });

  it('is set only when a pattern is given', () => {
    expect(new TableSelection().isSet).toBe(false);
    expect(new TableSelection([], ['public.x']).isSet).toBe(true);
  });
});
