/**
 * How a big table is split for a parallel snapshot copy: into ranges of heap blocks (ctid
 * ranges), each read by its own connection under the one exported snapshot. Pure.
 *
 * Why blocks rather than key ranges: under one MVCC snapshot every visible row has exactly one
 * ctid, so disjoint block ranges that cover the table give every row exactly once, with or
 * without a key, whatever the key's type or skew, and no sampling of the key first. Each range
 * is read by a TID Range Scan (PostgreSQL 14 and later): sequential reads of its blocks only.
 * The last range has no end, so rows in blocks added after the table was measured are read too.
 */

/** One part: blocks from `fromBlock` up to (not including) `toBlock`; `toBlock` null = to the end. */
export interface TablePart {
  index: number;
  fromBlock: number;
  toBlock: number | null;
}

export interface SplitInput {
  /** The table's heap size in blocks (pg_relation_size / block_size). */
  blocks: number;
  /** The heap's size in bytes. */
  bytes: number;
  /** Split into parts of about this many bytes; 0 = never split. */
  partBytes: number;
  /** The source can read a ctid range without a full scan (PostgreSQL 14+). */
  tidRangeScan: boolean;
  /** A partitioned root is not split (its leaves' blocks are numbered apart). */
  partitioned: boolean;
}

/** Never more parts than this, whatever the size: each one is a transaction and two connections. */
export const MAX_PARTS = 64;

/** The parts of a table, in block order; one part (the whole table, `toBlock` null) when it is not split. */
export function splitTable(input: SplitInput): TablePart[] {
  const whole = [{ index: 0, fromBlock: 0, toBlock: null }];
  if (input.partBytes <= 0 || !input.tidRangeScan || input.partitioned || input.bytes <= input.partBytes) return whole;
  const count = Math.min(MAX_PARTS, Math.ceil(input.bytes / input.partBytes), input.blocks);
  if (count < 2) return whole;
  const size = Math.ceil(input.blocks / count);
  const parts: TablePart[] = [];
  for (let from = 0; from < input.blocks; from += size) {
    const last = from + size >= input.blocks;
    parts.push({ index: parts.length, fromBlock: from, toBlock: last ? null : from + size });
  }
  return parts;
}

/** The WHERE condition that selects a part's rows; null for the whole table. */
export function partCondition(part: TablePart): string | null {
  if (part.fromBlock === 0 && part.toBlock === null) return null;
  const from = `ctid >= '(${part.fromBlock},0)'::tid`;
  return part.toBlock === null ? from : `${from} AND ctid < '(${part.toBlock},0)'::tid`;
}
