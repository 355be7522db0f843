/**
 * Counting the rows of a COPY stream as it passes from the source to the destination, for the
 * progress of a snapshot or a resync copy. Text format: one row per newline (values escape theirs). Binary format
 * (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4): a header, then per
 * row a 16-bit field count followed by each field's 32-bit length (-1 for NULL) and its bytes,
 * then a field count of -1; the counter follows those lengths across chunk boundaries.
 */
import { Transform } from 'node:stream';

export type CopyFormat = 'text' | 'binary';

/** Signature (11 bytes), flags (4), header extension length (4). */
const BINARY_HEADER_BYTES = 19;

/** Counts COPY rows and bytes as they pass; calls `onProgress` after each chunk. */
export class CopyRowCounter extends Transform {
  readonly #binary: BinaryRowCounter | null;
  rows = 0;
  bytes = 0;

  constructor(
    format: CopyFormat,
    private readonly onProgress?: (rows: number, bytes: number) => void,
  ) {
    super();
    this.#binary = format === 'binary' ? new BinaryRowCounter() : null;
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null, data?: Buffer) => void,
  ): void {
    if (this.#binary) this.rows += this.#binary.push(chunk);
    else for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) this.rows++;
    this.bytes += chunk.length;
    this.onProgress?.(this.rows, this.bytes);
    callback(null, chunk);
  }
}

/** What the binary counter reads next. */
type Expect = 'header' | 'extension' | 'fieldCount' | 'fieldLength' | 'fieldData' | 'trailer';

/** The binary format's row counter; `push` returns the rows that a chunk completes. */
export class BinaryRowCounter {
  #expect: Expect = 'header';
  /** Bytes of a header or integer split across chunks. */
  #partial = Buffer.alloc(BINARY_HEADER_BYTES);
  #partialLength = 0;
  /** Bytes of an extension or a field value still to skip. */
  #skip = 0;
  /** Fields of the current row still to read. */
  #fieldsLeft = 0;

  push(chunk: Buffer): number {
    let rows = 0;
    let at = 0;
    while (at < chunk.length && this.#expect !== 'trailer') {
      if (this.#expect === 'fieldCount' && this.#partialLength === 0) {
        const end = wholeRowsEnd(chunk, at);
        rows += end.rows;
        at = end.at;
        if (at >= chunk.length) break;
      }
      if (this.#expect === 'extension' || this.#expect === 'fieldData') {
        const skipped = Math.min(this.#skip, chunk.length - at);
        at += skipped;
        this.#skip -= skipped;
        if (this.#skip === 0) rows += this.#nextField();
        continue;
      }
      const size = this.#expect === 'header' ? BINARY_HEADER_BYTES : this.#expect === 'fieldCount' ? 2 : 4;
      if (this.#partialLength === 0 && at + size <= chunk.length) {
        // The common case: the whole integer is in this chunk, read in place.
        rows += this.#read(chunk, at);
        at += size;
        continue;
      }
      // Split across chunks: gather its bytes (a byte loop; Buffer.copy costs more for 2 to 19 bytes).
      while (this.#partialLength < size && at < chunk.length) this.#partial[this.#partialLength++] = chunk[at++]!;
      if (this.#partialLength < size) break;
      this.#partialLength = 0;
      rows += this.#read(this.#partial, 0);
    }
    return rows;
  }

  /** A whole header or integer is in `bytes` at `at`: move on; returns 1 when it ended a row. */
  #read(bytes: Buffer, at: number): number {
    switch (this.#expect) {
      case 'header':
        this.#skip = bytes.readUInt32BE(at + 15);
        this.#expect = 'extension';
        if (this.#skip === 0) this.#expect = 'fieldCount';
        return 0;
      case 'fieldCount': {
        const count = bytes.readInt16BE(at);
        if (count === -1) {
          this.#expect = 'trailer';
          return 0;
        }
        this.#fieldsLeft = count;
        // A row of no columns: PostgreSQL writes it as a count of 0 and nothing after.
        if (count === 0) return 1;
        this.#expect = 'fieldLength';
        return 0;
      }
      case 'fieldLength': {
        const length = bytes.readInt32BE(at);
        this.#fieldsLeft--;
        if (length <= 0) return this.#afterField();
        this.#skip = length;
        this.#expect = 'fieldData';
        return 0;
      }
      default:
        return 0;
    }
  }

  /** The skipped bytes (an extension or a value) are done. */
  #nextField(): number {
    if (this.#expect === 'extension') {
      this.#expect = 'fieldCount';
      return 0;
    }
    return this.#afterField();
  }

  /** A field has been read: the next field, or the row is complete. */
  #afterField(): number {
    if (this.#fieldsLeft > 0) {
      this.#expect = 'fieldLength';
      return 0;
    }
    this.#expect = 'fieldCount';
    return 1;
  }
}

/**
 * The fast path: from a row's start, step over the rows that lie wholly in `chunk`; returns
 * how many and where the first one that does not (or the trailer) starts.
 */
function wholeRowsEnd(chunk: Buffer, start: number): { rows: number; at: number } {
  let rows = 0;
  let at = start;
  for (;;) {
    if (at + 2 > chunk.length) break;
    const count = chunk.readInt16BE(at);
    if (count === -1) break;
    let next = at + 2;
    for (let field = 0; field < count && next <= chunk.length; field++) {
      if (next + 4 > chunk.length) {
        next = chunk.length + 1;
        break;
      }
      const length = chunk.readInt32BE(next);
      next += 4 + (length > 0 ? length : 0);
    }
    if (next > chunk.length) break;
    at = next;
    rows++;
  }
  return { rows, at };
}
