/**
 * Retrying an intent. A session that failed with a retryable code (`QUORUM_UNAVAILABLE`,
 * `DEADLINE_EXCEEDED`, …) is not the end of its intent: the same `intentKey` and message asked
 * again reopens that same session for a new try, with attempts numbered on from the old ones and
 * fencing tokens above every token the failed try used. Pure: the coordinator writes the record
 * this returns with one compare-and-set, after claiming the session for its own lease.
 *
 * Why this keeps I1 (at most one signature per intent), even when an earlier attempt's shares
 * may have left a party: see docs/retries.md.
 */
import { assert } from '../core/assert.ts';
import { errorTable } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { SessionRecord } from './record.ts';

/** What asking again for a stored session's intent does. */
export type RetryDecision =
  /** The session is signed, pending or running: answer it as it is (an idempotent join). */
  | { kind: 'join' }
  /** It failed with a retryable code and has attempt budget left: reopen it for a new try. */
  | { kind: 'reopen' }
  /** It failed for good (non-retryable code): the same answer every time. */
  | { kind: 'final' }
  /** It failed retryably, but the intent has used its whole attempt budget over its tries. */
  | { kind: 'exhausted'; attempts: number };

/** Decides what a repeated request for this session's intent (same message) gets. */
export function retryDecision(record: SessionRecord): RetryDecision {
  if (record.status !== 'failed') return { kind: 'join' };
  if (record.error === undefined || !errorTable[record.error.code].retryable)
    return { kind: 'final' };
  if (record.attempts.length >= limits.attemptsPerIntentMax)
    return { kind: 'exhausted', attempts: record.attempts.length };
  return { kind: 'reopen' };
}

/**
 * The record of a new try of a failed session: `pending` again, no error, a fresh deadline, the
 * slow list forgotten (the parties may be back); blamed or refusing parties stay excluded, and
 * the attempt history stays. `retry.fromAttempt` is where this try's attempt budget starts.
 */
export function reopenForRetry(
  record: SessionRecord,
  nowMs: number,
  deadlineMs: number,
): SessionRecord {
  const decision = retryDecision(record);
  const error = record.error;
  assert(
    decision.kind === 'reopen' && error !== undefined,
    `only a retryable failed session reopens (${decision.kind})`,
  );
  const reopened: SessionRecord = {
    ...record,
    status: 'pending',
    deadlineMs,
    slow: [],
    retry: {
      count: (record.retry?.count ?? 0) + 1,
      fromAttempt: record.attempts.length + 1,
      lastMs: nowMs,
      previousError: { code: error.code },
    },
  };
  delete reopened.error;
  delete reopened.pendingReason;
  return reopened;
}
