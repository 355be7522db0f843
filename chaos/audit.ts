/**
 * The dependency audit: `npm audit` over the whole npm tree and over what production
 * installs (--omit=dev), and `pip check` in each Python virtualenv the Makefile builds
 * (dbt, Airflow, hadolint; schemathesis when chaos/ has its requirements). Every finding is
 * compared with chaos/audit-explained.json, the reviewed findings with the reason each is
 * acceptable (chaos/AUDIT.md says how to review one); then one table, and the exit code:
 *
 *   0  every check ran, every finding is explained
 *   1  at least one finding is not explained
 *   2  nothing unexplained, but a check could not run (the advisory service refused, a
 *      virtualenv is missing): the result is unknown, which is not the same as clean
 *
 *   npx tsx chaos/audit.ts           table, and figures into .elt/chaos/figures.jsonl
 *   npx tsx chaos/audit.ts --json    the whole report as JSON (no figures)
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { REPO_ROOT } from '../harness/replication.js';
import { airflowVenv, cacheDir, dbtVenv, schemathesisVenv } from '../harness/venvs.js';
import { recordFigure } from './figures.js';

export const EXPLAINED_FILE = join(REPO_ROOT, 'chaos', 'audit-explained.json');
const COMMAND_TIMEOUT_MS = 180_000;

/** One reviewed finding: why it is acceptable, and what would remove it. */
const explanationSchema = z.object({
  source: z.enum(['npm', 'pip']),
  /** The vulnerable (npm) or complaining (pip) package. */
  package: z.string().min(1),
  /** npm: the advisory (GHSA-… or the npm advisory number); pip: a part of the `pip check` line. */
  id: z.string().min(1),
  /** npm: "prod" or "dev"; pip: the virtualenv's name. Absent: anywhere. */
  where: z.string().optional(),
  reason: z.string().min(20, 'must say why the finding is acceptable'),
  /** The upgrade or change that would remove it, if any. */
  proposed: z.string().optional(),
  reviewed: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD'),
});
export type Explanation = z.infer<typeof explanationSchema>;
const explainedFileSchema = z.object({ explained: z.array(explanationSchema) });

export interface Finding {
  source: 'npm' | 'pip';
  package: string;
  id: string;
  /** npm: prod (reaches production) or dev; pip: the virtualenv. */
  where: string;
  severity: string;
  detail: string;
  fix: string;
}

export interface CheckResult {
  name: string;
  status: 'ran' | 'unavailable';
  /** Why it could not run, or what it checked. */
  note: string;
}

export interface AuditReport {
  checks: CheckResult[];
  findings: (Finding & { explanation: Explanation | null })[];
  /** Explanations that match no finding any more: remove them from audit-explained.json. */
  stale: Explanation[];
  exitCode: 0 | 1 | 2;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024, timeout: COMMAND_TIMEOUT_MS },
      (error, stdout, stderr) => {
        if (!error) return resolve({ code: 0, stdout, stderr });
        // A number is the exit code; anything else (ENOENT, a timeout) means it did not run.
        const code: unknown = (error as { code?: unknown }).code;
        if (typeof code === 'number') return resolve({ code, stdout, stderr });
        resolve({
          code: null,
          stdout,
          stderr,
          error: error.killed ? `timed out after ${COMMAND_TIMEOUT_MS} ms` : error.message,
        });
      },
    );
  });
}

// ---------------------------------------------------------------------------------- npm

const npmVia = z.union([
  z.string(),
  z.object({
    source: z.union([z.number(), z.string()]),
    name: z.string(),
    title: z.string().default(''),
    url: z.string().default(''),
    severity: z.string().default('unknown'),
    range: z.string().default(''),
  }),
]);
const npmAuditSchema = z.object({
  vulnerabilities: z.record(
    z.string(),
    z.object({
      name: z.string(),
      severity: z.string(),
      via: z.array(npmVia),
      fixAvailable: z
        .union([
          z.boolean(),
          z.object({ name: z.string(), version: z.string(), isSemVerMajor: z.boolean().optional() }),
        ])
        .optional(),
    }),
  ),
  metadata: z
    .object({ dependencies: z.record(z.string(), z.number()).optional() })
    .passthrough()
    .optional(),
});

/** `npm audit --json` [--omit=dev]: advisories by package, or why it could not run. */
async function npmAudit(omitDev: boolean): Promise<{ check: CheckResult; findings: Finding[] }> {
  return parseNpmAudit(await run('npm', ['audit', '--json', ...(omitDev ? ['--omit=dev'] : [])]), omitDev);
}

