/** What the SlotStream tests stream from: a fresh cluster, table `t` in publication `p`, and a pgoutput slot. */
import { startCluster, type PgCluster } from '../../harness/pg-cluster.js';
import { query } from '../../harness/replication.js';
import { parseLsn, type Lsn } from '../src/lsn.js';

export interface SlotCluster {
  cluster: PgCluster;
  url: string;
  /** Where the slot starts (its creation point). */
  startLsn: Lsn;
}

export async function startSlotCluster(name: string, slot: string): Promise<SlotCluster> {
  const cluster = await startCluster({ name });
  const url = cluster.url();
  await query(url, 'CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION p FOR TABLE t');
  const [created] = await query<{ lsn: string }>(
    url,
    `SELECT lsn FROM pg_create_logical_replication_slot('${slot}', 'pgoutput')`,
  );
  return { cluster, url, startLsn: parseLsn(created!.lsn) };
}
