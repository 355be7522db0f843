/**
 * Bad input, by hand: hostile requests to a running `elt api` (a child process in front of
 * a real destination cluster), sent byte for byte over HTTP/1.1. Each case gets a 4xx that
 * is JSON in the API's error format ({"error": {"code", "message"}}, the code that goes with
 * the status), and leaves the destination exactly as it was: the resync tables, elt.tables,
 * elt.replication_state and the list of relations. At the end the process is still alive
 * and still does its job.
 *
 * What api/test/routes/*.test.ts already cover through `inject` is not repeated; these are
 * the cases that need a real socket or that those tests do not try: SQL in every place a
 * name goes, path traversal (also into the Swagger UI's static files), bodies far over the
 * 64 KB limit (streamed too), malformed JSON and HTTP, wrong media types, prototype
 * pollution, oversized headers, wrong methods, and tokens in every wrong
 * shape and place.
 */
import { connect } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed, startDestination, type Destination } from '../api/test/helper.js';
import {
  databaseState,
  expectApiError,
  startApiProcess,
  TOKEN,
  type ApiProcess,
  type DatabaseState,
} from './api-harness.js';
import { parseResponse, rawRequest, requestBytes, type RawRequest, type RawResponse } from './api-raw-http.js';
import { recordFigure } from './figures.js';

type Header = [string, string | Buffer];

const AUTH: Header = ['Authorization', `Bearer ${TOKEN}`];
const JSON_TYPE: Header = ['Content-Type', 'application/json'];
const MB = 1024 * 1024;
/** A body the API would accept, to show that only the fault under test refuses it. */
const VALID_BODY = JSON.stringify({ tables: ['public.orders'] });

interface Case {
  name: string;
  request: RawRequest;
  /** The status (or the statuses) that count as refusing it. */
  status: number | number[];
  /** More to check on the answer. */
  check?: (response: RawResponse) => void;
}

const post = (body: string | Buffer, headers: Header[] = [AUTH, JSON_TYPE], path = '/v1/resync'): RawRequest => ({
  method: 'POST',
  path,
  headers,
  body,
});
const get = (path: string, headers: Header[] = []): RawRequest => ({ method: 'GET', path, headers });

/** The answer gives away no file from the disk. */
const leaksNoFile = (response: RawResponse) => {
  expect(response.text).not.toMatch(/root:x?:0:0|"devDependencies"|"name": ?"elt"|BEGIN [A-Z ]*PRIVATE KEY/);
};

