/**
 * Decoder for the pgoutput logical replication protocol, versions 1 and 2
 * (https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html).
 *
 * Bytes in, messages out, no I/O. We keep every column value as the exact text the
 * server sent — never a JS number or Date — because both ends are PostgreSQL and the
 * destination casts the text back losslessly. Values stay bytes (a view into the message's
 * buffer, which the caller must own): a JS string of a value of hundreds of megabytes would
 * not fit elt's heap, and text is never needed to copy a value on. An unchanged TOASTed
 * value is `UNCHANGED_TOAST`, never null: writing it as null would corrupt the row.
 *
 * Version 2 adds streamed in-progress transactions: between Stream Start and Stream Stop,
 * data messages carry the transaction id, so the decoder tracks whether it is inside a
 * stream block.
 */
import type { Lsn } from '../lsn.js';

export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');
export type ColumnValue = Buffer | null | typeof UNCHANGED_TOAST;
export type Tuple = ColumnValue[];

export interface RelationColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  /** Part of the replica identity (the key pgoutput sends for updates and deletes). */
  isKey: boolean;
}

/** replica identity: d = default (primary key), n = nothing, f = full row, i = index */
export type ReplicaIdentity = 'd' | 'n' | 'f' | 'i';

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTime: number; xid: number }
  | { tag: 'commit'; flags: number; commitLsn: Lsn; endLsn: Lsn; commitTime: number }
  | { tag: 'origin'; originLsn: Lsn; name: string }
  | {
      tag: 'relation';
      xid?: number;
      relationId: number;
      schema: string;
      name: string;
      replicaIdentity: ReplicaIdentity;
      columns: RelationColumn[];
      /** Set by the column filter (./column-filter.ts): why the column policy stops this table. */
      refused?: { reason: string; hint: string };
    }
  | { tag: 'type'; xid?: number; typeOid: number; schema: string; name: string }
  | { tag: 'insert'; xid?: number; relationId: number; new: Tuple }
  | { tag: 'update'; xid?: number; relationId: number; key?: Tuple; old?: Tuple; new: Tuple }
  | { tag: 'delete'; xid?: number; relationId: number; key?: Tuple; old?: Tuple }
  | { tag: 'truncate'; xid?: number; cascade: boolean; restartIdentity: boolean; relationIds: number[] }
  | { tag: 'message'; xid?: number; transactional: boolean; lsn: Lsn; prefix: string; content: Buffer }
  | { tag: 'stream_start'; xid: number; firstSegment: boolean }
  | { tag: 'stream_stop' }
  | { tag: 'stream_commit'; xid: number; flags: number; commitLsn: Lsn; endLsn: Lsn; commitTime: number }
  | { tag: 'stream_abort'; xid: number; subXid: number };

/** Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch. */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000n;

/** A PostgreSQL timestamp (µs since 2000-01-01) as milliseconds since the Unix epoch. */
export function pgTimestampToUnixMs(pgMicros: bigint): number {
  return Number(pgMicros + PG_EPOCH_OFFSET_US) / 1000;
}

class Reader {
  #offset = 0;
  constructor(private readonly buffer: Buffer) {}

