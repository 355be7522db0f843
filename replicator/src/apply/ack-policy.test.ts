import { describe, expect, it, test } from 'vitest';
import { AckPolicy } from './ack-policy.js';

type Event = ['begin', bigint] | ['commit', bigint, boolean] | ['committed', bigint] | ['keepalive', bigint, boolean];

/** Feed events to a policy started at `start`; returns what each event said to confirm (null: nothing). */
function run(start: bigint, events: Event[]): (bigint | null)[] {
  const policy = new AckPolicy(start);
  return events.map((event) => {
    switch (event[0]) {
      case 'begin':
        policy.begin(event[1]);
        return null;
      case 'commit': {
        const decision = policy.commit(event[1], event[2]);
        return decision.kind === 'confirm' ? decision.lsn : null;
      }
      case 'committed':
        return policy.committed(event[1]);
      case 'keepalive':
        return policy.keepalive(event[1], event[2]);
    }
  });
}

describe('what may be confirmed to the source', () => {
  test.each<[string, Event[], (bigint | null)[]]>([
    [
      'a transaction with changes: only after the destination commit',
      [
        ['begin', 100n],
        ['commit', 110n, true],
        ['committed', 110n],
      ],
      [null, null, 110n],
    ],
    [
      'a transaction that changed nothing of ours, nothing uncommitted: at its commit',
      [
        ['begin', 100n],
        ['commit', 110n, false],
      ],
      [null, 110n],
    ],
    [
      'a transaction that changed nothing of ours while others are uncommitted: not yet',
      [
        ['begin', 100n],
        ['commit', 110n, true],
      ],
      [null, null],
    ],
    [
      'a keepalive in the middle of a transaction: nothing',
      [
        ['begin', 100n],
        ['keepalive', 105n, false],
        ['commit', 110n, false],
      ],
      [null, null, 110n],
    ],
    [
      'a keepalive before a Begin, nothing uncommitted: its position',
      [
        ['keepalive', 90n, false],
        ['begin', 100n],
        ['commit', 110n, true],
      ],
      [90n, null, null],
    ],
    [
      'a keepalive while the destination holds uncommitted changes: nothing',
      [
        ['begin', 100n],
        ['commit', 110n, true],
        ['keepalive', 120n, true],
      ],
      [null, null, null],
    ],
    [
      'a keepalive at or before the applied position: nothing',
      [
        ['keepalive', 50n, false],
        ['keepalive', 40n, false],
      ],
      [null, null],
    ],
    [
      'a keepalive after a destination commit: its position',
      [
        ['begin', 100n],
        ['commit', 110n, true],
        ['committed', 110n],
        ['keepalive', 130n, false],
      ],
      [null, null, 110n, 130n],
    ],
  ])('%s', (_name, events, confirmed) => {
    expect(run(50n, events)).toEqual(confirmed);
  });
});

describe('transactions applied before a restart', () => {
  it('skips a transaction whose commit is before the applied LSN, and confirms nothing for it', () => {
    const policy = new AckPolicy(200n);
    expect(policy.begin(150n)).toBe(true);
    expect(policy.skipping).toBe(true);
    expect(policy.commit(160n, false)).toEqual({ kind: 'skipped' });
    expect(policy.skipping).toBe(false);
    expect(policy.begin(200n)).toBe(false);
  });

  it('counts a skipped transaction as received (a boundary task may run after it)', () => {
    const policy = new AckPolicy(200n);
    policy.begin(150n);
    policy.commit(160n, false);
    expect(policy.received).toBe(200n);
    policy.begin(250n);
    policy.commit(260n, true);
    expect(policy.received).toBe(260n);
    expect(policy.applied).toBe(200n);
  });
});

describe('positions', () => {
  it('moves caughtUp with empty transactions and keepalives, received with every commit and keepalive between transactions', () => {
    const policy = new AckPolicy(0n);
    policy.begin(10n);
    policy.commit(20n, false);
    expect([policy.applied, policy.received, policy.caughtUp]).toEqual([20n, 20n, 20n]);
    policy.begin(30n);
    policy.keepalive(35n, false);
    expect(policy.received).toBe(20n);
    policy.commit(40n, true);
    expect([policy.applied, policy.received, policy.caughtUp]).toEqual([20n, 40n, 20n]);
    policy.committed(40n);
    policy.keepalive(50n, false);
    expect([policy.applied, policy.received, policy.caughtUp]).toEqual([40n, 50n, 50n]);
  });
});