describe('hostile requests to the API', () => {
  let dest: Destination;
  let api: ApiProcess;
  let initial: DatabaseState;
  let casesRun = 0;

  /** Send one case, check the answer and that the destination did not change. */
  async function refused({ name, request, status, check }: Case): Promise<RawResponse> {
    const before = await databaseState(dest.pool);
    const response = await rawRequest(api.port, request);
    expectApiError(response, status, name);
    check?.(response);
    expect(await databaseState(dest.pool), name).toEqual(before);
    casesRun++;
    return response;
  }

  beforeAll(async () => {
    dest = await startDestination('api-hostile');
    await seed(dest.pool);
    api = await startApiProcess(dest.url);
    initial = await databaseState(dest.pool);
  });

  afterAll(async () => {
    await api?.stop();
    await dest?.close();
  });

  describe('SQL in table names, ids and filters', () => {
    const injections = [
      // (api/test/routes/status.test.ts tries a few others through inject.)
      'public.orders; DROP TABLE elt.tables--',
      "public.orders' OR '1'='1",
      'public."orders"; DROP TABLE "elt"."tables"--',
      "x') UNION SELECT slot_name FROM elt.replication_state --",
      'public.orders$$; TRUNCATE elt.tables; $$',
      "public.orders\\'; DROP SCHEMA elt CASCADE; --",
      "public.orders'||pg_sleep(5)||'",
      'public.orders/**/OR/**/1=1',
      "E'public\\x2eorders'",
      // Relations that exist in the destination but are not replicated tables.
      'elt.tables',
      'elt.resync_jobs',
      'pg_catalog.pg_authid',
      'information_schema.tables',
      'staging.orders',
      // Look-alikes of a real name: quoted, Cyrillic "і", a right-to-left override.
      'public."orders"',
      'publіc.orders',
      'public.orders\u202e',
    ];
    const cases: Case[] = [
      ...injections.map((name) => ({
        name: `GET /v1/tables/{${name}}`,
        request: get(`/v1/tables/${encodeURIComponent(name)}`),
        status: 404,
      })),
      ...injections.map((name) => ({
        name: `POST /v1/resync {"tables": [${name}]}`,
        request: post(JSON.stringify({ tables: [name] })),
        status: 404,
      })),
      {
        name: 'a real table beside an injected one: nothing of the request is queued',
        request: post(JSON.stringify({ tables: ['public.orders', "x'); TRUNCATE elt.tables; --"] })),
        status: 404,
      },
      {
        name: 'SQL in requested_by with an unknown table',
        request: post(JSON.stringify({ tables: ['public.nope'], requested_by: "'); DROP TABLE elt.resync_jobs; --" })),
        status: 404,
      },
      { name: 'SQL in a job id (GET)', request: get('/v1/resync/1%3BDROP%20TABLE%20elt.resync_jobs'), status: 400 },
      {
        name: 'SQL in a job id (DELETE)',
        request: { method: 'DELETE', path: '/v1/resync/1%20OR%201%3D1', headers: [AUTH] },
        status: 400,
      },
      {
        name: 'SQL in ?state= of /v1/tables',
        request: get("/v1/tables?state=streaming'%20OR%20'1'%3D'1"),
        status: 400,
      },
      {
        name: 'SQL in ?state= of /v1/resync',
        request: get('/v1/resync?state=queued%3BDELETE%20FROM%20elt.tables'),
        status: 400,
      },
      { name: 'SQL in ?limit=', request: get('/v1/resync?limit=1%3BDROP%20TABLE%20elt.tables'), status: 400 },
    ];
    it.each(cases)('$name', async (c) => {
      await refused(c);
    });

    it('SQL in requested_by of a valid request is stored as text, never run', async () => {
      const evil = "'); DROP TABLE elt.tables; --";
      const response = await rawRequest(
        api.port,
        post(JSON.stringify({ tables: ['public.payments'], requested_by: evil })),
      );
      expect(response.status, response.text).toBe(202);
      const { rows } = await dest.pool.query<{ requested_by: string }>(
        'SELECT requested_by FROM elt.resync_jobs ORDER BY id DESC LIMIT 1',
      );
      expect(rows).toEqual([{ requested_by: evil }]);
      const now = await databaseState(dest.pool);
      expect({ control: now.control, relations: now.relations }).toEqual({
        control: initial.control,
        relations: initial.relations,
      });
    });
  });

  describe('path traversal', () => {
    const cases: Case[] = [
      {
        name: 'a table named ../../etc/passwd, encoded',
        request: get('/v1/tables/..%2F..%2Fetc%2Fpasswd'),
        status: 404,
      },
      { name: 'a table name encoded twice', request: get('/v1/tables/%252e%252e%252fetc%252fpasswd'), status: 404 },
      { name: '/../../etc/passwd', request: get('/../../etc/passwd'), status: 404 },
      { name: '/%2e%2e/%2e%2e/etc/passwd', request: get('/%2e%2e/%2e%2e/etc/passwd'), status: 404 },
      { name: '/docs/../../package.json', request: get('/docs/../../package.json'), status: 404 },
      { name: '/docs/json/../../package.json', request: get('/docs/json/../../package.json'), status: 404 },
      { name: '/openapi.json/../package.json', request: get('/openapi.json/../package.json'), status: 404 },
      {
        name: '/docs/static/../../../package.json',
        request: get('/docs/static/../../../package.json'),
        status: [403, 404],
      },
      {
        name: '/docs/static/..%2f..%2f..%2fpackage.json',
        request: get('/docs/static/..%2f..%2f..%2fpackage.json'),
        status: [403, 404],
      },
      {
        name: '/docs/static/%2e%2e/%2e%2e/%2e%2e/package.json',
        request: get('/docs/static/%2e%2e/%2e%2e/%2e%2e/package.json'),
        status: [403, 404],
      },
      {
        name: '/docs/static/....//....//package.json',
        request: get('/docs/static/....//....//package.json'),
        status: [403, 404],
      },
      {
        name: '/docs/static/..\\..\\..\\package.json',
        request: get('/docs/static/..\\..\\..\\package.json'),
        status: [403, 404],
      },
      { name: '/docs/static//etc/passwd', request: get('/docs/static//etc/passwd'), status: [403, 404] },
      {
        name: '/docs/static/ + the absolute path of /etc/passwd, encoded',
        request: get('/docs/static/%2Fetc%2Fpasswd'),
        status: [403, 404],
      },
      {
        name: 'overlong UTF-8 dots (%c0%ae)',
        request: get('/docs/static/%c0%ae%c0%ae/%c0%ae%c0%ae/package.json'),
        status: [400, 403, 404],
      },
      { name: 'a file beside the static ones', request: get('/docs/static/package.json'), status: 404 },
    ];
    it.each(cases)('$name', async (c) => {
      await refused({ ...c, check: leaksNoFile });
    });

    it('the static files of /docs themselves are served (the cases above are refused for their path)', async () => {
      const response = await rawRequest(api.port, get('/docs/static/swagger-ui.css'));
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/css/);
    });
  });

  describe('bodies over the 64 KB limit', () => {
    const big = JSON.stringify({ tables: ['public.orders'], requested_by: 'x'.repeat(MB) });
    const cases: Case[] = [
      { name: '1 MB of JSON', request: post(big), status: 413 },
      {
        name: '1 MB of JSON to DELETE',
        request: { method: 'DELETE', path: '/v1/resync/1', headers: [AUTH, JSON_TYPE], body: big },
        status: 413,
      },
      {
        name: '1 MB of JSON without a token: 401 before the body is read',
        request: post(big, [JSON_TYPE]),
        status: 401,
      },
      {
        name: '1 MB of text/plain',
        request: post('x'.repeat(MB), [AUTH, ['Content-Type', 'text/plain']]),
        status: [413, 415],
      },
      {
        name: 'Content-Length of 100 MB: refused on the header, before any body',
        request: post('{"tables":', [AUTH, JSON_TYPE, ['Content-Length', String(100 * MB)]]),
        status: 413,
      },
      {
        name: 'Content-Length of 2^64',
        request: post('{}', [AUTH, JSON_TYPE, ['Content-Length', '18446744073709551616']]),
        status: [400, 413],
      },
    ];
    it.each(cases)('$name', async (c) => {
      await refused(c);
    });

    it('a chunked body is cut off with a 413 after the limit, and the API does not buffer it', async () => {
      const before = await databaseState(dest.pool);
      // A body the API buffered would grow its RSS by at least the body's size. The noise of a
      // loaded machine (GC timing, socket reads in flight) has reached 5.6 MB, so the flat-out body
      // is large enough that "buffered" and "noise" cannot be mistaken for each other.
      const flatOutBytes = 64 * MB;
      const rssBefore = api.rssBytes();
      let peak = rssBefore;
      const sampler = setInterval(() => (peak = Math.max(peak, api.rssBytes())), 5);
      try {
        // Paced: each 64 KB is read before the next is sent, so the 413 cannot be lost to a reset.
        const paced = await streamChunked(api.port, 10 * MB, 5);
        expect(paced.response, `cut off after ${paced.sent} bytes`).not.toBeNull();
        expectApiError(paced.response!, 413, 'paced 10 MB chunked body');
        expect(paced.sent).toBeLessThanOrEqual(MB);
        expect(paced.closedByServer).toBe(true);
        // Flat out, writing through the answer: the answer may be lost to a reset; the memory may not grow.
        const fast = await streamChunked(api.port, flatOutBytes, 0);
        if (fast.response) expectApiError(fast.response, 413, 'fast chunked body');
        expect(fast.closedByServer || fast.response !== null).toBe(true);
      } finally {
        clearInterval(sampler);
      }
      const growth = peak - rssBefore;
      expect(growth, `RSS grew by ${growth} bytes for a ${flatOutBytes}-byte body`).toBeLessThan(flatOutBytes / 4);
      expect(await databaseState(dest.pool)).toEqual(before);
      recordFigure({
        fault: 'API: 64 MB chunked body, flat out',
        measure: 'API memory growth (RSS)',
        value: (growth / MB).toFixed(1),
        unit: 'MB',
      });
      casesRun++;
    });
  });

  describe('malformed bodies', () => {
    const deepArrays = `{"tables":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    const deepObjects = `{"tables":["public.orders"],"requested_by":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    const cases: Case[] = [
      { name: 'arrays nested 30,000 deep', request: post(deepArrays), status: 400 },
      { name: 'objects nested 10,000 deep', request: post(deepObjects), status: 400 },
      {
        name: 'invalid UTF-8 in a table name',
        request: post(
          Buffer.concat([
            Buffer.from('{"tables":["public.'),
            Buffer.from([0xff, 0xfe, 0xc0, 0xaf]),
            Buffer.from('"]}'),
          ]),
        ),
        status: [400, 404],
      },
      { name: 'a raw NUL byte inside a JSON string', request: post('{"tables":["public.orders\u0000"]}'), status: 400 },
      {
        name: 'a lone surrogate escape in a name',
        request: post('{"tables":["public.orders\\ud800"]}'),
        status: [400, 404],
      },
      {
        name: 'UTF-16 with its charset',
        request: post(Buffer.from(VALID_BODY, 'utf16le'), [
          AUTH,
          ['Content-Type', 'application/json; charset=utf-16le'],
        ]),
        status: [400, 415],
      },
      { name: 'valid JSON followed by garbage', request: post(`${VALID_BODY}garbage`), status: 400 },
      { name: 'two JSON documents', request: post(`${VALID_BODY}${VALID_BODY}`), status: 400 },
      { name: 'a comment', request: post('{"tables": ["public.orders"] /* all */}'), status: 400 },
      { name: 'single quotes', request: post("{'tables': ['public.orders']}"), status: 400 },
      { name: 'a trailing comma', request: post('{"tables": ["public.orders"],}'), status: 400 },
      { name: 'NaN', request: post('{"all": NaN}'), status: 400 },
      { name: 'a number too large for a double', request: post('{"all": 1e999}'), status: 400 },
      { name: 'truncated', request: post('{"tables": ["public.ord'), status: 400 },
      { name: 'only whitespace', request: post(' \r\n\t '), status: 400 },
      { name: 'a JSON number', request: post('1'), status: 400 },
      {
        name: 'a table name of 10,000 characters',
        request: post(JSON.stringify({ tables: [`public.${'x'.repeat(10_000)}`] })),
        status: 400,
      },
      {
        name: '1000 unknown tables',
        request: post(JSON.stringify({ tables: Array.from({ length: 1000 }, (_, i) => `public.nope_${i}`) })),
        status: 404,
      },
    ];
    it.each(cases)('$name', async (c) => {
      await refused(c);
    });
  });

  describe('prototype pollution', () => {
    const cases: Case[] = [
      {
        name: '{"__proto__": {"all": true}}',
        request: post('{"__proto__": {"all": true}, "tables": ["public.nope"]}'),
        status: 400,
      },
      {
        name: '{"constructor": {"prototype": {"all": true}}}',
        request: post('{"constructor": {"prototype": {"all": true}}, "tables": ["public.nope"]}'),
        status: 400,
      },
      {
        name: '__proto__ spelled with \\u escapes',
        request: post('{"\\u005f\\u005fproto\\u005f\\u005f": {"all": true}, "tables": ["public.nope"]}'),
        status: 400,
      },
      {
        name: '__proto__ inside the tables array',
        request: post('{"tables": [{"__proto__": {"length": 1}}]}'),
        status: 400,
      },
    ];
    it.each(cases)('$name', async (c) => {
      await refused(c);
    });

    it('after those, the process is not polluted: a plain object has no "all", unknown tables are still 404', async () => {
      await refused({
        name: 'unknown table after pollution attempts',
        request: post(JSON.stringify({ tables: ['public.nope'] })),
        status: 404,
      });
      const plain = await rawRequest(api.port, get('/v1/resync?limit=5'));
      for (const query of [
        '__proto__[state]=succeeded',
        '__proto__=x',
        'constructor[prototype][state]=failed',
        'constructor.prototype.state=failed',
      ]) {
        const polluted = await rawRequest(api.port, get(`/v1/resync?limit=5&${query}`));
        expect(polluted.status, query).toBe(200);
        expect(polluted.text, query).toBe(plain.text);
      }
    });
  });

  describe('wrong content types', () => {
    const cases: Case[] = [
      { name: 'text/plain', request: post(VALID_BODY, [AUTH, ['Content-Type', 'text/plain']]), status: 415 },
      { name: 'text/json', request: post(VALID_BODY, [AUTH, ['Content-Type', 'text/json']]), status: 415 },
      {
        name: 'application/xml',
        request: post('<resync><table>public.orders</table></resync>', [AUTH, ['Content-Type', 'application/xml']]),
        status: 415,
      },
      {
        name: 'application/x-www-form-urlencoded',
        request: post('tables=public.orders', [AUTH, ['Content-Type', 'application/x-www-form-urlencoded']]),
        status: 415,
      },
      {
        name: 'multipart/form-data',
        request: post(`--b\r\nContent-Disposition: form-data; name="tables"\r\n\r\npublic.orders\r\n--b--\r\n`, [
          AUTH,
          ['Content-Type', 'multipart/form-data; boundary=b'],
        ]),
        status: 415,
      },
      {
        name: 'application/merge-patch+json',
        request: post(VALID_BODY, [AUTH, ['Content-Type', 'application/merge-patch+json']]),
        status: 415,
      },
      {
        name: 'application/jsonx',
        request: post(VALID_BODY, [AUTH, ['Content-Type', 'application/jsonx']]),
        status: 415,
      },
      {
        name: 'application/octet-stream',
        request: post(VALID_BODY, [AUTH, ['Content-Type', 'application/octet-stream']]),
        status: 415,
      },
      { name: 'no Content-Type', request: post(VALID_BODY, [AUTH]), status: 415 },
      { name: 'an empty Content-Type', request: post(VALID_BODY, [AUTH, ['Content-Type', '']]), status: 415 },
      {
        name: 'a Content-Type of parameters only',
        request: post(VALID_BODY, [AUTH, ['Content-Type', '; charset=utf-8']]),
        status: 415,
      },
    ];
    it.each(cases)('$name', async (c) => {
      await refused(c);
    });
  });

  describe('malformed HTTP', () => {
    const body = (headers: Header[], raw: string): RawRequest => ({
      method: 'POST',
      path: '/v1/resync',
      headers: [AUTH, JSON_TYPE, ...headers],
      body: raw,
      contentLength: false,
    });
    const cases: Case[] = [
      { name: 'a NUL byte in the raw path', request: get('/v1/tables/public.orders\u0000'), status: 400 },
      {
        name: 'raw non-ASCII bytes in the path',
        request: { path: Buffer.from('/v1/tables/public.ordérs') },
        status: 400,
      },
      { name: 'a %-escape that is not UTF-8 (%ff)', request: get('/v1/tables/public.%ff'), status: 400 },
      { name: 'a NUL byte in a header value', request: get('/v1/status', [['X-Note', 'a\u0000b']]), status: 400 },
      {
        name: 'a NUL byte after the token',
        request: post(VALID_BODY, [['Authorization', `Bearer ${TOKEN}\u0000`], JSON_TYPE]),
        status: 400,
      },
      {
        name: 'a method that does not exist (FOO)',
        request: { method: 'FOO', path: '/v1/resync', headers: [AUTH] },
        status: 400,
      },
      {
        name: 'a chunk size that is not hex',
        request: body([['Transfer-Encoding', 'chunked']], `zz\r\n${VALID_BODY}\r\n0\r\n\r\n`),
        status: 400,
      },
      {
        name: 'Transfer-Encoding and Content-Length together',
        request: body(
          [
            ['Transfer-Encoding', 'chunked'],
            ['Content-Length', '5'],
          ],
          '0\r\n\r\n',
        ),
        status: 400,
      },
      {
        name: 'two different Content-Lengths',
        request: body(
          [
            ['Content-Length', String(VALID_BODY.length)],
            ['Content-Length', '2'],
          ],
          VALID_BODY,
        ),
        status: 400,
      },
      { name: 'a negative Content-Length', request: body([['Content-Length', '-1']], VALID_BODY), status: 400 },
      {
        name: 'a Content-Length that is not a number',
        request: body([['Content-Length', 'abc']], VALID_BODY),
        status: 400,
      },
      {
        name: 'a header line without a colon',
        request: get('/v1/status', [['X-Broken\r\nno colon here', 'x']]),
        status: 400,
      },
    ];
    it.each(cases)('$name', async (c) => {
      await refused(c);
    });
  });

  describe('oversized headers', () => {
    const cases: Case[] = [
      { name: 'a 20 KB header', request: get('/v1/status', [['X-Padding', 'a'.repeat(20_000)]]), status: 431 },
      { name: 'a 20 KB path', request: get(`/v1/tables/public.${'a'.repeat(20_000)}`), status: 431 },
      {
        name: 'a 20 KB token on a mutation',
        request: post(VALID_BODY, [['Authorization', `Bearer ${'t'.repeat(20_000)}`], JSON_TYPE]),
        status: 431,
      },
      {
        name: 'an 8 KB token (under the header limit): just another wrong token',
        request: post(VALID_BODY, [['Authorization', `Bearer ${'t'.repeat(8_000)}`], JSON_TYPE]),
        status: 403,
      },
      {
        name: '200 headers of 100 bytes',
        request: get(
          '/v1/status',
          Array.from({ length: 200 }, (_, i): Header => [`X-H${i}`, 'v'.repeat(100)]),
        ),
        status: 431,
      },
      {
        name: "a 2,000-character table name (over the router's parameter limit)",
        request: get(`/v1/tables/public.${'a'.repeat(2_000)}`),
        status: [400, 414],
      },
    ];
    it.each(cases)('$name', async (c) => {
      await refused(c);
    });
  });

  describe('wrong methods', () => {
    const cases: Array<Case & { allow: string }> = [
      {
        name: 'PUT /v1/resync',
        request: { method: 'PUT', path: '/v1/resync', headers: [AUTH, JSON_TYPE], body: VALID_BODY },
        status: 405,
        allow: 'GET, HEAD, POST',
      },
      {
        name: 'PATCH /v1/resync',
        request: { method: 'PATCH', path: '/v1/resync', headers: [AUTH, JSON_TYPE], body: VALID_BODY },
        status: 405,
        allow: 'GET, HEAD, POST',
      },
      {
        name: 'DELETE /v1/resync (every job at once)',
        request: { method: 'DELETE', path: '/v1/resync', headers: [AUTH] },
        status: 405,
        allow: 'GET, HEAD, POST',
      },
      {
        name: 'QUERY /v1/resync with a JSON body',
        request: { method: 'QUERY', path: '/v1/resync', headers: [AUTH, JSON_TYPE], body: VALID_BODY },
        status: 405,
        allow: 'GET, HEAD, POST',
      },
      {
        name: 'QUERY /v1/tables without a body',
        request: { method: 'QUERY', path: '/v1/tables' },
        status: 405,
        allow: 'GET, HEAD',
      },
      {
        name: 'POST /v1/resync/1 with X-HTTP-Method-Override: DELETE',
        request: { method: 'POST', path: '/v1/resync/1', headers: [AUTH, ['X-HTTP-Method-Override', 'DELETE']] },
        status: 405,
        allow: 'DELETE, GET, HEAD',
      },
      {
        name: 'PUT /v1/resync/1',
        request: { method: 'PUT', path: '/v1/resync/1', headers: [AUTH, JSON_TYPE], body: '{"state":"cancelled"}' },
        status: 405,
        allow: 'DELETE, GET, HEAD',
      },
      {
        name: 'POST /v1/tables',
        request: {
          method: 'POST',
          path: '/v1/tables',
          headers: [AUTH, JSON_TYPE],
          body: '{"source_schema":"public","source_table":"x"}',
        },
        status: 405,
        allow: 'GET, HEAD',
      },
      {
        name: 'DELETE /v1/tables/public.orders',
        request: { method: 'DELETE', path: '/v1/tables/public.orders', headers: [AUTH] },
        status: 405,
        allow: 'GET, HEAD',
      },
      {
        name: 'POST /health',
        request: { method: 'POST', path: '/health', headers: [JSON_TYPE], body: '{}' },
        status: 405,
        allow: 'GET, HEAD',
      },
      { name: 'TRACE /v1/status', request: { method: 'TRACE', path: '/v1/status' }, status: 405, allow: 'GET, HEAD' },
      {
        name: 'OPTIONS /v1/resync',
        request: { method: 'OPTIONS', path: '/v1/resync' },
        status: 405,
        allow: 'GET, HEAD, POST',
      },
    ];
    it.each(cases)('$name', async ({ allow, ...c }) => {
      await refused({
        ...c,
        check: (response) => expect(response.headers.allow?.split(/,\s*/).sort().join(', '), c.name).toBe(allow),
      });
    });
  });

  describe('tokens', () => {
    let jobId: number;

    beforeAll(async () => {
      // A queued job for the DELETE attempts to cancel.
      const queued = await rawRequest(
        api.port,
        post(JSON.stringify({ tables: ['public.customers'], requested_by: 'chaos tokens' })),
      );
      expect(queued.status, queued.text).toBe(202);
      jobId = (JSON.parse(queued.text) as { id: number }).id;
    });

    const wrong: Array<{ name: string; headers: Header[]; path?: string; status: number }> = [
      { name: 'no Authorization header', headers: [], status: 401 },
      { name: 'an empty Authorization header', headers: [['Authorization', '']], status: 401 },
      { name: '"Bearer" and spaces, no token', headers: [['Authorization', 'Bearer    ']], status: 401 },
      { name: 'the token as a Token scheme', headers: [['Authorization', `Token ${TOKEN}`]], status: 401 },
      { name: '"Bearer:" with a colon', headers: [['Authorization', `Bearer:${TOKEN}`]], status: 401 },
      {
        name: 'two tokens in one header',
        headers: [['Authorization', `Bearer ${TOKEN}, Bearer ${TOKEN}`]],
        status: 401,
      },
      {
        name: 'a token with a space inside',
        headers: [['Authorization', `Bearer ${TOKEN.slice(0, 8)} ${TOKEN.slice(8)}`]],
        status: 401,
      },
      {
        name: 'a non-ASCII token (UTF-8 bytes)',
        headers: [['Authorization', Buffer.from(`Bearer ${TOKEN}é`)]],
        status: 401,
      },
      { name: 'a quoted token', headers: [['Authorization', `Bearer "${TOKEN}"`]], status: 403 },
      {
        name: 'the token with one character changed',
        headers: [['Authorization', `Bearer ${TOKEN.slice(0, -1)}0`]],
        status: 403,
      },
      { name: 'a prefix of the token', headers: [['Authorization', `Bearer ${TOKEN.slice(0, 16)}`]], status: 403 },
      { name: 'the token twice over', headers: [['Authorization', `Bearer ${TOKEN}${TOKEN}`]], status: 403 },
      { name: 'a token of 4 KB', headers: [['Authorization', `Bearer ${'x'.repeat(4096)}`]], status: 403 },
      {
        name: 'a wrong Authorization header first, the right one second',
        headers: [['Authorization', 'Bearer wrong-token-0123456789abcdef'], AUTH],
        status: 403,
      },
      { name: 'the token in ?token=', headers: [], path: `?token=${TOKEN}`, status: 401 },
      { name: 'the token in ?access_token=', headers: [], path: `?access_token=${TOKEN}`, status: 401 },
      { name: 'the header in ?authorization=', headers: [], path: `?authorization=Bearer%20${TOKEN}`, status: 401 },
      { name: 'the token in a cookie', headers: [['Cookie', `token=${TOKEN}; access_token=${TOKEN}`]], status: 401 },
      { name: 'the token in X-Api-Key', headers: [['X-Api-Key', TOKEN]], status: 401 },
      { name: 'the token in Proxy-Authorization', headers: [['Proxy-Authorization', `Bearer ${TOKEN}`]], status: 401 },
      {
        name: 'the token in X-Forwarded-Authorization',
        headers: [['X-Forwarded-Authorization', `Bearer ${TOKEN}`]],
        status: 401,
      },
    ];
    const attempts = wrong.flatMap(({ name, headers, path, status }): Case[] => [
      {
        name: `POST: ${name}`,
        request: {
          method: 'POST',
          path: `/v1/resync${path ?? ''}`,
          headers: [...headers, JSON_TYPE],
          body: '{"all": true}',
        },
        status,
      },
      // The id is filled in once the job is queued.
      {
        name: `DELETE: ${name}`,
        request: { method: 'DELETE', path: `/v1/resync/{job}${path ?? ''}`, headers },
        status,
      },
    ]);
    it.each(attempts)('$name', async (c) => {
      const request = { ...c.request, path: String(c.request.path).replace('{job}', String(jobId)) };
      const response = await refused({ ...c, request });
      if (c.status === 401) expect(response.headers['www-authenticate']).toBe('Bearer realm="elt"');
    });

    it('the token in the body is not a token', async () => {
      await refused({
        name: 'token in the body',
        request: post(JSON.stringify({ all: true, token: TOKEN }), [JSON_TYPE]),
        status: 401,
      });
    });

    it('the scheme is case-insensitive and space-tolerant (RFC 9110), so these get past the token to a 404', async () => {
      for (const header of [
        `bearer ${TOKEN}`,
        `BEARER ${TOKEN}`,
        `bEaReR ${TOKEN}`,
        `Bearer  ${TOKEN}`,
        `Bearer\t${TOKEN}`,
        `Bearer ${TOKEN}  `,
      ]) {
        await refused({
          name: JSON.stringify(header),
          request: post(JSON.stringify({ tables: ['public.nope'] }), [['Authorization', header], JSON_TYPE]),
          status: 404,
        });
      }
    });

    it("a token sent where it does not belong is not written to the API's log", async () => {
      await refused({
        name: 'token in the query',
        request: post('{"all": true}', [JSON_TYPE], `/v1/resync?access_token=${TOKEN}`),
        status: 401,
      });
      await refused({
        name: 'token in a cookie',
        request: post('{"all": true}', [['Cookie', `token=${TOKEN}`], JSON_TYPE]),
        status: 401,
      });
      expect(api.output()).toContain('"statusCode":401');
      expect(api.output()).not.toContain(TOKEN);
    });

    it('the queued job was not cancelled by any of them', async () => {
      const { rows } = await dest.pool.query('SELECT state, cancel_requested FROM elt.resync_jobs WHERE id = $1', [
        jobId,
      ]);
      expect(rows).toEqual([{ state: 'queued', cancel_requested: false }]);
    });
  });

  it('after all of it the API process is alive, healthy and still does its job; elt.tables is intact', async () => {
    expect(api.alive(), api.output().slice(-2000)).toBe(true);
    const health = await rawRequest(api.port, get('/health'));
    expect([health.status, health.text]).toEqual([200, '{"status":"ok"}']);
    const now = await databaseState(dest.pool);
    expect({ control: now.control, relations: now.relations }).toEqual({
      control: initial.control,
      relations: initial.relations,
    });
    const queued = await rawRequest(
      api.port,
      post(JSON.stringify({ tables: ['sales.line items'], requested_by: 'chaos after' })),
    );
    expect(queued.status, queued.text).toBe(202);
    expect(api.output()).not.toMatch(/"level":(50|60)/);
    recordFigure({
      fault: 'API: hostile requests',
      measure: 'cases refused with a 4xx, nothing changed',
      value: casesRun,
    });
    recordFigure({ fault: 'API: hostile requests', measure: 'API process after them', value: 'alive, /health 200' });
  });
});

