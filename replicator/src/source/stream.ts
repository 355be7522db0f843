/**
 * The pgoutput stream from the slot. pg-logical-replication carries the bytes (a
 * replication connection, START_REPLICATION, CopyBoth, pausing the socket while our
 * handler works); we decode them (./pgoutput.ts) and we alone decide what is
 * acknowledged: the library's automatic acks and its timer are off, because they would
 * confirm data that is received but not yet committed in the destination.
 */
import type pg from 'pg';
import { LogicalReplicationService } from 'pg-logical-replication';
import type { Logger } from '../log.js';
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import { ident, literal } from '../sql.js';
import { ColumnFilter } from './column-filter.js';
import type { ColumnPolicy } from './column-policy.js';
import { PgoutputDecoder, type PgoutputMessage } from './pgoutput.js';
import { sourceClientConfig } from './source-db.js';

/** Send a standby status update at least this often, so wal_sender_timeout never fires. */
export const STATUS_INTERVAL_MS = 10_000;

/** Microseconds between 1970-01-01 and 2000-01-01. */
const PG_EPOCH_MS = 946_684_800_000;

export interface StreamOptions {
  url: string;
  slot: string;
  publication: string;
  /** The end LSN of the last transaction durably applied in the destination. */
  startLsn: Lsn;
  /** ELT_EXCLUDE_COLUMNS / ELT_MASK_COLUMNS, applied to each message as it is decoded (./column-filter.ts). */
  columns?: ColumnPolicy;
}

export interface StreamHandlers {
  /** Called for each message in order; nothing later is handled until it resolves. */
  onMessage(message: PgoutputMessage): Promise<void> | void;
  /**
   * The server's WAL end from a keepalive, delivered in order with the messages: every
   * message sent before the keepalive has been handled when this is called.
   */
  onKeepalive(walEnd: Lsn): Promise<void> | void;
}

/**
 * Give up opening the replication connection after this long. A stop() that comes while it
 * opens waits for the connection to be open (or to fail) before ending it, so this bounds that wait.
 */
export const CONNECT_TIMEOUT_MS = 30_000;

/** Pause reading from the socket when this many bytes of decoded messages wait to be handled. */
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

type Queued =
  { kind: 'message'; message: PgoutputMessage; bytes: number } | { kind: 'keepalive'; walEnd: Lsn; bytes: 0 };

/**
 * The plugin hook of pg-logical-replication (shaped like its AbstractPlugin, which the
 * package does not export): our START_REPLICATION and our decoder.
 */
class PgoutputTextPlugin {
  readonly decoder = new PgoutputDecoder();
  /** The column policy, applied before anything else sees a message; null when none is set. */
  readonly #filter: ColumnFilter | null;
  client: pg.Client | null = null;

  constructor(readonly options: { publication: string; stopped: () => boolean; columns?: ColumnPolicy | undefined }) {
    this.#filter = options.columns?.isSet ? new ColumnFilter(options.columns) : null;
  }

  get name(): string {
    return 'pgoutput';
  }

  /** Called by the library once the replication connection is open. */
  start(client: pg.Client, slotName: string, lastLsn: string): Promise<unknown> {
    this.client = client;
    // stop() came while the connection was opening, when ending it would have left the library's
    // connect() pending for ever (pg settles no connect that its own end() interrupted): end it now.
    if (this.options.stopped()) return client.end();
    const options = [
      `proto_version '1'`,
      `publication_names ${literal(ident(this.options.publication))}`,
      `messages 'false'`,
    ];
    return client.query(`START_REPLICATION SLOT ${ident(slotName)} LOGICAL ${lastLsn} (${options.join(', ')})`);
  }

  parse(buffer: Buffer): PgoutputMessage {
    // The values are views into the buffer: copy it, because the connection's parser reuses
    // its buffer for later messages while this one waits in the queue.
    const message = this.decoder.decode(Buffer.from(buffer));
    return this.#filter ? this.#filter.apply(message) : message;
  }
}

