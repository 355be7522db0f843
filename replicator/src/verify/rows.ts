/**
 * Row comparison (pure): the rows of a chunk on both sides, by identity, become candidate
 * differences; a candidate is confirmed only when a later point sees the same difference with
 * neither side's row changed in between.
 *
 * Why a second point: the replica is read once it has applied at least the source snapshot's
 * LSN, maybe more. A row the source changed since is left out (its replica _lsn says so), but
 * a row deleted on the source since leaves no trace in a replica with hard deletes: it looks
 * missing. At a later point that delete is in the source's snapshot too, and the row's source
 * version is gone: not confirmed.
 */

export interface SourceRow {
  /** JSON of the identity (key values as text, or the row hash). */
  id: string;
  hash: string;
  /** tableoid:ctid:xmin: another value means the row was written again. */
  version: string;
}

export interface ReplicaRow {
  id: string;
  hash: string;
  /** The row's _lsn as text ('' when null). */
  lsn: string;
}

export type DiffKind = 'missing' | 'extra' | 'differs';

export interface Candidate {
  id: string;
  kind: DiffKind;
  /** Rows that differ: 1, or for a table without a key, how many copies of the row are missing or extra. */
  rows: number;
  /** The source versions and replica LSNs seen, sorted: the confirmation wants the same. */
  sourceVersions: string[];
  replicaLsns: string[];
}

export function byId<T extends { id: string }>(rows: T[]): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const row of rows) {
    const list = map.get(row.id);
    if (list) list.push(row);
    else map.set(row.id, [row]);
  }
  return map;
}

/** How one identity differs, or null when it does not. */
export function classify(source: SourceRow[], replica: ReplicaRow[]): { kind: DiffKind; rows: number } | null {
  if (source.length > replica.length) return { kind: 'missing', rows: source.length - replica.length };
  if (source.length < replica.length) return { kind: 'extra', rows: replica.length - source.length };
  const a = source.map((r) => r.hash).sort();
  const b = replica.map((r) => r.hash).sort();
  return a.every((h, i) => h === b[i]) ? null : { kind: 'differs', rows: source.length };
}

/** The candidate differences between a chunk's rows on the two sides (present, unchanged replica rows only). */
export function diffRows(source: SourceRow[], replica: ReplicaRow[]): Candidate[] {
  const s = byId(source);
  const r = byId(replica);
  const candidates: Candidate[] = [];
  for (const id of new Set([...s.keys(), ...r.keys()])) {
    const sourceRows = s.get(id) ?? [];
    const replicaRows = r.get(id) ?? [];
    const diff = classify(sourceRows, replicaRows);
    if (!diff) continue;
    candidates.push({
      id,
      ...diff,
      sourceVersions: sourceRows.map((x) => x.version).sort(),
      replicaLsns: replicaRows.map((x) => x.lsn).sort(),
    });
  }
  return candidates.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface SecondLook {
  source: SourceRow[];
  /** Present replica rows (not soft-deleted). */
  replica: ReplicaRow[];
  /** Some replica row of this identity (present or soft-deleted) was written at or after the first point. */
  replicaChanged: boolean;
}

/** A candidate is a difference when the second point sees it still, and neither side's row changed in between. */
export function confirms(first: Candidate, second: SecondLook): boolean {
  if (second.replicaChanged) return false;
  if (classify(second.source, second.replica) === null) return false;
  const sameSource = sameList(first.sourceVersions, second.source.map((x) => x.version).sort());
  const sameReplica = sameList(first.replicaLsns, second.replica.map((x) => x.lsn).sort());
  return sameSource && sameReplica;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
