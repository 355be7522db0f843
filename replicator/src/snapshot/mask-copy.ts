/**
 * Masks the columns ELT_MASK_COLUMNS names in a stream of COPY text rows, between the source's
 * COPY TO and the destination's COPY FROM (a snapshot's copy, a resync's): each masked field is
 * unescaped to the bytes the server printed (the very bytes pgoutput sends for that value, so
 * the stream masks it alike), masked (../source/column-policy.ts) and escaped again. Only tables
 * with a masked column go through it; the others keep the direct pipe.
 *
 * A row is held whole until its newline arrives (COPY text escapes the newlines inside values).
 */
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import type { ColumnPolicy } from '../source/column-policy.js';
import type { MaskMethod } from '../source/mask.js';

const NEWLINE = 0x0a;
const TAB = 0x09;
const BACKSLASH = 0x5c;
const NULL_FIELD = Buffer.from('\\N');

/** The letters after a backslash in COPY text, and the byte each stands for. */
const UNESCAPED: Record<number, number> = {
  0x62: 0x08, // b
  0x66: 0x0c, // f
  0x6e: 0x0a, // n
  0x72: 0x0d, // r
  0x74: 0x09, // t
  0x76: 0x0b, // v
};
/** The bytes COPY FROM needs escaped, and their letter. */
const ESCAPED: Record<number, number> = { 0x5c: 0x5c, 0x09: 0x74, 0x0a: 0x6e, 0x0d: 0x72 };

/** A COPY text field's bytes (never `\N`). */
export function unescapeCopyField(field: Buffer): Buffer {
  if (!field.includes(BACKSLASH)) return field;
  const out = Buffer.allocUnsafe(field.length);
  let n = 0;
  for (let i = 0; i < field.length; i++) {
    const byte = field[i]!;
    if (byte !== BACKSLASH || i + 1 >= field.length) {
      out[n++] = byte;
      continue;
    }
    const next = field[++i]!;
    if (next >= 0x30 && next <= 0x37) {
      // \ooo: up to three octal digits.
      let value = next - 0x30;
      for (let k = 0; k < 2 && i + 1 < field.length && field[i + 1]! >= 0x30 && field[i + 1]! <= 0x37; k++)
        value = value * 8 + (field[++i]! - 0x30);
      out[n++] = value & 0xff;
    } else if (next === 0x78 && i + 1 < field.length && isHex(field[i + 1]!)) {
      // \xh or \xhh.
      let value = hexValue(field[++i]!);
      if (i + 1 < field.length && isHex(field[i + 1]!)) value = value * 16 + hexValue(field[++i]!);
      out[n++] = value;
    } else out[n++] = UNESCAPED[next] ?? next;
  }
  return out.subarray(0, n);
}

/** Bytes as a COPY text field. */
export function escapeCopyField(value: Buffer): Buffer {
  const out: number[] = [];
  for (const byte of value) {
    const letter = ESCAPED[byte];
    if (letter === undefined) out.push(byte);
    else out.push(BACKSLASH, letter);
  }
  return Buffer.from(out);
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

function hexValue(byte: number): number {
  return byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x61 + 10;
}

/** One COPY text row (without its newline) with its masked fields replaced. */
export function maskCopyRow(row: Buffer, methods: (MaskMethod | null)[], policy: ColumnPolicy): Buffer {
  const fields: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= row.length; i++) {
    if (i < row.length && row[i] !== TAB) continue;
    fields.push(row.subarray(start, i));
    start = i + 1;
  }
  const out = fields.map((field, i) => {
    const method = methods[i];
    if (!method || field.equals(NULL_FIELD)) return field;
    const masked = policy.mask(method, unescapeCopyField(field));
    return masked === null ? NULL_FIELD : escapeCopyField(masked);
  });
  return Buffer.concat(out.flatMap((f, i) => (i === 0 ? [f] : [Buffer.from([TAB]), f])));
}

/** A Transform from COPY text rows to the same rows masked. */
export class MaskCopyText extends Transform {
  #pending: Buffer[] = [];

  constructor(
    private readonly methods: (MaskMethod | null)[],
    private readonly policy: ColumnPolicy,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const out: Buffer[] = [];
      let start = 0;
      for (let i = chunk.indexOf(NEWLINE); i >= 0; i = chunk.indexOf(NEWLINE, start)) {
        this.#pending.push(chunk.subarray(start, i));
        out.push(maskCopyRow(Buffer.concat(this.#pending), this.methods, this.policy), Buffer.from([NEWLINE]));
        this.#pending = [];
        start = i + 1;
      }
      if (start < chunk.length) this.#pending.push(chunk.subarray(start));
      callback(null, out.length > 0 ? Buffer.concat(out) : undefined);
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    // COPY TO ends every row with a newline: anything left is a cut row, which COPY FROM would refuse too.
    callback(this.#pending.length > 0 ? new Error('the COPY data ended inside a row') : null);
  }
}

/** The stage a copy's rows pass: masking where a column is masked, else a plain pass-through. */
export function maskingStage(masks: { methods: (MaskMethod | null)[]; policy: ColumnPolicy } | undefined): Transform {
  return masks && masks.methods.some((m) => m !== null)
    ? new MaskCopyText(masks.methods, masks.policy)
    : new PassThrough();
}
