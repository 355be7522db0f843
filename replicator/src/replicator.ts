/**
 * The supervisor: one replication attempt at a time, retried with backoff when a server
 * goes away. Each attempt checks the servers, takes the one-writer lock, decides between
 * a full snapshot and resuming the stream, and streams until something breaks. All
 * progress lives in the destination (`elt.*`), so every attempt starts from what is there.
 */
import { followTargetSchemas } from './schema/follow-target-schemas.js';
import { targetSchemas } from './schema/target-schemas.js';
import pRetry from 'p-retry';
import type pg from 'pg';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { errorKind, type Metrics } from './metrics.js';
import { RetryPolicy } from './retry-policy.js';
import { AlreadyRunningError, ConfigError, type EltError } from './errors.js';
import { formatLsn, type Lsn } from './lsn.js';
import { streamChanges } from './apply/apply-session.js';
import { watchPartitions } from './resync/partition-watch.js';
import { GoneTables } from './schema/gone-tables.js';
import { ApplyHooks } from './apply/apply-hooks.js';
import type { ProgressReporter } from './progress/reporter.js';
import { runResyncJobs } from './resync/resync-runner.js';
import { runInitialSnapshot } from './snapshot/initial-snapshot.js';
import { checkSelectPrivileges, checkSourceServer } from './source/preflight.js';
import { ensurePublication, listPublishedTables, type PublishedTable } from './source/publication.js';
import { dropSlot, inspectSlot, slotInUse, type SlotInfo } from './source/slot.js';
import { tablesNotReplicated, tablesNotSelected, type NotReplicatedTable } from './source/not-replicated.js';
import { TableSelection } from './source/selection.js';
import { narrowPublication } from './source/selection-publication.js';
import { watchSelection, type SelectionWatch } from './resync/selection-watch.js';
import { dropUnselectedReplicas } from './schema/drop-unselected.js';
import type { SchemaContext } from './schema/schema-changes.js';
import { columnPolicyFrom } from './source/column-policy.js';
import { watchColumnPolicies } from './resync/policy-watch.js';
import { connectAll, connectDestination, connectSource } from './source/source-db.js';
import {
  beginSnapshotState,
  readReplicationState,
  recordError,
  upsertTable,
  type ReplicationState,
} from './state/control.js';
import { resumeSnapshot } from './snapshot/resume-snapshot.js';
import { migrateControlSchema } from './state/migrate.js';
import { runBackgroundVerifier } from './verify/background.js';

/** After a crash the source may keep the old walsender for a moment; wait this long for it to go. */
const SLOT_RELEASE_WAIT_MS = 10_000;
const RETRY_MAX_DELAY_MS = 30_000;

/** Run until the signal aborts. Rejects only with an error retrying cannot fix. */
export async function runReplicator(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  signal: AbortSignal,
  progress: ProgressReporter,
): Promise<void> {
  let connectedOnce = false;
  let retry = true;
  const policy = new RetryPolicy();
  metrics.setState('starting');
  const attempts = pRetry(
    async () => {
      if (signal.aborted) return;
      await replicateOnce(lc, config, metrics, progress, signal, () => {
        connectedOnce = true;
      });
    },
    {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 500,
      maxTimeout: RETRY_MAX_DELAY_MS,
      factor: 2,
      signal,
      shouldRetry: () => retry,
      onFailedAttempt: async ({ error, attemptNumber }) => {
        metrics.errors.inc({ kind: errorKind(error) });
        retry = policy.shouldRetry(error, connectedOnce);
        if (signal.aborted) return;
        if (connectedOnce) await recordErrorSafely(lc, config, error);
        if (!retry) return;
        metrics.reconnects.inc();
        metrics.setState('retrying');
        lc.warn(
          { err: error, attempt: attemptNumber, hint: (error as Partial<EltError>).hint },
          'replication attempt failed; retrying',
        );
      },
    },
  );
  try {
    await attempts;
  } catch (error) {
    if (signal.aborted) return;
    throw error;
  }
}

