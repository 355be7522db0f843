/**
 * chaos/audit.ts without the network: what it makes of npm audit's JSON (a report with
 * advisories, a clean one, a refusal), of pip check's lines, and how explanations match.
 * And chaos/audit-explained.json itself must parse.
 */
import { describe, expect, it } from 'vitest';
import { judge, loadExplanations, parseNpmAudit, parsePipCheck, type Explanation } from './audit.js';

/** The shape npm 7+ prints (auditReportVersion 2): esbuild's advisory reaches vite through it. */
const REPORT = JSON.stringify({
  auditReportVersion: 2,
  vulnerabilities: {
    esbuild: {
      name: 'esbuild',
      severity: 'moderate',
      isDirect: false,
      via: [
        {
          source: 1102341,
          name: 'esbuild',
          dependency: 'esbuild',
          title: 'esbuild enables any website to send any requests to the development server and read the response',
          url: 'https://github.com/advisories/GHSA-67mh-4wv8-2f99',
          severity: 'moderate',
          cwe: ['CWE-346'],
          cvss: { score: 5.3, vectorString: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N' },
          range: '<=0.24.2',
        },
      ],
      effects: ['vite'],
      range: '<=0.24.2',
      nodes: ['node_modules/esbuild'],
      fixAvailable: { name: 'vitest', version: '3.0.5', isSemVerMajor: true },
    },
    vite: {
      name: 'vite',
      severity: 'moderate',
      isDirect: false,
      via: ['esbuild'],
      effects: ['vitest'],
      range: '0.11.0 - 6.1.6',
      nodes: ['node_modules/vite'],
      fixAvailable: true,
    },
  },
  metadata: {
    vulnerabilities: { info: 0, low: 0, moderate: 2, high: 0, critical: 0, total: 2 },
    dependencies: { prod: 107, dev: 72, optional: 60, peer: 0, peerOptional: 0, total: 178 },
  },
});
const CLEAN = JSON.stringify({
  auditReportVersion: 2,
  vulnerabilities: {},
  metadata: { vulnerabilities: { total: 0 }, dependencies: { prod: 107, dev: 72, total: 178 } },
});
/** What this workplace's registry answers: the bulk advisory endpoint refuses POST. */
const REFUSED = JSON.stringify({
  message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
  statusCode: 405,
  error: { summary: '', detail: '' },
});

const EXPLAINED: Explanation = {
  source: 'npm',
  package: 'esbuild',
  id: 'GHSA-67mh-4wv8-2f99',
  where: 'dev',
  reason: 'Only the dev server is affected; we never run it (vitest runs no dev server).',
  reviewed: '2026-11-27',
};

describe('parseNpmAudit', () => {
  it('turns each advisory into one finding, with its fix; packages affected only through it are not repeated', () => {
    const { check, findings } = parseNpmAudit({ code: 1, stdout: REPORT, stderr: '' }, false);
    expect(check).toEqual({ name: 'npm audit (whole tree)', status: 'ran', note: '178 packages (107 prod, 72 dev)' });
    expect(findings).toEqual([
      {
        source: 'npm',
        package: 'esbuild',
        id: 'GHSA-67mh-4wv8-2f99',
        where: 'dev',
        severity: 'moderate',
        detail:
          'esbuild enables any website to send any requests to the development server and read the response (<=0.24.2)',
        fix: 'vitest@3.0.5 (semver-major)',
      },
    ]);
  });

  it('a clean report ran and found nothing; a refusal is "could not run", never clean', () => {
    expect(parseNpmAudit({ code: 0, stdout: CLEAN, stderr: '' }, true)).toMatchObject({
      check: { status: 'ran' },
      findings: [],
    });
    const refused = parseNpmAudit(
      { code: 1, stdout: REFUSED, stderr: 'npm error audit endpoint returned an error' },
      true,
    );
    expect(refused.check).toMatchObject({
      name: 'npm audit --omit=dev',
      status: 'unavailable',
      note: expect.stringContaining('405 Method Not Allowed'),
    });
    expect(parseNpmAudit({ code: null, stdout: '', stderr: '', error: 'spawn npm ENOENT' }, false).check.status).toBe(
      'unavailable',
    );
  });
});

describe('parsePipCheck', () => {
  it('one finding per broken requirement; none when pip says so; null when it did not run', () => {
    expect(parsePipCheck({ code: 0, stdout: 'No broken requirements found.\n', stderr: '' }, 'dbt')).toEqual([]);
    const broken = parsePipCheck(
      {
        code: 1,
        stdout:
          'apache-airflow 3.0.2 has requirement sqlalchemy<2.0,>=1.4.49, but you have sqlalchemy 2.0.41.\nFoo-Bar 1.0 requires baz, which is not installed.\n',
        stderr: '',
      },
      'airflow',
    );
    expect(broken?.map((f) => [f.package, f.where])).toEqual([
      ['apache-airflow', 'airflow'],
      ['foo-bar', 'airflow'],
    ]);
    expect(parsePipCheck({ code: 1, stdout: '', stderr: 'No module named pip' }, 'dbt')).toBeNull();
  });
});

describe('judge', () => {
  const ran = [{ name: 'npm audit (whole tree)', status: 'ran' as const, note: '' }];
  const findings = parseNpmAudit({ code: 1, stdout: REPORT, stderr: '' }, false).findings;

  it('an explained finding passes, an unexplained one fails, a stale explanation is listed', () => {
    expect(judge(ran, findings, [EXPLAINED])).toMatchObject({ exitCode: 0, stale: [] });
    expect(judge(ran, findings, [])).toMatchObject({ exitCode: 1 });
    expect(judge(ran, findings, [{ ...EXPLAINED, where: 'prod' }]).exitCode).toBe(1);
    expect(judge(ran, [], [EXPLAINED])).toMatchObject({ exitCode: 0, stale: [EXPLAINED] });
  });

  it('a check that could not run makes the result incomplete (2), unless something is unexplained (1)', () => {
    const refused = [...ran, { name: 'npm audit --omit=dev', status: 'unavailable' as const, note: '405' }];
    expect(judge(refused, [], []).exitCode).toBe(2);
    expect(judge(refused, findings, []).exitCode).toBe(1);
  });

  it('an advisory in production is reported once, as prod', () => {
    const prod = parseNpmAudit({ code: 1, stdout: REPORT, stderr: '' }, true).findings;
    const report = judge(ran, [...findings, ...prod], []);
    expect(report.findings.map((f) => f.where)).toEqual(['prod']);
  });
});

it('chaos/audit-explained.json parses', () => {
  expect(Array.isArray(loadExplanations())).toBe(true);
});
