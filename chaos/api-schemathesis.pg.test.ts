/**
 * Bad input, generated: schemathesis (from PyPI, pinned in chaos/requirements-schemathesis.txt)
 * reads the API's own OpenAPI document from a running `elt api` in front of a real
 * destination, and throws requests that violate it at every operation.
 *
 *   valid token, invalid data   every request is refused with a 4xx in the API's error
 *                               format; responses match the document (status, content type,
 *                               schema, headers); methods a path does not have are a 405
 *   no token, a wrong token     valid and invalid requests alike: every call of a mutating
 *                               operation is a 401 (no usable header) or a 403 (another token)
 *
 * Besides schemathesis's own checks, every recorded exchange is checked here too (no 5xx,
 * every error in the format, nothing mutating accepted), and after each run the resync
 * tables, elt.tables and the destination's relations are exactly as before. The numbers
 * of requests go to the chaos figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed, startDestination, type Destination } from '../api/test/helper.js';
import { REPO_ROOT } from '../harness/replication.js';
import { databaseState, ERROR_CODE_OF_STATUS, startApiProcess, TOKEN, type ApiProcess } from './api-harness.js';
import { recordFigure } from './figures.js';
import { schemathesisCli } from './schemathesis-venv.js';

const CONFIG = join(REPO_ROOT, 'chaos', 'schemathesis.toml');
const SEED = '2026';
/** Test cases per operation and phase: about 30 s of negative data. */
const NEGATIVE_EXAMPLES = '200';
const AUTH_EXAMPLES = '100';
/**
 * A run's time grows with the machine's load (one unloaded run takes well under a minute, one
 * on a busy 2-core machine several): the budget is wide, and under the test's own timeout so
 * that a stuck run ends with its output instead of a half-written report.
 */
const RUN_TIMEOUT_MS = 840_000;
const TEST_TIMEOUT_MS = RUN_TIMEOUT_MS + 60_000;
const MUTATING = /^(POST|PUT|PATCH|DELETE)$/;
/** auth.ts: a header this does not match is a 401, one it matches with another token a 403. */
const BEARER = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i;

/** One request schemathesis sent and the answer it got, from its NDJSON report. */
interface Exchange {
  /** The operation under test, e.g. "POST /v1/resync" ("Stateful tests" in that phase). */
  operation: string;
  method: string;
  url: string;
  authorization: string | undefined;
  status: number;
  contentType: string;
  body: string;
}

interface RunReport {
  exitCode: number | null;
  /** The CLI's output, FAILURES section first, cut to a readable size. */
  summary: string;
  testCases: number;
  failures: Array<{ code: string; title: string; operations: string[] }>;
  errors: unknown[];
  exchanges: Exchange[];
}

interface NdjsonInteraction {
  request: { method: string; uri: string; headers: Record<string, string[]> };
  response: {
    status_code: number;
    headers: Record<string, string[]>;
    content?: { $base64?: string; string?: string };
  } | null;
}

function exchangesOf(ndjson: string): Exchange[] {
  const exchanges: Exchange[] = [];
  for (const line of ndjson.split('\n')) {
    if (!line.includes('"ScenarioFinished"')) continue;
    const recorder = (
      JSON.parse(line) as {
        ScenarioFinished: { recorder: { label: string; interactions?: Record<string, NdjsonInteraction> } };
      }
    ).ScenarioFinished.recorder;
    for (const { request, response } of Object.values(recorder.interactions ?? {})) {
      const header = (headers: Record<string, string[]>, name: string) =>
        Object.entries(headers).find(([n]) => n.toLowerCase() === name)?.[1]?.[0];
      const content = response?.content;
      exchanges.push({
        operation: recorder.label,
        method: request.method,
        url: request.uri,
        authorization: header(request.headers, 'authorization'),
        status: response?.status_code ?? 0,
        contentType: response ? (header(response.headers, 'content-type') ?? '') : '',
        body:
          content?.$base64 !== undefined
            ? Buffer.from(content.$base64, 'base64').toString('utf8')
            : (content?.string ?? ''),
      });
    }
  }
  return exchanges;
}

/** Runs still going when the file ends (a test that timed out) are killed then. */
const running = new Set<ChildProcess>();