/** What `npm audit --json` printed (exit code 1 means "found some", not "failed"). */
export function parseNpmAudit(result: Run, omitDev: boolean): { check: CheckResult; findings: Finding[] } {
  const name = omitDev ? 'npm audit --omit=dev' : 'npm audit (whole tree)';
  let json: unknown;
  try {
    json = JSON.parse(result.stdout);
  } catch {
    return {
      check: { name, status: 'unavailable', note: `npm printed no JSON: ${result.error ?? firstLine(result.stderr)}` },
      findings: [],
    };
  }
  const parsed = npmAuditSchema.safeParse(json);
  if (!parsed.success) {
    const e = json as { message?: string; statusCode?: number; error?: { summary?: string; code?: string } };
    const why = e.error?.summary || e.message || firstLine(result.stderr) || 'an unexpected answer';
    return { check: { name, status: 'unavailable', note: `the advisory service refused: ${why}` }, findings: [] };
  }
  const findings: Finding[] = [];
  for (const vulnerability of Object.values(parsed.data.vulnerabilities)) {
    for (const via of vulnerability.via) {
      if (typeof via === 'string') continue; // affected only through another package: that one carries the advisory
      const fix = vulnerability.fixAvailable;
      findings.push({
        source: 'npm',
        package: via.name,
        id: /GHSA-[\w-]+/.exec(via.url)?.[0] ?? String(via.source),
        where: omitDev ? 'prod' : 'dev',
        severity: via.severity,
        detail: `${via.title} (${via.range})`.trim(),
        fix:
          fix === undefined || fix === false
            ? 'no fix available'
            : fix === true
              ? 'npm audit fix'
              : `${fix.name}@${fix.version}${fix.isSemVerMajor ? ' (semver-major)' : ''}`,
      });
    }
  }
  const deps = parsed.data.metadata?.dependencies;
  const note = deps ? `${deps.total ?? '?'} packages (${deps.prod ?? '?'} prod, ${deps.dev ?? '?'} dev)` : 'ran';
  return { check: { name, status: 'ran', note }, findings: dedupe(findings) };
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Map<string, Finding>();
  for (const f of findings) seen.set(`${f.source} ${f.package} ${f.id} ${f.where}`, f);
  return [...seen.values()];
}

// ---------------------------------------------------------------------------------- pip

export function virtualenvs(): { name: string; path: string; makeTarget: string }[] {
  const venvs = [
    { name: 'dbt', path: dbtVenv(), makeTarget: 'make dbt-deps' },
    { name: 'airflow', path: airflowVenv(), makeTarget: 'make airflow-deps' },
    {
      name: 'hadolint',
      path: process.env.ELT_HADOLINT
        ? join(process.env.ELT_HADOLINT, '..', '..')
        : join(cacheDir(), 'venv-hadolint-2.15.1'),
      makeTarget: 'make test-node (it installs hadolint)',
    },
  ];
  if (existsSync(join(REPO_ROOT, 'chaos', 'requirements-schemathesis.txt'))) {
    venvs.push({ name: 'schemathesis', path: schemathesisVenv(), makeTarget: 'make chaos-deps' });
  }
  return venvs;
}

/** `pip check` in one virtualenv: each broken requirement is a finding. */
async function pipCheck(venv: {
  name: string;
  path: string;
  makeTarget: string;
}): Promise<{ check: CheckResult; findings: Finding[] }> {
  const name = `pip check (${venv.name})`;
  const python = join(venv.path, 'bin', 'python');
  if (!existsSync(python)) {
    return {
      check: { name, status: 'unavailable', note: `no virtualenv at ${venv.path}: run ${venv.makeTarget}` },
      findings: [],
    };
  }
  const result = await run(python, ['-m', 'pip', 'check', '--disable-pip-version-check']);
  const findings = parsePipCheck(result, venv.name);
  if (findings === null) {
    return {
      check: {
        name,
        status: 'unavailable',
        note: `pip check did not run: ${result.error ?? `exit ${result.code}, ${firstLine(result.stderr)}`}`,
      },
      findings: [],
    };
  }
  const count = (await run(python, ['-m', 'pip', 'list', '--format=freeze', '--disable-pip-version-check'])).stdout
    .split('\n')
    .filter(Boolean).length;
  return { check: { name, status: 'ran', note: `${count} packages in ${venv.path}` }, findings };
}

/** The broken requirements `pip check` printed, one finding a line; null if it did not run. */
export function parsePipCheck(result: Run, venv: string): Finding[] | null {
  if (result.code === null) return null;
  const lines = result.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^No broken requirements found/.test(l));
  if (result.code !== 0 && lines.length === 0) return null;
  return lines.map((line): Finding => ({
    source: 'pip',
    package: line.split(/\s+/)[0]!.toLowerCase(),
    id: line,
    where: venv,
    severity: 'broken requirement',
    detail: line,
    fix: 'reinstall the virtualenv or change the pins',
  }));
}

// ---------------------------------------------------------------------------------- report