interface Streamed {
  /** Body bytes written before the answer came (or, writing through it, before the connection closed). */
  sent: number;
  response: RawResponse | null;
  closedByServer: boolean;
}

/**
 * POST `total` bytes of body to /v1/resync with the token, in 64 KB chunks, pausing `pauseMs`
 * after each. Paced, stop at the first byte of an answer; flat out, write through the answer
 * (so the server has to read or refuse every byte) and stop only when the server closes the
 * connection.
 */
async function streamChunked(port: number, total: number, pauseMs: number): Promise<Streamed> {
  const writeThroughAnswer = pauseMs === 0;
  const chunk = 64 * 1024;
  const frame = Buffer.concat([
    Buffer.from(`${chunk.toString(16)}\r\n`),
    Buffer.alloc(chunk, 'a'),
    Buffer.from('\r\n'),
  ]);
  const socket = connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  let closed = false;
  socket.on('data', (data: Buffer) => received.push(data));
  socket.on('close', () => (closed = true));
  socket.on('error', () => (closed = true));
  const settle = (event: string) => once(socket, event).catch(() => undefined);
  await settle('connect');
  socket.write(
    requestBytes(port, {
      method: 'POST',
      path: '/v1/resync',
      headers: [AUTH, JSON_TYPE, ['Transfer-Encoding', 'chunked']],
    }),
  );
  let sent = 0;
  try {
    const answered = () => received.length > 0 && !writeThroughAnswer;
    while (sent < total && !answered() && !closed) {
      const flushed = socket.write(frame);
      sent += chunk;
      if (!flushed)
        await Promise.race([settle('drain'), settle('close'), new Promise((resolve) => setTimeout(resolve, 200))]);
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    if (!closed && !answered()) socket.write('0\r\n\r\n');
    // Deadlines, not pauses: both waits end as soon as the answer (or the hang-up) is there; a loaded machine needs the room.
    const deadline = Date.now() + 30_000;
    let response: RawResponse | null = null;
    while (!(response = parseResponse(Buffer.concat(received), closed)) && !closed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    response ??= parseResponse(Buffer.concat(received), true);
    if (response && Number.isNaN(response.status)) response = null;
    // The server hangs up rather than read the rest.
    await Promise.race([settle('close'), new Promise((resolve) => setTimeout(resolve, 30_000))]);
    return { sent, response, closedByServer: closed };
  } finally {
    socket.destroy();
  }
}
