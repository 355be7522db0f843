/** GET /v1/verify: the last verification of each table (elt.verify_results). */
import { z } from 'zod';
import { timestamp } from './common.js';

export const verifyDifference = z.object({
  kind: z
    .enum(['missing', 'extra', 'differs'])
    .describe('missing: the replica lacks the row; extra: only the replica has it; differs: its values differ'),
  key: z
    .record(z.string(), z.string())
    .describe("The row's key as the source prints it; for a table without a key, {row_md5}"),
  rows: z.number().int().describe('1, or for a table without a key, how many copies of the row are missing or extra'),
});

export const verifyResult = z
  .object({
    table: z.string(),
    outcome: z.enum(['equal', 'differs', 'skipped', 'failed']),
    rows_checked: z.number().describe('Source rows compared with the replica'),
    rows_differing: z.number().describe('Rows that differ, each confirmed at two points'),
    differences: z.array(verifyDifference).describe('The first 1,000 differing rows'),
    reason: z.string().nullable().describe('Why the table was skipped or could not be verified'),
    repair_job_id: z.number().nullable().describe('The resync job queued to repair the table (ELT_VERIFY_REPAIR)'),
    started_at: timestamp,
    finished_at: timestamp,
  })
  .meta({ id: 'VerifyResult' });

export const verifyResponse = z.object({ results: z.array(verifyResult) }).meta({ id: 'VerifyResults' });

export type VerifyResult = z.output<typeof verifyResult>;