export function loadExplanations(path = EXPLAINED_FILE): Explanation[] {
  if (!existsSync(path)) return [];
  const parsed = explainedFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    throw new Error(`${path} is not a valid list of explained findings: ${issues}. Fix it and run the audit again.`);
  }
  return parsed.data.explained;
}

export function explains(explanation: Explanation, finding: Finding): boolean {
  if (explanation.source !== finding.source || explanation.package.toLowerCase() !== finding.package.toLowerCase())
    return false;
  if (explanation.where !== undefined && explanation.where !== finding.where) return false;
  return finding.source === 'npm' ? explanation.id === finding.id : finding.detail.includes(explanation.id);
}

/** Match findings with explanations and decide the exit code. */
export function judge(checks: CheckResult[], findings: Finding[], explanations: Explanation[]): AuditReport {
  // A production advisory is also in the whole tree's report: keep it once, as prod.
  const prodKeys = new Set(
    findings.filter((f) => f.source === 'npm' && f.where === 'prod').map((f) => `${f.package} ${f.id}`),
  );
  const unique = findings.filter(
    (f) => !(f.source === 'npm' && f.where === 'dev' && prodKeys.has(`${f.package} ${f.id}`)),
  );
  const judged = unique.map((f) => ({ ...f, explanation: explanations.find((e) => explains(e, f)) ?? null }));
  const stale = explanations.filter((e) => !unique.some((f) => explains(e, f)));
  const unexplained = judged.filter((f) => f.explanation === null).length;
  const exitCode = unexplained > 0 ? 1 : checks.some((c) => c.status !== 'ran') ? 2 : 0;
  return { checks, findings: judged, stale, exitCode };
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatReport(report: AuditReport): string {
  const out: string[] = [];
  out.push(
    table([
      ['check', 'result', 'note'],
      ...report.checks.map((c) => [c.name, c.status === 'ran' ? 'ran' : 'COULD NOT RUN', c.note]),
    ]),
  );
  out.push('');
  if (report.findings.length === 0) {
    out.push('findings: none from the checks that ran');
  } else {
    const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
    out.push(
      table([
        ['source', 'where', 'package', 'advisory / problem', 'severity', 'fix', 'status'],
        ...report.findings.map((f) => [
          f.source,
          f.where,
          f.package,
          cut(f.source === 'npm' ? `${f.id} ${f.detail}` : f.detail, 70),
          f.severity,
          cut(f.fix, 30),
          f.explanation ? 'explained' : 'UNEXPLAINED',
        ]),
      ]),
    );
  }
  for (const e of report.stale)
    out.push(
      `stale explanation (no such finding any more; remove it from chaos/audit-explained.json): ${e.source} ${e.package} ${e.id}`,
    );
  const unexplained = report.findings.filter((f) => !f.explanation).length;
  out.push('');
  out.push(
    report.exitCode === 0
      ? `audit clean: every check ran; ${report.findings.length} finding(s), all explained in chaos/AUDIT.md.`
      : report.exitCode === 1
        ? `audit FAILED: ${unexplained} unexplained finding(s). Upgrade the package, or review it and add it to chaos/audit-explained.json and chaos/AUDIT.md.`
        : `audit INCOMPLETE: ${report.checks
            .filter((c) => c.status !== 'ran')
            .map((c) => c.name)
            .join(
              ', ',
            )} could not run, so their result is unknown (see the notes above); no unexplained finding in the rest.`,
  );
  return out.join('\n');
}

export async function runAudit(): Promise<AuditReport> {
  const explanations = loadExplanations();
  const parts = [await npmAudit(false), await npmAudit(true)];
  for (const venv of virtualenvs()) parts.push(await pipCheck(venv));
  return judge(
    parts.map((p) => p.check),
    parts.flatMap((p) => p.findings),
    explanations,
  );
}

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  const report = await runAudit();
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return report.exitCode;
  }
  process.stdout.write(`${formatReport(report)}\n\n`);
  const count = (pred: (f: AuditReport['findings'][number]) => boolean) => report.findings.filter(pred).length;
  recordFigure({
    fault: 'audit',
    measure: 'checks run / could not run',
    value: `${report.checks.filter((c) => c.status === 'ran').length} / ${report.checks.filter((c) => c.status !== 'ran').length}`,
  });
  const npmRan = report.checks.some((c) => c.name.startsWith('npm') && c.status === 'ran');
  recordFigure({
    fault: 'audit',
    measure: 'npm advisories (prod / dev only)',
    value: npmRan
      ? `${count((f) => f.source === 'npm' && f.where === 'prod')} / ${count((f) => f.source === 'npm' && f.where === 'dev')}`
      : 'unknown (npm audit could not run)',
  });
  recordFigure({ fault: 'audit', measure: 'pip check problems', value: count((f) => f.source === 'pip') });
  recordFigure({ fault: 'audit', measure: 'unexplained findings', value: count((f) => f.explanation === null) });
  return report.exitCode;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`audit: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
