/**
 * Lease rules shared by the stores: ttl validation, the store clock, and the errors a lease
 * guard raises. The semantics are in docs/store.md; the etcd store maps them onto etcd leases.
 */
import { assert } from '../core/assert.ts';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { ClaimOptions, Lease } from './store.ts';
import type { SessionOwner, SessionRecord } from '../session/record.ts';

/**
 * The clock a store judges lease expiry by. It belongs to the store, not to the caller: the
 * simulator passes its global virtual clock (not a skewed node clock), SQLite the wall clock
 * (lease rows outlive the process, and `monoMs` is per process).
 */
export type StoreClock = Pick<Env, 'nowMs'>;

/** Asserts that `ttlMs` is a whole number of milliseconds within the lease limits. */
export function checkLeaseTtl(ttlMs: number): void {
  assert(
    Number.isSafeInteger(ttlMs) &&
      ttlMs >= limits.storeLeaseTtlMsMin &&
      ttlMs <= limits.storeLeaseTtlMsMax,
    `lease ttl ${ttlMs} ms outside ${limits.storeLeaseTtlMsMin}..${limits.storeLeaseTtlMsMax}`,
  );
}

/** Asserts that a store built without a clock is not asked for lease semantics. */
export function requireClock(clock: StoreClock | undefined, kind: string): StoreClock {
  assert(
    clock,
    `${kind} store needs a clock for leases: pass { clock } (an Env) to its constructor`,
  );
  return clock;
}

/** `casSession` refused: the version moved on (another writer or a takeover). */
export function staleVersion(
  sessionId: string,
  expectedVersion: number,
  actualVersion: number | null,
): QuorateError {
  return new QuorateError('QUORATE_E_STALE_TOKEN', 'session version moved on', {
    sessionId,
    expectedVersion,
    actualVersion,
    reason: 'version-moved',
  });
}

/** `casSession` refused: the caller's lease lapsed, or it does not own the session. */
export function staleOwnership(
  sessionId: string,
  lease: Lease,
  reason: 'lease-expired' | 'not-owner',
): QuorateError {
  return new QuorateError('QUORATE_E_STALE_TOKEN', `session write refused: ${reason}`, {
    sessionId,
    leaseId: lease.leaseId,
    ownerId: lease.ownerId,
    reason,
  });
}

/** `createSession` refused: the creating replica's lease is gone; another replica can serve. */
export function createLeaseExpired(sessionId: string, lease: Lease): QuorateError {
  return new QuorateError(
    'QUORATE_E_STORE_UNAVAILABLE',
    'this coordinator lost its store lease; retry (another replica can serve)',
    { sessionId, leaseId: lease.leaseId, ownerId: lease.ownerId, reason: 'lease-expired' },
  );
}

/**
 * The owner whose lease, if still live, keeps `lease` from claiming `session`: another lease's
 * owner of a session that is not failed. A failed session is never driven again by its owner,
 * so any replica a retry reaches may claim it (src/session/retry.ts). A session waiting for
 * approvals has no attempt in flight, so the replica an approval reaches may claim it
 * (`forApproval`, src/coordinator/approvals.ts); the takeover scan may not, or replicas would
 * pass it back and forth. A signed one never.
 */
export function claimBlocker(
  session: SessionRecord,
  lease: Lease,
  options: ClaimOptions,
): SessionOwner | undefined {
  const owner = session.owner;
  if (!owner || owner.leaseId === lease.leaseId || session.status === 'failed') return undefined;
  if (options.forApproval === true && awaitingApprovals(session)) return undefined;
  return owner;
}

/** Pending for approvals, with no attempt open. */
function awaitingApprovals(session: SessionRecord): boolean {
  const last = session.attempts[session.attempts.length - 1];
  return (
    session.status === 'pending' &&
    session.pendingReason !== undefined &&
    last?.outcome !== 'running'
  );
}
