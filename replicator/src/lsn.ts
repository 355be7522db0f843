/**
 * A log sequence number (LSN) is a 64-bit byte position in the source's write-ahead log,
 * written by PostgreSQL as two hex halves: `16/B374D848`. Internally we keep it as a bigint
 * so that it compares and subtracts exactly; it becomes text only at the edges (SQL, logs).
 */
export type Lsn = bigint;

export function parseLsn(text: string): Lsn {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new Error(`Not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}

const WAL_PAGE_BYTES = 8192n;
const WAL_SEGMENT_BYTES = 16n * 1024n * 1024n;
const SHORT_PAGE_HEADER_BYTES = 24n;
const LONG_PAGE_HEADER_BYTES = 40n;

/**
 * The end of the last record before pg_current_wal_insert_lsn(): the position a logical
 * stream reaches once it has sent everything inserted so far. They differ only when the
 * last record ended at a page boundary: the insert position then points past the next
 * page's header, which no record ends at (default 8 kB pages and 16 MB segments).
 */
export function lastRecordEnd(insertLsn: Lsn): Lsn {
  if (insertLsn % WAL_SEGMENT_BYTES === LONG_PAGE_HEADER_BYTES) return insertLsn - LONG_PAGE_HEADER_BYTES;
  if (insertLsn % WAL_PAGE_BYTES === SHORT_PAGE_HEADER_BYTES) return insertLsn - SHORT_PAGE_HEADER_BYTES;
  return insertLsn;
}
