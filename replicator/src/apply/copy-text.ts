/**
 * Writes rows in COPY text format to a COPY FROM STDIN stream, from the byte values the
 * source sent, with memory bounded however large a value is.
 *
 * Values stay Buffers end to end (a JS string of a 256 MB value would not fit elt's heap).
 * A value is escaped a slice at a time into a small buffer that goes to the stream whenever
 * it fills, waiting for the socket to drain, so a value is never copied whole again. The
 * escaping works on bytes: in UTF-8 the four bytes COPY escapes (backslash, tab, newline,
 * carriage return) never occur inside a multi-byte character.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** A field: bytes, text, or null (written as \N). */
export type CopyField = Buffer | string | null;

/** Bytes gathered before they are handed to the stream. */
const FLUSH_AT = 64 * 1024;
/** A value is escaped this many bytes at a time: its escaped form is at most twice that. */
const SLICE = 64 * 1024;
/** Below FLUSH_AT, room for one escaped slice, and the tab, \N or newline around it. */
const CAPACITY = FLUSH_AT + 2 * SLICE + 8;

const BACKSLASH = 0x5c;
const TAB = 0x09;
const NEWLINE = 0x0a;
/** For each byte, the letter after the backslash that escapes it, or 0 when it needs none. */
const ESCAPED = new Uint8Array(256);
ESCAPED[BACKSLASH] = BACKSLASH;
ESCAPED[TAB] = 0x74; // t
ESCAPED[NEWLINE] = 0x6e; // n
ESCAPED[0x0d] = 0x72; // r (carriage return)

export class CopyTextWriter {
  #buffer = Buffer.allocUnsafe(CAPACITY);
  #length = 0;
  #rows = 0;
  #error: Error | null = null;

  constructor(private readonly stream: Writable) {
    // Kept until the next write or end, which throw it: an error between them must not go unheard.
    stream.on('error', (error: Error) => (this.#error ??= error));
  }

  get rows(): number {
    return this.#rows;
  }

  /**
   * Append one row; resolves once what it could not keep is in the stream's hands. A field of up
   * to one slice is escaped straight into the buffer, with no promise of its own: this runs for
   * every field of every change.
   */
  async writeRow(fields: readonly CopyField[]): Promise<void> {
    for (let i = 0; i < fields.length; i++) {
      if (this.#length >= FLUSH_AT) await this.#flush();
      if (i > 0) this.#buffer[this.#length++] = TAB;
      const value = fields[i]!;
      if (value === null) {
        this.#buffer[this.#length++] = BACKSLASH;
        this.#buffer[this.#length++] = 0x4e; // N
        continue;
      }
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
      if (bytes.length <= SLICE) this.#length = escapeInto(bytes, this.#buffer, this.#length);
      else await this.#bigField(bytes);
    }
    this.#buffer[this.#length++] = NEWLINE;
    this.#rows++;
    if (this.#length >= FLUSH_AT) await this.#flush();
  }

  /** Hand over the rest and end the COPY; rejects with the server's error if it refused the data. */
  async end(): Promise<void> {
    await this.#flush();
    this.#throwIfFailed();
    const finished = once(this.stream, 'finish');
    this.stream.end();
    await finished;
  }

  /** A value bigger than a slice, escaped a slice at a time, handed over whenever the buffer fills. */
  async #bigField(bytes: Buffer): Promise<void> {
    for (let start = 0; start < bytes.length; start += SLICE) {
      if (this.#length >= FLUSH_AT) await this.#flush();
      this.#length = escapeInto(bytes.subarray(start, start + SLICE), this.#buffer, this.#length);
    }
  }

  /** Give the gathered bytes to the stream (a fresh buffer follows: the socket may still hold this one). */
  async #flush(): Promise<void> {
    this.#throwIfFailed();
    if (this.#length === 0) return;
    const full = this.#buffer.subarray(0, this.#length);
    this.#buffer = Buffer.allocUnsafe(CAPACITY);
    this.#length = 0;
    if (!this.stream.write(full)) await once(this.stream, 'drain');
  }

  #throwIfFailed(): void {
    if (this.#error) throw this.#error;
  }
}

/** Escape `bytes` for COPY text format into `out` at `at`; returns the new end. `out` has room for twice `bytes`. */
export function escapeInto(bytes: Buffer, out: Buffer, at: number): number {
  let from = 0;
  let end = at;
  for (let i = 0; i < bytes.length; i++) {
    const escaped = ESCAPED[bytes[i]!]!;
    if (escaped === 0) continue;
    end += bytes.copy(out, end, from, i);
    out[end++] = BACKSLASH;
    out[end++] = escaped;
    from = i + 1;
  }
  return end + bytes.copy(out, end, from);
}
