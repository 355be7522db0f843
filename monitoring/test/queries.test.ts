/**
 * The PromQL helpers the monitoring tests rely on: metric names, probes (an alert's
 * expression without its threshold) and Grafana template variables.
 */
import { describe, expect, it } from 'vitest';
import {
  alertProbes,
  declaredSampleNames,
  exposedSampleNames,
  metricNames,
  stripThreshold,
  substituteVariables,
  usedVariables,
} from '../queries.js';

describe('metricNames', () => {
  it.each([
    ['up{job="elt-replicator"} == 0 or absent(up{job="elt-replicator"})', ['up']],
    [
      'sum by (table, operation) (rate(elt_applied_changes_total{job="x", table=~"$table"}[$__rate_interval]))',
      ['elt_applied_changes_total'],
    ],
    [
      'histogram_quantile(0.99, sum by (le) (rate(elt_apply_batch_duration_seconds_bucket[5m])))',
      ['elt_apply_batch_duration_seconds_bucket'],
    ],
    [
      'max by (instance) (a{state="snapshotting"}) == 1 unless on (instance) sum by (instance) (changes(b[30m])) > 0',
      ['a', 'b'],
    ],
    ['clamp_max(x / clamp_min(y, 1), 1)', ['x', 'y']],
    ['rate(m{a="by (foo)"}[1m]) offset 5m', ['m']],
  ])('%s', (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });
});

describe('alertProbes', () => {
  it.each([
    ['up{job="r"} == 0 or absent(up{job="r"})', ['up{job="r"}', 'up{job="r"}']],
    ['max by (instance) (lag) > 300', ['max by (instance) (lag)']],
    ['x > 5368709120', ['x']],
    [
      'max by (i) (s{state="snap"}) == 1\nunless on (i)\nsum by (i) (changes(r[30m])) > 0',
      ['max by (i) (s{state="snap"})', 'sum by (i) (changes(r[30m]))'],
    ],
    ['(a > bool 1) and on (x) group_left (y) b < -2', ['a', 'b']],
    ['absent_over_time(m{a="b"}[5m])', ['m{a="b"}']],
    ['a > b', ['a > b']],
    ['rate(x[5m]) > 0.5 * 2', ['rate(x[5m]) > 0.5 * 2']],
  ])('%s', (expr, probes) => {
    expect(alertProbes(expr)).toEqual(probes);
  });

  it('leaves comparisons inside function calls alone', () => {
    expect(stripThreshold('count(x > 1)')).toBe('count(x > 1)');
  });
});

describe('template variables', () => {
  const expr =
    'rate(m{instance=~"$instance", table=~"${table}", t="[[table]]", f="${instance:regex}"}[$__rate_interval])';

  it('finds every form', () => {
    expect(usedVariables(expr).sort()).toEqual(['__rate_interval', 'instance', 'table']);
  });

  it('substitutes every form and refuses an unknown one', () => {
    expect(substituteVariables(expr, { instance: '.*', table: 'public.orders', __rate_interval: '1m' })).toBe(
      'rate(m{instance=~".*", table=~"public.orders", t="public.orders", f=".*"}[1m])',
    );
    expect(() => substituteVariables('$nope', {})).toThrow(/nope/);
  });
});

it('exposedSampleNames reads sample names, not comments', () => {
  const text = '# HELP a_total x\n# TYPE a_total counter\na_total{k="v"} 1\nb_bucket{le="1"} 2\nc 3\n';
  expect([...exposedSampleNames(text)]).toEqual(['a_total', 'b_bucket', 'c']);
});

it('declaredSampleNames reads # TYPE lines, histograms with their samples', () => {
  const text = '# HELP a_total x\n# TYPE a_total counter\n# TYPE h histogram\nh_bucket{le="1"} 2\n';
  expect([...declaredSampleNames(text)].sort()).toEqual(['a_total', 'h', 'h_bucket', 'h_count', 'h_sum']);
});
