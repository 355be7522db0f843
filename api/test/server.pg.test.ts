/**
 * The API as it runs: startApi listening on a real port, through a destination outage, and
 * api/src/server.ts as a process (configuration errors, logs without the token, SIGTERM).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../replicator/src/errors.js';
import { loadApiConfig } from '../src/config.js';
import { startApi, type RunningApi } from '../src/server.js';
import { waitFor } from '../../harness/replication.js';
import { seed, startDestination, TOKEN, type Destination } from './helper.js';

/** On a loaded machine starting the server under tsx alone can take half a minute. */
const SERVER_START_MS = 120_000;

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url));

interface ApiProcess {
  exit: Promise<number | null>;
  output(): string;
  kill(signal: NodeJS.Signals): void;
}

function runServer(env: Record<string, string>): ApiProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: { PATH: process.env.PATH ?? '', ELT_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    exit: once(child, 'exit').then(([code]) => code as number | null),
    output: () => output,
    kill: (signal) => child.kill(signal),
  };
}

describe('the API server', () => {
  let dest: Destination;

  beforeAll(async () => {
    dest = await startDestination('api-server');
    await seed(dest.pool);
  });
  afterAll(async () => {
    await dest?.close();
  });

  it('startApi listens, answers over HTTP, rides out a destination outage, and closes', async () => {
    const api: RunningApi = await startApi(
      loadApiConfig({ ELT_DESTINATION_URL: dest.url, ELT_API_PORT: '0', ELT_API_TOKEN: TOKEN }),
    );
    try {
      expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${api.url}/health`)).status).toBe(200);
      const status = await fetch(`${api.url}/v1/status`);
      expect(status.status).toBe(200);
      expect(((await status.json()) as { slot: string }).slot).toBe('elt_slot');
      const queued = await fetch(`${api.url}/v1/resync`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tables: ['public.orders'] }),
      });
      expect(queued.status).toBe(202);

      await dest.cluster.stop();
      const down = await fetch(`${api.url}/v1/status`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({
        error: { code: 'database_unavailable', message: expect.stringContaining('unreachable') },
      });
      expect((await fetch(`${api.url}/ready`)).status).toBe(503);
      expect((await fetch(`${api.url}/health`)).status).toBe(200);

      await dest.cluster.start();
      await waitFor(
        'the API to see the destination again',
        async () => (await fetch(`${api.url}/v1/status`)).status === 200,
        SERVER_START_MS,
        50,
      );
      const job = await fetch(`${api.url}/v1/resync/${((await queued.json()) as { id: number }).id}`);
      expect(job.status).toBe(200);
    } finally {
      await api.close();
    }
    await expect(fetch(`${api.url}/health`)).rejects.toThrow();
  });

  it('a port in use is a ConfigError naming ELT_API_PORT', async () => {
    const first = await startApi(loadApiConfig({ ELT_DESTINATION_URL: dest.url, ELT_API_PORT: '0' }), {
      processMetrics: false,
    });
    try {
      const port = new URL(first.url).port;
      const second = startApi(loadApiConfig({ ELT_DESTINATION_URL: dest.url, ELT_API_PORT: port }), {
        processMetrics: false,
      });
      await expect(second).rejects.toThrow(ConfigError);
      await expect(second).rejects.toThrow(/port is in use/);
    } finally {
      await first.close();
    }
  });

  it("reports the same numbers and times whatever the destination database's own settings", async () => {
    // A database whose default prints floats to one significant digit, in another zone and date style.
    await dest.pool.query(
      "ALTER DATABASE dest SET extra_float_digits = -14; ALTER DATABASE dest SET timezone = 'Pacific/Chatham'; " +
        "ALTER DATABASE dest SET datestyle = 'SQL, DMY'",
    );
    await dest.pool.query(
      "UPDATE elt.tables SET rows_copied = 1234567, last_change_at = '2026-03-04 05:06:07.123456+00' " +
        "WHERE source_table = 'orders'",
    );
    const api = await startApi(loadApiConfig({ ELT_DESTINATION_URL: dest.url, ELT_API_PORT: '0' }), {
      processMetrics: false,
    });
    try {
      const response = await fetch(`${api.url}/v1/tables/public.orders`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({
        rows_copied: 1234567,
        last_change_at: '2026-03-04T05:06:07.123456Z',
      });
    } finally {
      await api.close();
      await dest.pool.query('ALTER DATABASE dest RESET ALL');
    }
  });

  it('server.ts as a process: logs without the token, stops on SIGTERM with exit 0', async () => {
    const port = String(await import('../../harness/pg-cluster.js').then((m) => m.freePort()));
    const proc = runServer({ ELT_DESTINATION_URL: dest.url, ELT_API_PORT: port, ELT_API_TOKEN: TOKEN });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor('the API to listen', async () => (await fetch(`${base}/health`)).ok, SERVER_START_MS, 50);
      const res = await fetch(`${base}/v1/resync`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tables: ['public.customers'], requested_by: 'server test' }),
      });
      expect(res.status).toBe(202);
      expect(
        (
          await fetch(`${base}/v1/resync`, {
            method: 'POST',
            headers: { authorization: 'Bearer wrong-token-0123456789' },
          })
        ).status,
      ).toBe(403);
    } finally {
      proc.kill('SIGTERM');
    }
    expect(await proc.exit).toBe(0);
    const log = proc.output();
    expect(log).toContain('elt api listening');
    expect(log).toContain('resync job queued');
    expect(log).not.toContain(TOKEN);
    expect(log).not.toContain('wrong-token-0123456789');
    expect(log).not.toMatch(/authorization/i);
  });

  it('server.ts with bad configuration exits 2 with one sentence per bad value', async () => {
    const proc = runServer({ ELT_API_PORT: 'abc', ELT_API_TOKEN: 'short' });
    expect(await proc.exit).toBe(2);
    const output = proc.output();
    expect(output).toContain('ELT_DESTINATION_URL is required.');
    expect(output).toContain('ELT_API_PORT must be a port number.');
    expect(output).toContain('ELT_API_TOKEN must be at least 16 characters');
    expect(output).not.toContain('    at ');
  });
});