/** Run `schemathesis run <openapi.json> …args` to completion and read its reports. */
async function runSchemathesis(cli: string, openapiUrl: string, args: string[]): Promise<RunReport> {
  const dir = mkdtempSync(join(tmpdir(), 'elt-schemathesis-'));
  try {
    // One worker: the same requests every run for a seed, and no threads (two workers hit CPython 3.11's
    // "AST constructor recursion depth mismatch" in hypothesis now and then, python/cpython#106905).
    const child = spawn(
      cli,
      [
        '--config-file',
        CONFIG,
        'run',
        openapiUrl,
        '--seed',
        SEED,
        '--no-color',
        '--workers',
        '1',
        '--generation-database',
        'none',
        '--report',
        'ndjson,json',
        '--report-dir',
        dir,
        ...args,
      ],
      {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, LANG: 'C.UTF-8', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    running.add(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    running.delete(child);
    if (killed)
      throw new Error(
        `schemathesis did not finish within ${RUN_TIMEOUT_MS / 1000} s and was killed:\n${output.slice(-4000)}`,
      );
    const reportFile = (prefix: string) => {
      const name = readdirSync(dir).find((f) => f.startsWith(prefix));
      if (!name) throw new Error(`schemathesis wrote no ${prefix} report (exit ${exitCode}):\n${output.slice(-4000)}`);
      return readFileSync(join(dir, name), 'utf8');
    };
    const report = JSON.parse(reportFile('json-')) as {
      test_cases: { generated: number };
      failures: Array<{ code: string; title: string; operations: string[] }>;
      errors: unknown[];
    };
    // From its ERRORS or FAILURES section on (the first there is), long lines cut.
    const sections = ['ERRORS', 'FAILURES']
      .map((title) => output.search(new RegExp(`_ ${title} _|= ${title} =`)))
      .filter((at) => at >= 0);
    const summary = (sections.length > 0 ? output.slice(Math.min(...sections)) : output.slice(-3000))
      .split('\n')
      .map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line))
      .join('\n')
      .slice(0, 12_000);
    return {
      exitCode,
      summary,
      testCases: report.test_cases.generated,
      failures: report.failures,
      errors: report.errors,
      exchanges: exchangesOf(reportFile('ndjson-')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Exchanges that break the rules every answer of this API keeps, one line each. */
function brokenAnswers(exchanges: Exchange[]): string[] {
  const broken: string[] = [];
  for (const e of exchanges) {
    const line = `${e.method} ${e.url.slice(0, 150)} → ${e.status} ${e.body.slice(0, 200)}`;
    if (e.status === 0) broken.push(`no response: ${line}`);
    else if (e.status >= 500) broken.push(`server error: ${line}`);
    else if (MUTATING.test(e.method) && e.status < 300) broken.push(`mutation accepted: ${line}`);
    else if (e.status >= 400) {
      let body: unknown;
      try {
        body = JSON.parse(e.body);
      } catch {
        body = undefined;
      }
      const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const wellFormed =
        /^application\/json\b/.test(e.contentType) &&
        typeof body === 'object' &&
        body !== null &&
        Object.keys(body).length === 1 &&
        typeof error === 'object' &&
        error !== null &&
        Object.keys(error).sort().join() === 'code,message' &&
        typeof error.message === 'string' &&
        error.message.trim() !== '';
      if (!wellFormed) broken.push(`not an error in the API's format: ${line}`);
      else if (error.code !== ERROR_CODE_OF_STATUS[e.status])
        broken.push(`code ${String(error.code)} with status ${e.status}: ${line}`);
    }
  }
  return broken;
}

function statusCounts(exchanges: Exchange[]): string {
  const counts = new Map<number, number>();
  for (const e of exchanges) counts.set(e.status, (counts.get(e.status) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status}×${n}`)
    .join(', ');
}

describe("schemathesis against the API's own OpenAPI document", () => {
  let cli: string;
  let dest: Destination;
  let api: ApiProcess;
  let openapiUrl: string;

  /** Why there is nothing to run: each test fails with it (a missing venv is a failure, not a skip). */
  let missing: Error | null = null;
  const ready = () => {
    if (missing) throw missing;
  };

  beforeAll(async () => {
    try {
      cli = schemathesisCli();
    } catch (error) {
      missing = error as Error;
      return;
    }
    dest = await startDestination('api-schemathesis');
    await seed(dest.pool);
    api = await startApiProcess(dest.url);
    openapiUrl = `${api.url}/openapi.json`;
  });

  afterAll(async () => {
    for (const child of running) child.kill('SIGKILL');
    await api?.stop();
    await dest?.close();
  });

  it(
    'invalid data with the valid token: every request refused with a 4xx in the error format, and nothing changes',
    async () => {
      ready();
      const before = await databaseState(dest.pool);
      const started = Date.now();
      const run = await runSchemathesis(cli, openapiUrl, [
        '--mode',
        'negative',
        '--max-examples',
        NEGATIVE_EXAMPLES,
        // Every check but accepting valid data (there is none in a negative run) and response time.
        '--checks',
        'all',
        '--exclude-checks',
        'positive_data_acceptance',
        '--header',
        `Authorization: Bearer ${TOKEN}`,
      ]);
      const seconds = (Date.now() - started) / 1000;

      // Soft: one run reports every kind of fault it found at once.
      expect.soft(run.failures.map((f) => `${f.code} ${f.title}: ${f.operations.join(', ')}`)).toEqual([]);
      expect.soft(run.errors).toEqual([]);
      expect.soft(run.exitCode, run.summary).toBe(0);
      expect.soft(brokenAnswers(run.exchanges)).toEqual([]);
      // The run reached every operation, and its mutations got past the token to be refused for their data.
      expect(new Set(run.exchanges.map((e) => e.operation))).toEqual(
        new Set([
          'GET /health',
          'GET /ready',
          'GET /metrics',
          'GET /v1/status',
          'GET /v1/tables',
          'GET /v1/tables/{table}',
          'GET /v1/resync',
          'POST /v1/resync',
          'GET /v1/resync/{id}',
          'DELETE /v1/resync/{id}',
          'GET /v1/prune',
          'POST /v1/prune',
          'GET /v1/prune/{id}',
          'GET /v1/verify',
          'Stateful tests',
        ]),
      );
      const refusedForData = run.exchanges.filter(
        (e) => e.operation.startsWith(`${e.method} `) && MUTATING.test(e.method) && ![401, 403].includes(e.status),
      );
      expect(refusedForData.length).toBeGreaterThan(100);
      expect(await databaseState(dest.pool)).toEqual(before);
      expect(api.alive()).toBe(true);
      expect(api.output()).not.toMatch(/"level":(50|60)/);

      const fault = 'schemathesis: invalid data, valid token';
      recordFigure({ fault, measure: 'test cases generated', value: run.testCases });
      recordFigure({
        fault,
        measure: 'HTTP requests (status×count)',
        value: `${run.exchanges.length} (${statusCounts(run.exchanges)})`,
      });
      const accepted = run.exchanges.filter((e) => MUTATING.test(e.method) && e.status < 300).length;
      recordFigure({
        fault,
        measure: 'failures, 5xx, mutations accepted',
        value: `${run.failures.length}, ${run.exchanges.filter((e) => e.status >= 500).length}, ${accepted}`,
      });
      recordFigure({ fault, measure: 'run time', value: seconds.toFixed(1), unit: 's' });
    },
    TEST_TIMEOUT_MS,
  );

  describe.each([
    { who: 'no token', header: [] as string[] },
    { who: 'a wrong token', header: ['--header', 'Authorization: Bearer wrong-token-0123456789abcdef'] },
  ])('with $who', ({ who, header }) => {
    it(
      'every call of a mutating operation, valid or not, is a 401 or 403, and nothing changes',
      async () => {
        ready();
        const before = await databaseState(dest.pool);
        const run = await runSchemathesis(cli, openapiUrl, [
          '--mode',
          'all',
          '--max-examples',
          AUTH_EXAMPLES,
          '--phases',
          'coverage,fuzzing',
          '--include-method-regex',
          '^(POST|DELETE)$',
          // Valid data is refused here on purpose (positive_data_acceptance); methods a path lacks are the first run's.
          '--checks',
          'not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,missing_required_header,ignored_auth',
          // The reports must show the Authorization header each request carried.
          '--output-sanitize',
          'false',
          ...header,
        ]);
        // Soft: one run reports every kind of fault it found at once.
        expect.soft(run.failures.map((f) => `${f.code} ${f.title}: ${f.operations.join(', ')}`)).toEqual([]);
        expect.soft(run.errors).toEqual([]);
        expect.soft(run.exitCode, run.summary).toBe(0);
        expect.soft(brokenAnswers(run.exchanges)).toEqual([]);

        // Calls of POST /v1/resync and DELETE /v1/resync/{id} themselves (not methods a path lacks).
        const calls = run.exchanges.filter((e) => e.operation.startsWith(`${e.method} `));
        const wrongStatus = calls.flatMap((e) => {
          const token = e.authorization === undefined ? undefined : BEARER.exec(e.authorization)?.[1];
          const expected = token === undefined ? 401 : 403;
          expect(token).not.toBe(TOKEN);
          return e.status === expected
            ? []
            : [
                `${e.method} ${e.url.slice(0, 120)} with ${JSON.stringify(e.authorization?.slice(0, 60))} → ${e.status}, expected ${expected}`,
              ];
        });
        expect(wrongStatus).toEqual([]);
        expect(new Set(calls.map((e) => e.operation))).toEqual(
          new Set(['POST /v1/resync', 'DELETE /v1/resync/{id}', 'POST /v1/prune']),
        );
        expect(calls.length).toBeGreaterThan(50);
        expect(await databaseState(dest.pool)).toEqual(before);
        expect(api.output()).not.toMatch(/"level":(50|60)/);

        const fault = `schemathesis: mutations with ${who}`;
        recordFigure({ fault, measure: 'test cases generated', value: run.testCases });
        recordFigure({
          fault,
          measure: 'mutating calls (status×count)',
          value: `${calls.length} (${statusCounts(calls)})`,
        });
        recordFigure({ fault, measure: 'mutating calls accepted', value: calls.filter((e) => e.status < 400).length });
      },
      TEST_TIMEOUT_MS,
    );
  });
});
