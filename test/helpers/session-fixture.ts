/**
 * A session of wallet `w_1` (2-of-3 over parties a, b, c) for tests of the pure session code:
 * its record, and the detector's view with some parties alive.
 */
import type { CandidateInfo } from '../../src/session/quorum.ts';
import type { SessionRecord } from '../../src/session/record.ts';

export const fixtureParties = ['a', 'b', 'c'];

/** The candidates as the detector sees them: `ids` alive, the others down since 5 ms. */
export const alive = (ids: string[]): CandidateInfo[] =>
  fixtureParties.map((p) => ({
    partyId: p,
    state: ids.includes(p) ? 'alive' : 'down',
    sinceMs: 5,
  }));

/** A new pending session with a 30 s deadline, changed by `overrides`. */
export function sessionRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    sessionId: 's_1',
    walletId: 'w_1',
    intentKey: 'i',
    messageHex: '00',
    messageHash: 'h',
    status: 'pending',
    createdMs: 0,
    deadlineMs: 30_000,
    attempts: [],
    excluded: [],
    slow: [],
    ...overrides,
  };
}