/** The standby status update ('r') message: written, flushed and applied positions. */
export function standbyStatusUpdate(flushed: Lsn, now = Date.now(), replyRequested = false): Buffer {
  const message = Buffer.alloc(34);
  message.write('r', 0, 'latin1');
  message.writeBigUInt64BE(flushed, 1);
  message.writeBigUInt64BE(flushed, 9);
  message.writeBigUInt64BE(flushed, 17);
  message.writeBigInt64BE(BigInt(now - PG_EPOCH_MS) * 1000n, 25);
  message.writeUInt8(replyRequested ? 1 : 0, 33);
  return message;
}

/**
 * One streaming session from the slot. Messages are decoded as they arrive and queued;
 * one loop hands them to the handlers in order. When the queue holds MAX_QUEUED_BYTES the
 * socket is paused (backpressure) until the handlers catch up.
 */
export class SlotStream {
  readonly #service: LogicalReplicationService;
  readonly #plugin: PgoutputTextPlugin;
  #timer: NodeJS.Timeout | null = null;
  #confirmed: Lsn;
  /** A FIFO: items before #head are consumed (Array.shift would make draining quadratic). */
  #queue: (Queued | undefined)[] = [];
  #head = 0;
  #queuedBytes = 0;
  #paused = false;
  #wake: (() => void) | null = null;
  #failure: unknown = null;
  /** Ends the wait for the handler at work, when the stream fails or is stopped meanwhile. */
  #interrupt: (() => void) | null = null;
  #stopped = false;

