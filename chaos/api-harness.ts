/**
 * What the API's bad-input suites share: the API as it runs in production (`elt api`, a
 * child process on a free port, in front of a real destination cluster), the check that an
 * answer is an error in the API's format, and a fingerprint of everything in the destination
 * the API could change.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type pg from 'pg';
import { freePort } from '../harness/pg-cluster.js';
import { startElt, waitFor, type ReplicatorProcess } from '../harness/replication.js';
import { resyncSnapshot, SLOT, TOKEN } from '../api/test/helper.js';
import type { RawResponse } from './api-raw-http.js';

export { SLOT, TOKEN };

export interface ApiProcess {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Everything the process logged so far (stdout and stderr). */
  output(): string;
  /** The process has not exited. */
  alive(): boolean;
  /** Its resident memory now, from /proc. */
  rssBytes(): number;
  /** SIGTERM, and its exit code (0 after a graceful stop). */
  stop(): Promise<number | string>;
}

/**
 * `elt api` against `destinationUrl` with the test token and slot. The heartbeat may be as
 * old as it likes (there is no replicator here), so /ready answers 200 throughout.
 */
export async function startApiProcess(destinationUrl: string, env: Record<string, string> = {}): Promise<ApiProcess> {
  const port = await freePort();
  const child: ReplicatorProcess = startElt(['api'], {
    ELT_DESTINATION_URL: destinationUrl,
    ELT_API_TOKEN: TOKEN,
    ELT_API_HOST: '127.0.0.1',
    ELT_API_PORT: String(port),
    ELT_SLOT: SLOT,
    ELT_API_HEARTBEAT_MAX_AGE_S: '86400',
    ELT_API_READS_NEED_TOKEN: 'false',
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  const alive = () => child.child.exitCode === null && child.child.signalCode === null;
  try {
    await waitFor(
      'elt api to answer /health',
      async () => {
        if (!alive()) throw new Error(`elt api exited: ${child.output()}`);
        return (await fetch(`${url}/health`)).ok;
      },
      60_000,
      100,
    );
  } catch (error) {
    await child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    port,
    pid: child.child.pid!,
    output: child.output,
    alive,
    rssBytes: () =>
      Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.child.pid}/status`, 'utf8'))![1]) * 1024,
    stop: () => child.kill('SIGTERM'),
  };
}

/**
 * The error code that goes with each status (api/src/errors.ts). The API does not answer
 * 405, 408, 414 and 431 in its own format yet: their codes here are what this suite asks for.
 */
export const ERROR_CODE_OF_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  431: 'headers_too_large',
};

/**
 * The answer is a 4xx among `statuses`, as JSON, exactly {"error": {"code", "message"}},
 * with the code that goes with its status and a one-sentence message.
 */
export function expectApiError(
  response: RawResponse,
  statuses: number | readonly number[],
  label: string,
): { code: string; message: string } {
  const allowed = typeof statuses === 'number' ? [statuses] : statuses;
  const what = `${label}: ${response.status} ${response.text.slice(0, 300)}`;
  expect(allowed, what).toContain(response.status);
  expect(response.headers['content-type'], what).toMatch(/^application\/json\b/);
  let body: unknown;
  expect(() => (body = JSON.parse(response.text)), what).not.toThrow();
  expect(body, what).toEqual({ error: { code: expect.any(String), message: expect.stringMatching(/\S/) } });
  const { error } = body as { error: { code: string; message: string } };
  expect(error.code, what).toBe(ERROR_CODE_OF_STATUS[response.status]);
  return error;
}

export interface DatabaseState {
  /** Every row of elt.resync_jobs and elt.resync_job_tables (api/test/helper.ts). */
  resync: Awaited<ReturnType<typeof resyncSnapshot>>;
  /** Every row of elt.tables and elt.replication_state, as JSON text. */
  control: string;
  /** Every relation in the destination outside the system schemas. */
  relations: string[];
}

/** Everything a request to the API could change, or drop. */
export async function databaseState(pool: pg.Pool): Promise<DatabaseState> {
  const { rows } = await pool.query<{ control: string; relations: string[] }>(
    `SELECT (SELECT coalesce(json_agg(t ORDER BY t.slot_name, t.source_schema, t.source_table), '[]')::text FROM elt.tables t) ||
            (SELECT coalesce(json_agg(s ORDER BY s.slot_name), '[]')::text FROM elt.replication_state s) ||
            (SELECT coalesce(json_agg(p ORDER BY p.id), '[]')::text FROM elt.prune_jobs p) AS control,
            (SELECT array_agg(n.nspname || '.' || c.relname ORDER BY n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')) AS relations`,
  );
  return { resync: await resyncSnapshot(pool), control: rows[0]!.control, relations: rows[0]!.relations };
}
