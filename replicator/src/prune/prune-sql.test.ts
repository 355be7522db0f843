import { describe, expect, it } from 'vitest';
import { pruneChunkSql } from './prune-sql.js';

describe('pruneChunkSql', () => {
  it('removes a bounded chunk of old deleted rows by ctid, and checks the condition again', () => {
    expect(pruneChunkSql('staging', 'we"ird', 500)).toBe(
      'DELETE FROM ONLY "staging"."we""ird" WHERE ctid = ANY (ARRAY(SELECT ctid FROM ONLY "staging"."we""ird" ' +
        'WHERE _deleted AND _synced_at < $1::timestamptz LIMIT 500)) AND _deleted AND _synced_at < $1::timestamptz',
    );
  });
});
