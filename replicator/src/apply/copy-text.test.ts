import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CopyTextWriter, escapeInto } from './copy-text.js';

/** A sink that keeps what it is given and asks the writer to wait after each piece. */
function sink(): { stream: Writable; text: () => string; pieces: number } {
  const chunks: Buffer[] = [];
  const state = { pieces: 0 };
  const stream = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      state.pieces++;
      setImmediate(callback);
    },
  });
  return {
    stream,
    text: () => Buffer.concat(chunks).toString('utf8'),
    get pieces() {
      return state.pieces;
    },
  };
}

describe('COPY text escaping', () => {
  it('escapes backslash, tab, newline and carriage return, and nothing else', () => {
    const input = Buffer.from('a\\b\tc\nd\re ünï 😀', 'utf8');
    const out = Buffer.alloc(input.length * 2);
    const end = escapeInto(input, out, 0);
    expect(out.subarray(0, end).toString('utf8')).toBe('a\\\\b\\tc\\nd\\re ünï 😀');
  });

  it('writes rows with \\N for null, tabs between fields and a newline after each row', async () => {
    const s = sink();
    const writer = new CopyTextWriter(s.stream);
    await writer.writeRow(['U', '0/16B3748', null, Buffer.from('x\ty')]);
    await writer.writeRow(['D', '0/16B3750', '', Buffer.from('')]);
    await writer.end();
    expect(s.text()).toBe('U\t0/16B3748\t\\N\tx\\ty\nD\t0/16B3750\t\t\n');
    expect(writer.rows).toBe(2);
  });

  it('hands a value bigger than its buffer over in pieces, unchanged once unescaped', async () => {
    const value = Buffer.alloc(3 * 1024 * 1024 + 7, 'ab\\\ncd');
    const s = sink();
    const writer = new CopyTextWriter(s.stream);
    await writer.writeRow([value]);
    await writer.end();
    expect(s.pieces).toBeGreaterThan(4);
    const unescaped = s
      .text()
      .slice(0, -1)
      .replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    expect(unescaped).toBe(value.toString('utf8'));
  });

  it('keeps every byte of rows whose escaped values fill the buffer to its edge', async () => {
    // Values of every size around the writer's slice and flush sizes (64 kB), half of their
    // bytes escaped, so each buffer boundary falls inside a value, a tab or a newline somewhere.
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    const rows = Array.from({ length: 40 }, () =>
      Array.from({ length: 1 + random(4) }, () => {
        const size = random(3) === 0 ? 65_536 - random(3) : random(140_000);
        return Buffer.from(Array.from({ length: size }, () => (random(2) === 0 ? 0x5c : 0x61)));
      }),
    );
    const s = sink();
    const writer = new CopyTextWriter(s.stream);
    for (const row of rows) await writer.writeRow(row);
    await writer.end();
    const lines = s.text().split('\n').slice(0, -1);
    expect(lines.map((line) => line.split('\t').map((field) => field.replace(/\\\\/g, '\\')))).toEqual(
      rows.map((row) => row.map((value) => value.toString('latin1'))),
    );
  });

  it('rejects with the stream error when the stream fails', async () => {
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error('refused by the server'));
      },
    });
    const writer = new CopyTextWriter(stream);
    await writer.writeRow(['x']);
    await expect(writer.end()).rejects.toThrow('refused by the server');
  });
});
