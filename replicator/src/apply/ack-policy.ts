/**
 * The ack decision, the one owner of "which source position may be confirmed". Pure: source
 * events and destination commits in, the LSN to confirm out.
 *
 * A position may be confirmed to the source only when everything before it is durably in the
 * destination: the end of a source transaction once the destination transaction holding it
 * has committed; the end of a transaction that changed nothing of ours once nothing of ours is
 * uncommitted; a keepalive's WAL position once no source transaction is half received and
 * nothing is uncommitted. Transactions whose commit is before the applied LSN were applied
 * before a restart and are skipped whole.
 */
import type { Lsn } from '../lsn.js';

/** What to do at a source commit. */
export type CommitDecision =
  /** The transaction was applied before a restart: nothing to do. */
  | { kind: 'skipped' }
  /** Nothing of ours is uncommitted: confirm this LSN now. */
  | { kind: 'confirm'; lsn: Lsn }
  /** Its changes are in the open destination transaction: confirm only after that commits. */
  | { kind: 'pending' };

export class AckPolicy {
  /** End LSN of the last source transaction committed in the destination (or skipped as already there). */
  #applied: Lsn;
  /**
   * Every source transaction that committed before this LSN has been received and handed to the
   * applier (committed here or in the open transaction): boundary tasks wait for it.
   */
  #received: Lsn;
  /**
   * Everything before it is applied, though no commit of ours says so: moved by transactions that
   * changed nothing of ours and by keepalives between transactions (recorded apart from commits).
   */
  #caughtUp: Lsn;
  #inTransaction = false;
  #skipping = false;
  /** The commit LSN of the source transaction being received. */
  #commitLsn: Lsn;

  constructor(start: Lsn) {
    this.#applied = start;
    this.#received = start;
    this.#caughtUp = start;
    this.#commitLsn = start;
  }

  get applied(): Lsn {
    return this.#applied;
  }
  get received(): Lsn {
    return this.#received;
  }
  get caughtUp(): Lsn {
    return this.#caughtUp;
  }
  /** A source transaction is half received (its Begin came, its Commit not yet). */
  get inTransaction(): boolean {
    return this.#inTransaction;
  }
  /** The transaction being received was applied before a restart: its changes are dropped. */
  get skipping(): boolean {
    return this.#skipping;
  }
  get commitLsn(): Lsn {
    return this.#commitLsn;
  }

  /** A source Begin; true when the transaction is skipped (already applied). */
  begin(finalLsn: Lsn): boolean {
    this.#inTransaction = true;
    this.#commitLsn = finalLsn;
    this.#skipping = finalLsn < this.#applied;
    return this.#skipping;
  }

  /** A source Commit. `destinationOpen`: the destination transaction holds uncommitted changes of ours. */
  commit(endLsn: Lsn, destinationOpen: boolean): CommitDecision {
    this.#inTransaction = false;
    if (endLsn > this.#received) this.#received = endLsn;
    if (this.#skipping) {
      this.#skipping = false;
      return { kind: 'skipped' };
    }
    if (destinationOpen) return { kind: 'pending' };
    this.#applied = endLsn;
    if (endLsn > this.#caughtUp) this.#caughtUp = endLsn;
    return { kind: 'confirm', lsn: endLsn };
  }

  /** The destination committed, holding source transactions up to `lsn`: confirm it. */
  committed(lsn: Lsn): Lsn {
    this.#applied = lsn;
    return lsn;
  }

  /** A keepalive with the server's WAL end; returns the LSN to confirm, or null. */
  keepalive(walEnd: Lsn, destinationOpen: boolean): Lsn | null {
    if (this.#inTransaction) return null;
    if (walEnd > this.#received) this.#received = walEnd;
    if (destinationOpen || walEnd <= this.#applied) return null;
    // Every transaction before walEnd has been received and applied.
    if (walEnd > this.#caughtUp) this.#caughtUp = walEnd;
    return walEnd;
  }
}
