/**
 * The Grafana dashboard's structure: every panel and query uses the provisioned
 * datasource, panel ids are unique, every template variable used is defined, and the
 * panels tile the 24-column grid without overlapping.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE_CONFIG_FILE, DASHBOARD_FILE, DATASOURCES_FILE, type PrometheusConfig } from '../prometheus.js';
import {
  GRAFANA_BUILTINS,
  allPanels,
  usedVariables,
  variableQuery,
  type Dashboard,
  type DatasourceRef,
} from '../queries.js';

const dashboard = JSON.parse(await readFile(DASHBOARD_FILE, 'utf8')) as Dashboard;
const provisioning = parse(await readFile(DATASOURCES_FILE, 'utf8')) as {
  datasources: { uid: string; type: string; name: string; url: string; jsonData?: { timeInterval?: string } }[];
};
const prometheusConfig = parse(await readFile(COMPOSE_CONFIG_FILE, 'utf8')) as PrometheusConfig;
const PANEL_TYPES = new Set(['row', 'timeseries', 'stat', 'bargauge', 'gauge', 'table', 'text']);

function uidOf(datasource: DatasourceRef | string | null | undefined): string | undefined {
  return typeof datasource === 'object' && datasource !== null ? datasource.uid : undefined;
}

describe('grafana/dashboards/elt.json', () => {
  const datasource = provisioning.datasources[0]!;
  const panels = allPanels(dashboard);
  const variables = dashboard.templating?.list ?? [];

  it('has a uid, a title and panels', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(panels.length).toBeGreaterThan(10);
  });

  it('names the provisioned Prometheus datasource in every panel, query and variable', () => {
    expect(provisioning.datasources).toHaveLength(1);
    expect(datasource).toMatchObject({ uid: 'elt-prometheus', type: 'prometheus' });
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(uidOf(panel.datasource), `panel ${panel.title}`).toBe(datasource.uid);
      expect(panel.targets?.length, `panel ${panel.title} has no query`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(uidOf(target.datasource), `panel ${panel.title} query ${target.refId}`).toBe(datasource.uid);
        expect(target.expr?.trim(), `panel ${panel.title} query ${target.refId}`).toBeTruthy();
      }
    }
    for (const variable of variables.filter((v) => v.type === 'query'))
      expect(uidOf(variable.datasource), `variable ${variable.name}`).toBe(datasource.uid);
  });

  it('provisions the datasource with the scrape interval, so that $__rate_interval covers four scrapes', () => {
    expect(datasource.jsonData?.timeInterval).toBe(prometheusConfig.global.scrape_interval);
    expect(datasource.url).toBe('$PROMETHEUS_URL');
  });

  it('has unique panel ids and unique refIds within a panel', () => {
    const ids = panels.map((p) => p.id);
    for (const id of ids) expect(Number.isInteger(id) && id! > 0, `panel id ${id}`).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, `panel ${panel.title}`).toBe(refIds.length);
    }
  });

  it('uses only known panel types, each with a title', () => {
    for (const panel of panels) {
      expect(PANEL_TYPES, `panel ${panel.id}`).toContain(panel.type);
      expect(panel.title?.trim(), `panel ${panel.id}`).toBeTruthy();
    }
  });

  it('defines every template variable it uses, each before its first use by another variable', () => {
    const defined = new Set<string>();
    for (const variable of variables) {
      expect(variable.name).toMatch(/^[A-Za-z0-9_]+$/);
      expect(defined.has(variable.name), `variable ${variable.name} defined twice`).toBe(false);
      for (const used of usedVariables(variableQuery(variable))) {
        if (!GRAFANA_BUILTINS.has(used))
          expect(defined, `variable ${variable.name} uses $${used} before it is defined`).toContain(used);
      }
      defined.add(variable.name);
    }
    for (const panel of panels) {
      const texts = [
        panel.title ?? '',
        panel.description ?? '',
        ...(panel.targets ?? []).flatMap((t) => [t.expr ?? '', t.legendFormat ?? '']),
      ];
      for (const used of texts.flatMap(usedVariables)) {
        if (!GRAFANA_BUILTINS.has(used)) expect(defined, `panel ${panel.title} uses $${used}`).toContain(used);
      }
    }
  });

  it('places every panel inside the 24-column grid without overlaps', () => {
    const placed: { title: string; x: number; y: number; w: number; h: number }[] = [];
    for (const panel of panels) {
      const g = panel.gridPos;
      expect(g, `panel ${panel.title} has no gridPos`).toBeDefined();
      const { x, y, w, h } = g!;
      for (const v of [x, y, w, h])
        expect(Number.isInteger(v) && v >= 0, `panel ${panel.title} gridPos ${JSON.stringify(g)}`).toBe(true);
      expect(w >= 1 && h >= 1 && x + w <= 24, `panel ${panel.title} gridPos ${JSON.stringify(g)}`).toBe(true);
      for (const other of placed) {
        const overlap = x < other.x + other.w && other.x < x + w && y < other.y + other.h && other.y < y + h;
        expect(overlap, `panels ${panel.title} and ${other.title} overlap`).toBe(false);
      }
      placed.push({ title: panel.title ?? '', x, y, w, h });
    }
  });
});