async function replicateOnce(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  progress: ProgressReporter,
  signal: AbortSignal,
  onConnected: () => void,
): Promise<void> {
  const { source, apply, control, resyncSource } = await connectAll({
    source: connectSource(config.sourceUrl, 'elt-catalog'),
    // A stage chunk holds at most a few thousand keys: probing the table's key index per row
    // beats hashing the whole table, but the planner cannot know how big the table is for us.
    apply: connectDestination(config.destinationUrl, 'elt-apply', '-c enable_hashjoin=off -c enable_mergejoin=off'),
    control: connectDestination(config.destinationUrl, 'elt-control'),
    resyncSource: connectSource(config.sourceUrl, 'elt-resync-catalog'),
  });
  const closers = [source, apply, control, resyncSource].map((client) => () => client.end());
  try {
    onConnected();

    await checkSourceServer(source, config.sourceSchemas);
    // The lock first: a second replicator for the slot refuses before it touches the schema.
    await takeWriterLock(control, config.slot);
    const schema = await migrateControlSchema(control);
    if (schema.from !== schema.to)
      lc.info(
        { from: schema.from, to: schema.to },
        `control schema elt ${schema.from === 0 ? 'created or adopted' : 'upgraded'} at version ${schema.to}`,
      );
    const selection = new TableSelection(config.includeTables, config.excludeTables);
    const publication = await ensurePublication(lc, source, config.publication, config.sourceSchemas, {
      setReplicaIdentityFull: config.replicaIdentityFull,
      selection,
    });
    // The publication elt manages lists the selected tables; a user's is only filtered.
    const followsSelection = publication.managed && selection.isSet;
    if (followsSelection) await narrowPublication(lc, source, config.publication, selection);
    const notReplicated = await notReplicatedTables(source, config, selection, followsSelection);
    const tables = (await publishedTables(lc, source, config)).filter(
      (t) => !notReplicated.some((n) => n.schema === t.schema && n.name === t.name),
    );
    await checkSelectPrivileges(source, tables);

    const state = await readReplicationState(control, config.slot);
    const slot = await waitForSlotRelease(lc, source, config.slot);
    const startLsn = await chooseStart(lc, config, metrics, progress, { source, control }, tables, state, slot);
    const targets = targetSchemas(config);
    await followTargetSchemas(lc, control, config.slot, config.sourceSchemas, targets);
    if (config.dropUnselected)
      await dropUnselectedReplicas(
        lc,
        control,
        config.slot,
        notReplicated.filter((t) => t.selected === false),
      );
    for (const table of notReplicated) {
      await upsertTable(control, config.slot, {
        sourceSchema: table.schema,
        sourceTable: table.name,
        targetSchema: targets.of(table.schema),
        targetTable: table.name,
        state: 'excluded',
        lastError: table.reason,
        selected: table.selected ?? true,
      });
    }
    // Resync jobs run beside the stream, for as long as this attempt streams.
    const hooks = new ApplyHooks();
    const watch: SelectionWatch = {
      selection,
      publication: config.publication,
      managed: publication.managed,
      stopped: hooks.stopped,
    };
    // Streaming now (an interrupted snapshot was resumed above): a table the selection takes anew is queued before the stream starts.
    await watchSelection({ ...schemaContext(lc, config, source, control), control }, watch);
    // A table whose column policy changed since its copy follows it, and is copied again online.
    await watchColumnPolicies({ ...schemaContext(lc, config, source, control), control });
    // A source table dropped or moved away stops saying it streams (nothing on the stream says so).
    const gone = new GoneTables(hooks.stopped);
    const attempt = new AbortController();
    const stopAttempt = () => attempt.abort();
    signal.addEventListener('abort', stopAttempt);
    // Asked to stop before this point (during the snapshot): the listener above will never fire.
    if (signal.aborted) attempt.abort();
    const resyncs = runResyncJobs(lc, config, metrics, progress, hooks, resyncSource, attempt.signal).catch(
      (error: unknown) => {
        lc.error({ err: error }, 'the resync queue stopped; restarting the attempt');
        attempt.abort();
      },
    );
    const verifier = runBackgroundVerifier(lc, config, metrics, attempt.signal);
    try {
      await streamChanges(
        {
          lc,
          options: config,
          metrics,
          db: { apply, control, source },
          startLsn,
          hooks,
          onHeartbeat: async (ctx) => {
            await watchPartitions(ctx);
            await gone.watch(ctx);
            await watchSelection(ctx, watch);
          },
        },
        attempt.signal,
      );
      if (attempt.signal.aborted && !signal.aborted) throw new Error('the resync queue failed');
    } finally {
      attempt.abort();
      hooks.cancelPending(new Error('the stream stopped before the resync could be swapped in'));
      signal.removeEventListener('abort', stopAttempt);
      await resyncs;
      await verifier;
    }
  } finally {
    // Closing connections on the way out: the run's own outcome is what to report.
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

/** The tables of the replicated schemas that are not replicated, and why: left out by the selection, or unable to be. */
async function notReplicatedTables(
  source: pg.Client,
  config: Config,
  selection: TableSelection,
  followsSelection: boolean,
): Promise<NotReplicatedTable[]> {
  const unselected = await tablesNotSelected(source, config.sourceSchemas, selection);
  const others = await tablesNotReplicated(source, config.publication, config.sourceSchemas, followsSelection);
  return [...unselected, ...others.filter((t) => selection.selects(t.schema, t.name))];
}

/** The schema-following context outside the apply transaction (the selection watch at start), on the control connection. */
function schemaContext(lc: Logger, config: Config, source: pg.Client, control: pg.Client): SchemaContext {
  return {
    lc,
    dest: control,
    source,
    sourceSchemas: config.sourceSchemas,
    targets: targetSchemas(config),
    slot: config.slot,
    columns: columnPolicyFrom(config),
  };
}

/**
 * Where streaming starts: after the last applied transaction; at the consistent point of an
 * interrupted snapshot, whose missing tables are copied online; or, when the slot is gone
 * or lost its WAL, at a new full snapshot.
 */
async function chooseStart(
  lc: Logger,
  config: Config,
  metrics: Metrics,
  progress: ProgressReporter,
  db: { source: pg.Client; control: pg.Client },
  tables: PublishedTable[],
  state: ReplicationState | null,
  slot: SlotInfo | null,
): Promise<Lsn> {
  if (state?.phase === 'streaming' && state.appliedLsn !== null && slot && slot.walStatus !== 'lost') {
    lc.info({ slot: config.slot, lsn: formatLsn(state.appliedLsn) }, 'resuming from the last applied transaction');
    return state.appliedLsn;
  }
  if (state?.phase === 'snapshotting') {
    const resumed = await resumeSnapshot(lc, db.control, config.slot, slot, state.snapshotLsn);
    if (resumed !== null) return resumed;
    lc.warn(
      { slot: config.slot },
      'a previous snapshot did not finish and cannot be resumed (its slot is gone or moved); starting it over',
    );
  } else if (state?.phase === 'streaming') {
    lc.error(
      { slot: config.slot, walStatus: slot?.walStatus ?? 'missing' },
      'the replication slot is gone or lost its WAL: changes since the last apply cannot be streamed, so everything is copied again',
    );
  }
  await beginSnapshotState(db.control, config.slot, null);
  if (slot) await dropSlot(db.source, config.slot);
  metrics.setState('snapshotting');
  return runInitialSnapshot(lc, config, metrics, progress, db.source, db.control, tables);
}

/**
 * One writer per slot: a session-level advisory lock in the destination, held by the
 * control connection for as long as the attempt runs.
 */
async function takeWriterLock(control: pg.Client, slot: string): Promise<void> {
  const { rows } = await control.query<{ locked: boolean }>(
    "SELECT pg_try_advisory_lock(hashtext('elt.replicator'), hashtext($1)) AS locked",
    [slot],
  );
  if (rows[0]?.locked) return;
  const holder = await control.query<{ pid: number; application_name: string; client_addr: string | null }>(
    `SELECT a.pid, a.application_name, a.client_addr::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.classid = hashtext('elt.replicator')::oid AND l.objid = hashtext($1)::oid AND l.granted LIMIT 1`,
    [slot],
  );
  const who = holder.rows[0];
  throw new AlreadyRunningError(
    `Another replicator is already running for slot ${slot}${who ? ` (destination backend pid ${who.pid}, from ${who.client_addr ?? 'local socket'})` : ''}.`,
    'Only one replicator may write for a slot: stop the other one, or give this one its own ELT_SLOT.',
  );
}

async function waitForSlotRelease(lc: Logger, source: pg.Client, slot: string): Promise<SlotInfo | null> {
  const deadline = Date.now() + SLOT_RELEASE_WAIT_MS;
  for (;;) {
    const info = await inspectSlot(source, slot);
    if (!info?.active) return info;
    if (Date.now() > deadline) throw slotInUse(slot, info.activePid);
    lc.info(
      { slot, pid: info.activePid },
      'the slot is still held by an earlier connection; waiting for the source to release it',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function publishedTables(lc: Logger, source: pg.Client, config: Config): Promise<PublishedTable[]> {
  const all = await listPublishedTables(source, config.publication);
  const tables = all.filter((t) => config.sourceSchemas.includes(t.schema));
  const outside = all.filter((t) => !config.sourceSchemas.includes(t.schema));
  if (outside.length > 0) {
    lc.warn(
      { tables: outside.map((t) => `${t.schema}.${t.name}`) },
      'the publication includes tables outside ELT_SOURCE_SCHEMAS; they are not replicated',
    );
  }
  const targets = targetSchemas(config);
  const byTarget = new Map<string, PublishedTable>();
  for (const t of tables) {
    const target = `${targets.of(t.schema)}.${t.name}`;
    const clash = byTarget.get(target);
    if (clash) {
      throw new ConfigError(
        `The source tables ${clash.schema}.${t.name} and ${t.schema}.${t.name} would both land in ${target}.`,
        `Give one of the schemas a target schema of its own (ELT_TARGET_SCHEMA_MAP=${t.schema}:${targets.defaultSchema}_${t.schema}), or leave one table out (ELT_EXCLUDE_TABLES).`,
      );
    }
    byTarget.set(target, t);
  }
  for (const t of tables) {
    if (t.replicaIdentity === 'n' || (t.replicaIdentity === 'd' && !t.identityIndex)) {
      lc.warn(
        { table: `${t.schema}.${t.name}` },
        'table has no primary key or replica identity: the source rejects UPDATE and DELETE on it while it is published; set REPLICA IDENTITY FULL on it',
      );
    }
  }
  if (tables.length === 0)
    lc.warn({ publication: config.publication }, 'the publication has no tables in ELT_SOURCE_SCHEMAS');
  return tables;
}

async function recordErrorSafely(lc: Logger, config: Config, error: Error): Promise<void> {
  try {
    const db = await connectDestination(config.destinationUrl, 'elt-error');
    try {
      await recordError(db, config.slot, error.message);
    } finally {
      await db.end();
    }
  } catch {
    lc.debug('could not record the error in the destination (it may be the failing server)');
  }
}