  byte(): number {
    return this.buffer.readUInt8(this.#offset++);
  }
  char(): string {
    return String.fromCharCode(this.byte());
  }
  int16(): number {
    const value = this.buffer.readInt16BE(this.#offset);
    this.#offset += 2;
    return value;
  }
  int32(): number {
    const value = this.buffer.readInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }
  uint32(): number {
    const value = this.buffer.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }
  uint64(): bigint {
    const value = this.buffer.readBigUInt64BE(this.#offset);
    this.#offset += 8;
    return value;
  }
  int64(): bigint {
    const value = this.buffer.readBigInt64BE(this.#offset);
    this.#offset += 8;
    return value;
  }
  /** A null-terminated string. */
  string(): string {
    const end = this.buffer.indexOf(0, this.#offset);
    if (end < 0) throw new PgoutputDecodeError('unterminated string');
    const value = this.buffer.toString('utf8', this.#offset, end);
    this.#offset = end + 1;
    return value;
  }
  bytes(length: number): Buffer {
    const value = this.buffer.subarray(this.#offset, this.#offset + length);
    if (value.length !== length) throw new PgoutputDecodeError('truncated message');
    this.#offset += length;
    return value;
  }
  get remaining(): number {
    return this.buffer.length - this.#offset;
  }
}

/**
 * Decodes one pgoutput message at a time. Stateful only in whether it is inside a
 * streamed-transaction block (protocol v2), where data messages carry an xid.
 */
export class PgoutputDecoder {
  #inStream = false;

  decode(buffer: Buffer): PgoutputMessage {
    const r = new Reader(buffer);
    const tag = r.char();
    switch (tag) {
      case 'B':
        return { tag: 'begin', finalLsn: r.uint64(), commitTime: pgTimestampToUnixMs(r.int64()), xid: r.uint32() };
      case 'C':
        return {
          tag: 'commit',
          flags: r.byte(),
          commitLsn: r.uint64(),
          endLsn: r.uint64(),
          commitTime: pgTimestampToUnixMs(r.int64()),
        };
      case 'O':
        return { tag: 'origin', originLsn: r.uint64(), name: r.string() };
      case 'R':
        return this.#relation(r);
      case 'Y': {
        const xid = this.#xid(r);
        return { tag: 'type', xid, typeOid: r.uint32(), schema: r.string(), name: r.string() };
      }
      case 'I': {
        const xid = this.#xid(r);
        const relationId = r.uint32();
        expectByte(r, 'N');
        return { tag: 'insert', xid, relationId, new: readTuple(r) };
      }
      case 'U':
        return this.#update(r);
      case 'D': {
        const xid = this.#xid(r);
        const relationId = r.uint32();
        const kind = r.char();
        if (kind === 'K') return { tag: 'delete', xid, relationId, key: readTuple(r) };
        if (kind === 'O') return { tag: 'delete', xid, relationId, old: readTuple(r) };
        throw new PgoutputDecodeError(`unexpected tuple kind ${JSON.stringify(kind)} in Delete`);
      }
      case 'T': {
        const xid = this.#xid(r);
        const count = r.uint32();
        const options = r.byte();
        const relationIds = Array.from({ length: count }, () => r.uint32());
        return {
          tag: 'truncate',
          xid,
          cascade: (options & 1) !== 0,
          restartIdentity: (options & 2) !== 0,
          relationIds,
        };
      }
      case 'M': {
        const xid = this.#xid(r);
        const flags = r.byte();
        const lsn = r.uint64();
        const prefix = r.string();
        const content = Buffer.from(r.bytes(r.uint32()));
        return { tag: 'message', xid, transactional: (flags & 1) !== 0, lsn, prefix, content };
      }
      case 'S':
        this.#inStream = true;
        return { tag: 'stream_start', xid: r.uint32(), firstSegment: r.byte() === 1 };
      case 'E':
        this.#inStream = false;
        return { tag: 'stream_stop' };
      case 'c':
        return {
          tag: 'stream_commit',
          xid: r.uint32(),
          flags: r.byte(),
          commitLsn: r.uint64(),
          endLsn: r.uint64(),
          commitTime: pgTimestampToUnixMs(r.int64()),
        };
      case 'A':
        return { tag: 'stream_abort', xid: r.uint32(), subXid: r.uint32() };
      default:
        throw new PgoutputDecodeError(`unknown message type ${JSON.stringify(tag)} (0x${buffer[0]?.toString(16)})`);
    }
  }

  /** The transaction id that a streamed transaction's messages carry; undefined outside one. */
  #xid(r: Reader): number | undefined {
    return this.#inStream ? r.uint32() : undefined;
  }

  #relation(r: Reader): PgoutputMessage {
    const xid = this.#xid(r);
    const relationId = r.uint32();
    const schema = r.string();
    const name = r.string();
    const replicaIdentity = r.char() as ReplicaIdentity;
    const count = r.int16();
    const columns = Array.from({ length: count }, () => {
      const flags = r.byte();
      return { isKey: (flags & 1) !== 0, name: r.string(), typeOid: r.uint32(), typeMod: r.int32() };
    });
    return { tag: 'relation', xid, relationId, schema, name, replicaIdentity, columns };
  }

  #update(r: Reader): PgoutputMessage {
    const xid = this.#xid(r);
    const relationId = r.uint32();
    let kind = r.char();
    let key: Tuple | undefined;
    let old: Tuple | undefined;
    if (kind === 'K') key = readTuple(r);
    if (kind === 'O') old = readTuple(r);
    if (key || old) kind = r.char();
    if (kind !== 'N') throw new PgoutputDecodeError(`unexpected tuple kind ${JSON.stringify(kind)} in Update`);
    // Every update has the same fields (key and old undefined when absent): one shape for what follows.
    return { tag: 'update', xid, relationId, key, old, new: readTuple(r) };
  }
}

function expectByte(r: Reader, expected: string): void {
  const actual = r.char();
  if (actual !== expected) throw new PgoutputDecodeError(`expected ${expected}, got ${JSON.stringify(actual)}`);
}

function readTuple(r: Reader): Tuple {
  const count = r.int16();
  const tuple: Tuple = new Array(count);
  for (let i = 0; i < count; i++) {
    const kind = r.char();
    if (kind === 'n') tuple[i] = null;
    else if (kind === 'u') tuple[i] = UNCHANGED_TOAST;
    else if (kind === 't') tuple[i] = r.bytes(r.uint32());
    else throw new PgoutputDecodeError(`column kind ${JSON.stringify(kind)} (binary values are not requested)`);
  }
  return tuple;
}

export class PgoutputDecodeError extends Error {
  override readonly name = 'PgoutputDecodeError';
}