  constructor(
    private readonly lc: Logger,
    private readonly options: StreamOptions,
  ) {
    this.#confirmed = options.startLsn;
    this.#service = new LogicalReplicationService(
      { ...sourceClientConfig(options.url, 'elt-stream'), connectionTimeoutMillis: CONNECT_TIMEOUT_MS },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } },
    );
    this.#plugin = new PgoutputTextPlugin({
      publication: options.publication,
      stopped: () => this.#stopped,
      columns: options.columns,
    });
  }

  /** The highest LSN we told the source it may forget. */
  get confirmedLsn(): Lsn {
    return this.#confirmed;
  }

  /** Whether decoded messages or keepalives wait for the handlers. */
  get hasQueued(): boolean {
    return this.#head < this.#queue.length;
  }

  /** Bytes of decoded messages waiting for the handlers. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Stream until the connection ends, a handler fails or stop() is called. Rejects with the cause. */
  async run(handlers: StreamHandlers): Promise<void> {
    if (this.#stopped) return;
    this.#service.on('data', (_lsn: string, message: PgoutputMessage) => {
      this.#enqueue({ kind: 'message', message, bytes: approximateSize(message) });
    });
    this.#service.on('heartbeat', (lsn: string, _timestamp: number, shouldRespond: boolean) => {
      if (shouldRespond) this.sendStatus();
      this.#enqueue({ kind: 'keepalive', walEnd: parseLsn(lsn), bytes: 0 });
    });
    this.#service.on('error', (error: Error) => this.#fail(error));
    this.#timer = setInterval(() => this.sendStatus(), STATUS_INTERVAL_MS);
    const subscription = this.#service
      .subscribe(this.#plugin as never, this.options.slot, formatLsn(this.options.startLsn))
      .then(
        () => this.#fail(new Error('the source ended the replication stream')),
        (error: unknown) => this.#fail(error),
      );
    let failure: unknown;
    try {
      await this.#handleQueue(handlers);
      failure = this.#stopped ? null : this.#failure;
    } finally {
      await this.stop();
      await subscription;
      // A connection that stop() left opening was ended by the plugin; let the library forget it.
      await this.#service.stop().catch(() => undefined); // already ended: nothing is left to report
      this.#service.removeAllListeners();
    }
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the stream failed with, as it came
    if (failure !== null) throw failure;
  }

  async #handleQueue(handlers: StreamHandlers): Promise<void> {
    for (;;) {
      if (this.#failure !== null || this.#stopped) return;
      const item = this.#take();
      if (!item) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = null;
        continue;
      }
      this.#queuedBytes -= item.bytes;
      if (this.#paused && this.#queuedBytes < MAX_QUEUED_BYTES / 2) this.#setPaused(false);
      // A stream that fails or is stopped while a handler waits (a destination commit on a lock)
      // ends now, not when the handler does: the owner's end waits for its own work. The
      // interruption is a promise per item: a race against one promise that lives as long as the
      // stream would keep a reaction per message until the stream ends (a leak of about 300 bytes
      // per change, which ran a 500k-row transaction out of heap).
      const interrupted = new Promise<void>((resolve) => (this.#interrupt = resolve));
      try {
        const handled = Promise.resolve(
          item.kind === 'message' ? handlers.onMessage(item.message) : handlers.onKeepalive(item.walEnd),
        );
        // Observed by the race below, or by the handler's owner once the stream has ended.
        handled.catch(() => undefined);
        await Promise.race([handled, interrupted]);
      } catch (error) {
        this.#fail(error);
      } finally {
        this.#interrupt = null;
      }
    }
  }

  #take(): Queued | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const item = this.#queue[this.#head]!;
    // Drop the reference at once: a consumed message may hold megabytes of values.
    this.#queue[this.#head] = undefined;
    this.#head++;
    if (this.#head >= 4096 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  #enqueue(item: Queued): void {
    this.#queue.push(item);
    this.#queuedBytes += item.bytes;
    if (!this.#paused && this.#queuedBytes >= MAX_QUEUED_BYTES) this.#setPaused(true);
    this.#wake?.();
  }

  #setPaused(paused: boolean): void {
    const socket = (
      this.#plugin.client as unknown as { connection?: { stream?: { pause(): void; resume(): void } } } | null
    )?.connection?.stream;
    if (!socket) return;
    if (paused) socket.pause();
    else socket.resume();
    this.#paused = paused;
    this.lc.debug(
      { queuedBytes: this.#queuedBytes },
      paused ? 'apply is behind: pausing the stream' : 'resuming the stream',
    );
  }

  #fail(error: unknown): void {
    // A rejection with undefined or null must still read as a failure, to the loop and to run().
    this.#failure ??= error ?? new Error('the replication stream failed without saying why');
    this.#wake?.();
    this.#interrupt?.();
  }

  /**
   * Tell the source that everything up to `lsn` is durably applied (it may recycle that
   * WAL, and a restart resumes after it). Never call this with a received-only LSN.
   */
  confirm(lsn: Lsn): void {
    if (lsn <= this.#confirmed) return;
    this.#confirmed = lsn;
    this.sendStatus();
  }

  /** Ask the source for a keepalive: it answers with how far it has sent (onKeepalive). */
  requestKeepalive(): void {
    this.sendStatus(true);
  }

  sendStatus(replyRequested = false): void {
    const connection = (
      this.#plugin.client as unknown as { connection?: { sendCopyFromChunk(b: Buffer): void } } | null
    )?.connection;
    if (!connection || this.#stopped) return;
    try {
      connection.sendCopyFromChunk(standbyStatusUpdate(this.#confirmed, Date.now(), replyRequested));
    } catch (error) {
      this.lc.warn({ err: error }, 'could not send standby status');
    }
  }

  /**
   * End the stream. While the replication connection is still opening it is left to open and
   * the plugin ends it (pg-logical-replication would otherwise start streaming after a stop it
   * has forgotten, and pg never settles a connect interrupted by end()); once it is open it is
   * ended here, which also ends a START_REPLICATION still waiting for its answer.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#wake?.();
    this.#interrupt?.();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#plugin.client) await this.#service.stop().catch(() => undefined); // stopping: the stream's own outcome is what to report
  }
}

/** Roughly how much memory a decoded message holds (its values dominate). */
function approximateSize(message: PgoutputMessage): number {
  let bytes = 64;
  const tuples = 'new' in message ? [message.new, ...('old' in message && message.old ? [message.old] : [])] : [];
  for (const tuple of tuples) for (const value of tuple) bytes += Buffer.isBuffer(value) ? 16 + value.length : 8;
  return bytes;
}
