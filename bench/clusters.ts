/**
 * The three PostgreSQL clusters of a benchmark run, all from the harness, all with the
 * same settings (fsync on, as a real server):
 *
 *   source   the OLTP databases (pgbench, demo shop); both consumers read its slots
 *   elt      destination of our replicator (and of the pg_dump references)
 *   native   destination of the native subscription (CREATE SUBSCRIPTION)
 */
import { startCluster, type PgCluster } from '../harness/pg-cluster.js';

/** The same for every cluster: a small production-like server on a 2-core machine. */
export const CLUSTER_SETTINGS: Record<string, string | number> = {
  fsync: 'on',
  synchronous_commit: 'on',
  shared_buffers: "'256MB'",
  max_wal_size: "'4GB'",
  checkpoint_timeout: "'15min'",
  max_worker_processes: 16,
  max_logical_replication_workers: 8,
  max_sync_workers_per_subscription: 2,
};

export interface Clusters {
  source: PgCluster;
  elt: PgCluster;
  native: PgCluster;
  all: PgCluster[];
}

/** Start the three clusters; if one fails, the others are destroyed before rethrowing. */
export async function startClusters(): Promise<Clusters> {
  const started = await Promise.allSettled(
    ['source', 'elt', 'native'].map((name) => startCluster({ name: `bench-${name}`, settings: CLUSTER_SETTINGS })),
  );
  const clusters = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.allSettled(clusters.map((c) => c.destroy()));
    throw failed.reason;
  }
  const [source, elt, native] = clusters as [PgCluster, PgCluster, PgCluster];
  return { source, elt, native, all: clusters };
}

/** A checkpoint everywhere, so that no timed step pays for the previous one's dirty pages. */
export async function checkpointAll(clusters: Clusters): Promise<void> {
  await Promise.all(clusters.all.map((c) => c.psql('CHECKPOINT')));
}

export async function destroyClusters(clusters: Clusters): Promise<void> {
  await Promise.allSettled(clusters.all.map((c) => c.destroy()));
}
