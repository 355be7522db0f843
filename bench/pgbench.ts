/** pgbench's TPC-B-like load on the source (built-in script: 3 UPDATEs + 1 INSERT per transaction). */
import { availableParallelism } from 'node:os';
import { runCommand } from './proc.js';

/** Row changes a TPC-B-like transaction writes: accounts, tellers, branches updated; history inserted. */
export const CHANGES_PER_TRANSACTION = 4;

export interface PgbenchResult {
  transactions: number;
  tps: number;
  seconds: number;
}

export interface PgbenchLoad {
  clients: number;
  /** Run for this long ... */
  seconds?: number;
  /** ... or this many transactions per client. */
  transactionsPerClient?: number;
}

export async function runPgbench(url: string, load: PgbenchLoad): Promise<PgbenchResult> {
  const threads = Math.min(load.clients, availableParallelism());
  const length =
    load.seconds !== undefined ? ['-T', String(load.seconds)] : ['-t', String(load.transactionsPerClient ?? 1000)];
  // -n: no VACUUM/TRUNCATE of pgbench_history first (a TRUNCATE would be replicated too).
  const { stdout, seconds } = await runCommand('pgbench', [
    '-n',
    '-M',
    'prepared',
    '-c',
    String(load.clients),
    '-j',
    String(threads),
    ...length,
    url,
  ]);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? Number.NaN);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? Number.NaN);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  if (!Number.isFinite(transactions) || failed > 0) throw new Error(`pgbench did not run cleanly:\n${stdout}`);
  return { transactions, tps, seconds };
}
