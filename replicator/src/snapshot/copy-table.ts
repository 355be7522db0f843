/**
 * Copy one table's rows at an exported snapshot, source COPY TO piped into destination
 * COPY FROM (pg-copy-streams), in the destination transaction the caller holds open.
 *
 * Only the columns the replica stores are copied (generated ones are computed by the
 * replica); a partitioned table is read through its root, so its partitions' rows land in
 * the one replica table. Values travel in PostgreSQL's binary format when both servers are
 * the same major version and encoding and every column has a plain built-in type
 * (copyFormatFor); otherwise as the text the source prints under elt's session settings, which
 * the destination session pins too, so no value is read differently either way.
 */
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { UnreachableError } from '../errors.js';
import { sourceClientConfig } from '../source/source-db.js';
import { ident, literal, qualified } from '../sql.js';
import type { ColumnPolicy } from '../source/column-policy.js';
import type { MaskMethod } from '../source/mask.js';
import { maskingStage } from './mask-copy.js';
import { CopyRowCounter, type CopyFormat } from './copy-rows.js';

export interface CopyTableInput {
  sourceUrl: string;
  snapshotName: string;
  source: { schema: string; name: string; kind: 'r' | 'p' };
  target: { schema: string; name: string };
  columns: string[];
  /** How each column is masked (ELT_MASK_COLUMNS), null for none; absent when nothing is. */
  masks?: { methods: (MaskMethod | null)[]; policy: ColumnPolicy } | undefined;
  /** Copy only the rows this condition selects (a part of a split table, ./table-parts.ts); all when absent. */
  where?: string | null;
  /** How rows travel (copyFormatFor). */
  format: CopyFormat;
  /** Called with the rows and bytes copied so far, as they pass and at the end. */
  onProgress?: (rows: number, bytes: number) => void;
}

/** Copy the rows into `dest` (inside its open transaction); returns how many. */
export async function copyTableAtSnapshot(dest: pg.ClientBase, input: CopyTableInput): Promise<number> {
  const source = new pg.Client(sourceClientConfig(input.sourceUrl, 'elt-snapshot-copy'));
  await source.connect();
  source.on('error', () => {
    // Surfaces as the failed COPY below.
  });
  const list = input.columns.map(ident).join(', ');
  const from = `${input.source.kind === 'p' ? '' : 'ONLY '}${qualified(input.source.schema, input.source.name)}`;
  const where = input.where ? ` WHERE ${input.where}` : '';
  const counter = new CopyRowCounter(input.format, input.onProgress);
  const options = input.format === 'binary' ? ' (FORMAT binary)' : '';
  try {
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await source.query(`SET TRANSACTION SNAPSHOT ${literal(input.snapshotName)}`).catch((error: unknown) => {
      // The exporting connection is gone (an outage): the attempt ends and is retried, the table is not at fault.
      throw new UnreachableError(
        'The snapshot being copied is gone with its source connection.',
        'elt retries the snapshot.',
        { cause: error },
      );
    });
    await pipeline(
      source.query(copyTo(`COPY (SELECT ${list} FROM ${from}${where}) TO STDOUT${options}`)),
      maskingStage(input.masks),
      counter,
      dest.query(copyFrom(`COPY ${qualified(input.target.schema, input.target.name)} (${list}) FROM STDIN${options}`)),
    );
    await source.query('COMMIT');
  } finally {
    await source.end();
  }
  input.onProgress?.(counter.rows, counter.bytes);
  return counter.rows;
}

/**
 * Types below this OID are defined in PostgreSQL's own catalog files: the same type, with the
 * same binary send/receive format, on every server of one major version. Types created later
 * (enums, domains, composites, extension types) have OIDs of their own on each server, and a
 * binary array or record names its element type by OID.
 */
const FIRST_UNFIXED_OID = 10_000;

/**
 * Built-in types whose binary value does not carry every value as its text does: the reg* types
 * and their arrays (a bare OID of the source's catalog, where their text is a name the
 * destination resolves, as the stream's values are), and int2vector and oidvector (the
 * destination's binary input refuses an empty one, which text reads).
 */
const TEXT_ONLY_TYPES = new Set([
  // regproc, regprocedure, regoper, regoperator, regclass, regtype, regconfig, regdictionary,
  // regnamespace, regrole, regcollation, and their arrays
  24, 1008, 2202, 2207, 2203, 2208, 2204, 2209, 2205, 2210, 2206, 2211, 3734, 3735, 3769, 3770, 4089, 4090, 4096, 4097,
  4191, 4192,
  // int2vector, oidvector, and their arrays
  22, 1006, 30, 1013,
]);

/**
 * Binary when nothing can make the two servers read the bytes differently: the same major
 * version and server encoding (`serversMatch`; a name that grows past 63 bytes in another
 * encoding is refused in binary where text truncates it), no masked column (masks rewrite the
 * text), and every column of a built-in type with binary input and output that is not a
 * composite (`binaryIo`, from the source catalog) and not one of TEXT_ONLY_TYPES. Binary saves
 * the source printing and the destination parsing every value.
 */
export function copyFormatFor(input: {
  columns: { typeOid: number; binaryIo: boolean }[];
  masked: boolean;
  serversMatch: boolean;
}): CopyFormat {
  const binaryTypes = input.columns.every(
    (c) => c.binaryIo && c.typeOid < FIRST_UNFIXED_OID && !TEXT_ONLY_TYPES.has(c.typeOid),
  );
  return input.serversMatch && !input.masked && binaryTypes ? 'binary' : 'text';
}
