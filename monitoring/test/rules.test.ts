/**
 * The Prometheus configuration and the alert rules, through promtool: both config files
 * and the rules are valid, the rule unit tests pass, every alert has a unit test where it
 * fires and one where it does not, and every alert tells a person what to do.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  ALERTS_FILE,
  ALERTS_TEST_FILE,
  COMPOSE_CONFIG_FILE,
  LOCAL_CONFIG_FILE,
  runPromtool,
  type PrometheusConfig,
} from '../prometheus.js';

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleTest {
  name?: string;
  alert_rule_test?: { eval_time: string; alertname: string; exp_alerts?: unknown[] | null }[];
}

async function yamlFile<T>(path: string): Promise<T> {
  return parse(await readFile(path, 'utf8')) as T;
}

async function alertRules(): Promise<AlertRule[]> {
  const file = await yamlFile<{ groups: { name: string; rules: AlertRule[] }[] }>(ALERTS_FILE);
  return file.groups.flatMap((g) => g.rules).filter((r) => r.alert);
}

describe('promtool', () => {
  it.each([
    ['check config', ['check', 'config', COMPOSE_CONFIG_FILE]],
    ['check config (local)', ['check', 'config', LOCAL_CONFIG_FILE]],
    ['check rules', ['check', 'rules', ALERTS_FILE]],
    ['test rules', ['test', 'rules', ALERTS_TEST_FILE]],
  ])('%s passes', async (_what, args) => {
    const { code, output } = await runPromtool(args);
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });
});

describe('alerts.yml', () => {
  it('has the alerts the runbook promises', async () => {
    const names = (await alertRules()).map((r) => r.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        'EltReplicatorDown',
        'EltReplicatorNotStreaming',
        'EltReplicationLagHigh',
        'EltSlotInactive',
        'EltSlotRetainedWalHigh',
        'EltTableInError',
        'EltResyncFailed',
        'EltSnapshotStalled',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
  });

  it('gives every alert a severity, a summary, a description and a runbook line', async () => {
    for (const rule of await alertRules()) {
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      for (const key of ['summary', 'description', 'runbook'])
        expect(rule.annotations?.[key]?.trim().length ?? 0, `${rule.alert} ${key}`).toBeGreaterThan(10);
    }
  });

  it('is covered by alerts.test.yml: every alert fires in one case and stays silent in another', async () => {
    const tests = (await yamlFile<{ tests: RuleTest[] }>(ALERTS_TEST_FILE)).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of await alertRules()) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${rule.alert} has no case where it fires`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${rule.alert} has no case where it stays silent`,
      ).toBe(true);
    }
  });
});

describe('prometheus.yml and prometheus.local.yml', () => {
  it('differ only in their targets', async () => {
    const compose = await yamlFile<PrometheusConfig>(COMPOSE_CONFIG_FILE);
    const local = await yamlFile<PrometheusConfig>(LOCAL_CONFIG_FILE);
    const withoutTargets = (c: PrometheusConfig) => ({
      ...c,
      scrape_configs: c.scrape_configs.map((j) => ({ ...j, static_configs: j.static_configs.map(() => 'targets') })),
    });
    expect(withoutTargets(local)).toEqual(withoutTargets(compose));
    const targets = (c: PrometheusConfig) =>
      Object.fromEntries(c.scrape_configs.map((j) => [j.job_name, j.static_configs.flatMap((s) => s.targets)]));
    expect(targets(compose)).toMatchObject({ 'elt-replicator': ['replicator:9464'], 'elt-api': ['api:5001'] });
    expect(targets(local)).toMatchObject({ 'elt-replicator': ['127.0.0.1:9464'], 'elt-api': ['127.0.0.1:5001'] });
    expect(compose.rule_files).toEqual(['alerts.yml']);
  });
});
