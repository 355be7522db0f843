/**
 * `elt replicate` in a terminal (a pseudo-terminal from util-linux `script`) shows a live
 * progress line per table during the snapshot, and its log lines stay whole JSON above it.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { replicationFixture } from '../../harness/fixture.js';
import { ELT_BIN, ELT_NODE_FLAGS, REPO_ROOT, query, waitFor } from '../../harness/replication.js';

/** Terminal escapes (CSI sequences) and carriage returns, which a person's terminal interprets. */
// eslint-disable-next-line no-control-regex -- matching the escape character is the point
const ESCAPES = /\x1b\[[0-9;]*[A-Za-z]|\r/g;

describe('elt replicate on a terminal', () => {
  it('draws a line with rows of the estimate, MB/s and ETA while copying, logs stay JSON', async () => {
    await using pair = await replicationFixture({
      sourceSql: `CREATE TABLE big (id bigint PRIMARY KEY, pad text);
       INSERT INTO big SELECT i, repeat('b', 40) FROM generate_series(1, 200000) i;`,
    });
    const command = [process.execPath, ...ELT_NODE_FLAGS, ELT_BIN, 'replicate'].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ELT_METRICS_PORT: '0', ELT_LOG_LEVEL: 'info', ...pair.env() },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    try {
      await waitFor(
        'the snapshot to finish',
        async () => {
          if (child.exitCode !== null) throw new Error(output);
          const rows = await query<{ phase: string }>(
            pair.destinationUrl,
            "SELECT phase FROM elt.replication_state WHERE slot_name = 'elt_slot'",
          ).catch(() => []);
          return rows[0]?.phase === 'streaming';
        },
        120_000,
      );
      await waitFor('the log line that says so', async () => output.includes('snapshot complete'));
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
    }
    expect(output).toMatch(
      /snapshot public\.big {2}[\d,]+ \/ [\d,]+ rows {2}\d+\.\d% {2}\d+\.\d MB\/s {2}ETA (\d+:\d\d|\?)/,
    );
    const lines = output.replace(ESCAPES, '').split('\n');
    const logLines = lines.filter((l) => l.startsWith('{'));
    expect(logLines.some((l) => l.includes('"table copied"'))).toBe(true);
    for (const line of logLines) expect(() => JSON.parse(line), line).not.toThrow();
  });
});
