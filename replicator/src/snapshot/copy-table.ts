/**
 * Copy one table's rows at an exported snapshot, source COPY TO piped into destination
 * COPY FROM (pg-copy-streams), in the destination transaction the caller holds open.
 *
 * Only the columns the replica stores are copied (generated ones are computed by the
 * replica); a partitioned table is read through its root, so its partitions' rows land in
 * the one replica table. Values travel as the text the source prints under elt's session
 * settings; the destination session pins the same ones, so no value is read differently.
 */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { UnreachableError } from '../errors.js';
import { sourceClientConfig } from '../source/source-db.js';
import { ident, literal, qualified } from '../sql.js';
import type { ColumnPolicy } from '../source/column-policy.js';
import type { MaskMethod } from '../source/mask.js';
import { maskingStage } from './mask-copy.js';

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
  /** Called with the rows and bytes (COPY text) copied so far, as they pass and at the end. */
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
  const counter = new RowCounter(input.onProgress);
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
      source.query(copyTo(`COPY (SELECT ${list} FROM ${from}${where}) TO STDOUT`)),
      maskingStage(input.masks),
      counter,
      dest.query(copyFrom(`COPY ${qualified(input.target.schema, input.target.name)} (${list}) FROM STDIN`)),
    );
    await source.query('COMMIT');
  } finally {
    await source.end();
  }
  input.onProgress?.(counter.rows, counter.bytes);
  return counter.rows;
}

/** Counts COPY text rows (one per newline: values escape theirs) and bytes as they pass. */
class RowCounter extends Transform {
  rows = 0;
  bytes = 0;

  constructor(private readonly onProgress?: (rows: number, bytes: number) => void) {
    super();
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null, data?: Buffer) => void,
  ): void {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) this.rows++;
    this.bytes += chunk.length;
    this.onProgress?.(this.rows, this.bytes);
    callback(null, chunk);
  }
}
