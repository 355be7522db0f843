import { describe, expect, it } from 'vitest';
import { parseLsn } from '../lsn.js';
import { PgoutputDecoder, UNCHANGED_TOAST, pgTimestampToUnixMs } from './pgoutput.js';

/** Builds pgoutput wire bytes by hand, field by field, as the server writes them. */
class Bytes {
  #parts: Buffer[] = [];
  char(c: string) {
    this.#parts.push(Buffer.from(c, 'latin1'));
    return this;
  }
  int8(n: number) {
    const b = Buffer.alloc(1);
    b.writeUInt8(n);
    this.#parts.push(b);
    return this;
  }
  int16(n: number) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    this.#parts.push(b);
    return this;
  }
  int32(n: number) {
    const b = Buffer.alloc(4);
    if (n < 0) b.writeInt32BE(n);
    else b.writeUInt32BE(n);
    this.#parts.push(b);
    return this;
  }
  int64(n: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(n);
    this.#parts.push(b);
    return this;
  }
  string(s: string) {
    this.#parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }
  text(s: string) {
    const body = Buffer.from(s, 'utf8');
    return this.char('t').int32(body.length).bytes(body);
  }
  bytes(b: Buffer) {
    this.#parts.push(b);
    return this;
  }
  build() {
    return Buffer.concat(this.#parts);
  }
}

const LSN = parseLsn('16/B374D848');
const END_LSN = parseLsn('16/B374D878');
// 2026-01-02 03:04:05.123456 UTC in µs since 2000-01-01
const PG_TS = 820_638_245_123_456n;

/** A value as the decoder returns it: the bytes the server sent. */
const text = (value: string) => Buffer.from(value, 'utf8');

describe('PgoutputDecoder', () => {
  it('decodes Begin and Commit with LSNs and commit time', () => {
    const d = new PgoutputDecoder();
    expect(d.decode(new Bytes().char('B').int64(LSN).int64(PG_TS).int32(4242).build())).toEqual({
      tag: 'begin',
      finalLsn: LSN,
      commitTime: pgTimestampToUnixMs(PG_TS),
      xid: 4242,
    });
    expect(new Date(pgTimestampToUnixMs(PG_TS)).toISOString()).toBe('2026-01-02T03:04:05.123Z');
    expect(d.decode(new Bytes().char('C').int8(0).int64(LSN).int64(END_LSN).int64(PG_TS).build())).toEqual({
      tag: 'commit',
      flags: 0,
      commitLsn: LSN,
      endLsn: END_LSN,
      commitTime: pgTimestampToUnixMs(PG_TS),
    });
  });

  it('decodes a Relation with key flags, types and replica identity', () => {
    const msg = new Bytes()
      .char('R')
      .int32(16384)
      .string('public')
      .string('order_items')
      .char('d')
      .int16(2)
      .int8(1)
      .string('order_id')
      .int32(20)
      .int32(-1)
      .int8(0)
      .string('price')
      .int32(1700)
      .int32(786438)
      .build();
    expect(new PgoutputDecoder().decode(msg)).toEqual({
      tag: 'relation',
      relationId: 16384,
      schema: 'public',
      name: 'order_items',
      replicaIdentity: 'd',
      columns: [
        { isKey: true, name: 'order_id', typeOid: 20, typeMod: -1 },
        { isKey: false, name: 'price', typeOid: 1700, typeMod: 786438 },
      ],
    });
  });

  it('keeps values as the exact text sent, nulls as null and unchanged TOAST as a marker', () => {
    const msg = new Bytes()
      .char('U')
      .int32(7)
      .char('N')
      .int16(4)
      .text('12345678901234567890.000000000001')
      .char('n')
      .char('u')
      .text('tab\there\nnewline \\ 日本 🎉')
      .build();
    expect(new PgoutputDecoder().decode(msg)).toEqual({
      tag: 'update',
      relationId: 7,
      new: [text('12345678901234567890.000000000001'), null, UNCHANGED_TOAST, text('tab\there\nnewline \\ 日本 🎉')],
    });
  });

  it('decodes the old key of an update that changed the key, and of a delete', () => {
    const d = new PgoutputDecoder();
    const update = new Bytes().char('U').int32(7).char('K').int16(1).text('1').char('N').int16(1).text('2').build();
    expect(d.decode(update)).toEqual({ tag: 'update', relationId: 7, key: [text('1')], new: [text('2')] });
    const fullDelete = new Bytes().char('D').int32(7).char('O').int16(2).text('1').char('n').build();
    expect(d.decode(fullDelete)).toEqual({ tag: 'delete', relationId: 7, old: [text('1'), null] });
  });

  it('decodes Truncate of several relations with CASCADE and RESTART IDENTITY', () => {
    const msg = new Bytes().char('T').int32(2).int8(3).int32(10).int32(11).build();
    expect(new PgoutputDecoder().decode(msg)).toEqual({
      tag: 'truncate',
      cascade: true,
      restartIdentity: true,
      relationIds: [10, 11],
    });
  });

  it('reads the xid of data messages only inside a stream block (protocol v2)', () => {
    const d = new PgoutputDecoder();
    expect(d.decode(new Bytes().char('S').int32(900).int8(1).build())).toEqual({
      tag: 'stream_start',
      xid: 900,
      firstSegment: true,
    });
    const streamedInsert = new Bytes().char('I').int32(900).int32(7).char('N').int16(1).text('a').build();
    expect(d.decode(streamedInsert)).toEqual({ tag: 'insert', xid: 900, relationId: 7, new: [text('a')] });
    expect(d.decode(new Bytes().char('E').build())).toEqual({ tag: 'stream_stop' });
    const plainInsert = new Bytes().char('I').int32(7).char('N').int16(1).text('b').build();
    expect(d.decode(plainInsert)).toEqual({ tag: 'insert', relationId: 7, new: [text('b')] });
    expect(d.decode(new Bytes().char('A').int32(900).int32(901).build())).toEqual({
      tag: 'stream_abort',
      xid: 900,
      subXid: 901,
    });
    const streamCommit = new Bytes().char('c').int32(900).int8(0).int64(LSN).int64(END_LSN).int64(PG_TS).build();
    expect(d.decode(streamCommit)).toMatchObject({ tag: 'stream_commit', xid: 900, commitLsn: LSN, endLsn: END_LSN });
  });

  it('names what it cannot decode', () => {
    expect(() => new PgoutputDecoder().decode(Buffer.from('Z'))).toThrow(/unknown message type "Z"/);
    const binary = new Bytes().char('I').int32(7).char('N').int16(1).char('b').int32(1).int8(1).build();
    expect(() => new PgoutputDecoder().decode(binary)).toThrow(/binary values/);
    const truncated = new Bytes().char('I').int32(7).char('N').int16(1).char('t').int32(10).char('x').build();
    expect(() => new PgoutputDecoder().decode(truncated)).toThrow(/truncated/);
  });
});
