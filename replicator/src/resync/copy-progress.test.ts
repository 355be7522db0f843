import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { progressTick } from './copy-progress.js';

/** A logger whose JSON lines land in `lines`. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      callback();
    },
  });
  return { lc: pino(sink), lines };
}

describe('progressTick', () => {
  it('reports the rows copied and says whether the job was cancelled', async () => {
    const { lc, lines } = capturingLogger();
    const reported: number[] = [];
    const report = async (rows: number) => void reported.push(rows);
    expect(await progressTick(lc, 10, { report, cancelled: async () => false })).toBe(false);
    expect(await progressTick(lc, 20, { report, cancelled: async () => true })).toBe(true);
    expect(reported).toEqual([10, 20]);
    expect(lines).toEqual([]);
  });

  it('still sees a cancellation when recording the progress fails, and logs the failure', async () => {
    const { lc, lines } = capturingLogger();
    const report = async () => {
      throw new Error('canceling statement due to lock timeout');
    };
    expect(await progressTick(lc, 10, { report, cancelled: async () => true })).toBe(true);
    expect(lines).toMatchObject([{ level: 40, msg: expect.stringContaining('could not record the copy progress') }]);
  });

  it('goes on copying when the cancellation cannot be read, and logs why', async () => {
    const { lc, lines } = capturingLogger();
    const cancelled = async (): Promise<boolean> => {
      throw new Error('Connection terminated unexpectedly');
    };
    expect(await progressTick(lc, 10, { report: async () => undefined, cancelled })).toBe(false);
    expect(lines).toMatchObject([
      { level: 40, msg: expect.stringContaining('could not read whether the job was cancelled') },
    ]);
  });
});
