/**
 * How the benchmark knows what a destination has applied, in seconds: a heartbeat.
 *
 * One connection to the source keeps updating the single row of `bench_heartbeat` with an
 * increasing `seq` (every HEARTBEAT_INTERVAL_MS while a load runs) and remembers the time
 * each update's COMMIT returned. A destination that shows seq = v has applied every source
 * transaction committed before v (both consumers apply in commit order) and none after
 * v + 1. So at time t its lag is
 *
 *     t - commitTime(v + 1)   if heartbeat v + 1 had committed by t, else 0
 *
 * i.e. how long the oldest heartbeat it has not applied has been waiting. This is exact for
 * the heartbeat transactions and a lower bound, within one heartbeat interval, for the
 * load's transactions between them. The same row marks "everything up to here" in the
 * backlog and big-transaction scenarios: the destination has caught up when it shows the
 * marker's seq.
 */
import pg from 'pg';
import { qualified } from '../replicator/src/sql.js';

export const HEARTBEAT_INTERVAL_MS = 100;
const TABLE = 'bench_heartbeat';

export class Heartbeat {
  readonly #client: pg.Client;
  readonly #commits = new Map<number, number>();
  #seq: number;
  #timer: NodeJS.Timeout | null = null;
  #inflight: Promise<unknown> = Promise.resolve();

  private constructor(client: pg.Client, seq: number) {
    this.#client = client;
    this.#seq = seq;
  }

  static async open(sourceUrl: string): Promise<Heartbeat> {
    const client = new pg.Client({ connectionString: sourceUrl, application_name: 'elt-bench-heartbeat' });
    client.on('error', () => undefined); // a cluster stopped under us: the next query says so
    await client.connect();
    const { rows } = await client.query<{ seq: string }>(`SELECT seq FROM ${TABLE} WHERE id = 1`);
    return new Heartbeat(client, Number(rows[0]!.seq));
  }

  /** Keep writing a heartbeat every HEARTBEAT_INTERVAL_MS until stop(). */
  start(): void {
    this.#timer ??= setInterval(() => {
      this.#inflight = this.mark().catch(() => undefined);
    }, HEARTBEAT_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#inflight;
  }

  /** Commit the next heartbeat now; resolves with its seq once committed. */
  async mark(): Promise<number> {
    const seq = this.reserve();
    await this.#client.query(`UPDATE ${TABLE} SET seq = $1, at = clock_timestamp() WHERE id = 1`, [seq]);
    this.committed(seq, Date.now());
    return seq;
  }

  /** A seq for a heartbeat written by someone else (inside a bigger transaction). */
  reserve(): number {
    return ++this.#seq;
  }

  committed(seq: number, at: number): void {
    this.#commits.set(seq, at);
  }

  commitTime(seq: number): number | undefined {
    return this.#commits.get(seq);
  }

  /** Seconds a destination showing `visible` at time `t` (ms) lags behind (see the file comment). */
  lagSeconds(visible: number, t: number): number {
    const next = this.#commits.get(visible + 1);
    return next !== undefined && next <= t ? (t - next) / 1000 : 0;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.#client.end().catch(() => undefined);
  }
}

/** The statement that writes heartbeat `seq` inside a caller's transaction. */
export function heartbeatSql(seq: number): string {
  return `UPDATE ${TABLE} SET seq = ${Number(seq)}, at = clock_timestamp() WHERE id = 1`;
}

/** Reads the heartbeat seq a destination shows, on one kept-open connection. */
export class HeartbeatReader {
  private constructor(
    readonly label: string,
    readonly client: pg.Client,
    readonly sql: string,
  ) {}

  static async open(label: string, url: string, schema: string): Promise<HeartbeatReader> {
    const client = new pg.Client({ connectionString: url, application_name: 'elt-bench-reader' });
    client.on('error', () => undefined);
    await client.connect();
    return new HeartbeatReader(label, client, `SELECT seq FROM ${qualified(schema, TABLE)} WHERE id = 1`);
  }

  async read(): Promise<number> {
    const { rows } = await this.client.query<{ seq: string }>(this.sql);
    return rows[0] ? Number(rows[0].seq) : -1;
  }

  /** Poll until the destination shows at least `seq`; resolves with Date.now() when the first poll that saw it started. */
  async waitFor(seq: number, timeoutMs: number, isAlive: () => boolean = () => true, pollMs = 25): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = Date.now();
      const seen = await this.read().catch(() => -1);
      if (seen >= seq) return now;
      if (!isAlive()) throw new Error(`${this.label} stopped before applying heartbeat ${seq} (it shows ${seen})`);
      if (now > deadline)
        throw new Error(`${this.label} did not apply heartbeat ${seq} within ${timeoutMs / 1000} s (it shows ${seen})`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
