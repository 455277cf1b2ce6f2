/**
 * The session state machine, pure: `transition(state, event) → { state, effects }`. It decides
 * quorums, attempts, fencing tokens, approvals and terminal outcomes; the session runner
 * (src/coordinator/session-runner.ts) carries out the effects (store CAS under the replica
 * lease, envelopes, timers, rule evaluation) and feeds back events. It is the only writer of
 * session records. The version in the state mirrors the store: every `persist` effect is a CAS
 * from `expectedVersion` to `expectedVersion + 1`, and a new attempt's fencing token is the
 * version that records it.
 *
 * The attempt half lives in ./attempts.ts, the governed half (rules, approvals, retries) in
 * ./governed.ts.
 */
import { assert, unreachable } from '../core/assert.ts';
import type { ErrorCode } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import {
  closeAttempt,
  currentAttempt,
  discardRunning,
  fail,
  nextAttempt,
  unchanged,
  withRecord,
} from './attempts.ts';
import {
  governedPhase,
  onApprovalDeadline,
  onApprove,
  onGovernedStart,
  onRecheck,
  onRetry,
  type RulesVerdict,
} from './governed.ts';
import type { CandidateInfo } from './quorum.ts';
import { isTerminal, type SessionRecord } from './record.ts';
import type { SessionApproval } from './session-policy.ts';

export { attemptMinRemainingMs } from './attempts.ts';

/** The wallet facts the machine needs. */
export interface WalletFacts {
  threshold: number;
  parties: string[];
  /** True when signing-time rules govern the wallet (it has a policy tier). */
  governed?: boolean;
  /**
   * Extra parties each attempt asks for round 1 besides its quorum (hedged first round;
   * src/session/hedge.ts). 0 or absent: the engine cannot hedge, the quorum alone is asked.
   */
  hedgeExtraParties?: number;
}

/** Machine state: the durable record, its store version, and the wallet. */
export interface SessionState {
  record: SessionRecord;
  version: number;
  wallet: WalletFacts;
}

/** Why an attempt failed, as reported by the runtime. */
export type AttemptFailureCause = 'timeout' | 'blame' | 'refused' | 'disconnected' | 'stale';

/** Inputs to the machine. */
export type SessionEvent =
  | { type: 'begin'; nowMs: number; candidates: CandidateInfo[] }
  | {
      type: 'attempt-signed';
      attempt: number;
      nowMs: number;
      signature: string;
      signers: string[];
      /** ECDSA: the recovery id of `signature` (0 or 1). */
      recoveryId?: number;
    }
  | {
      type: 'attempt-failed';
      attempt: number;
      nowMs: number;
      cause: AttemptFailureCause;
      reason: string;
      /** The parties at fault (slow, blamed or refusing). */
      parties: string[];
      /** The signer set the attempt had fixed (hedged first round), if it got that far. */
      signers?: string[];
      /** For a refusal: the code the party refused with. */
      code?: ErrorCode;
      /** Hedged round 1: candidates that refused hard and the attempt went on without. */
      hardRefusals?: string[];
      evidence?: Record<string, unknown>;
      candidates: CandidateInfo[];
    }
  /**
   * The session deadline timer fired; `atMs` is the deadline it was armed for (a timer armed for
   * a deadline the session has moved past since is ignored).
   */
  | { type: 'deadline'; nowMs: number; atMs?: number }
  | { type: 'recover'; nowMs: number; candidates: CandidateInfo[] }
  /** The coordinator evaluated the rules of a governed session that is not signing yet. */
  | { type: 'recheck'; nowMs: number; verdict: RulesVerdict; candidates: CandidateInfo[] }
  /** An approval whose signature the coordinator verified against the session's subject. */
  | { type: 'approve'; nowMs: number; approval: SessionApproval; approvalsMax: number }
  /** The approval window that closes at `atMs` closed. */
  | { type: 'approval-deadline'; nowMs: number; atMs: number }
  /** The intent asked again after a retryable failure; the new try must end by `deadlineMs`. */
  | { type: 'retry'; nowMs: number; deadlineMs: number; candidates: CandidateInfo[] };

/** Outputs of the machine, carried out by the runtime in order. */
export type SessionEffect =
  | { type: 'persist'; expectedVersion: number; record: SessionRecord }
  | {
      type: 'run-attempt';
      attempt: number;
      token: number;
      parties: string[];
      /** Hedged first round: every party to ask (the quorum `parties` first, then extras). */
      asked?: string[];
    }
  | { type: 'discard-attempt'; attempt: number; token: number; parties: string[]; reason: string }
  | {
      type: 'store-evidence';
      attempt: number;
      partyId: string;
      reason: string;
      evidence: Record<string, unknown>;
    }
  /** Evaluate the rules and approvals now, and answer with a `recheck` event. */
  | { type: 'evaluate-rules' }
  /** Feed `approval-deadline` at `atMs` (wall clock). */
  | { type: 'arm-approval-timer'; atMs: number }
  | { type: 'finished'; status: 'signed' | 'failed' };

/** Result of a transition. */
export interface Transition {
  state: SessionState;
  effects: SessionEffect[];
}

function onAttemptFailed(
  state: SessionState,
  event: Extract<SessionEvent, { type: 'attempt-failed' }>,
): Transition {
  const running = currentAttempt(state.record);
  if (!running || running.attempt !== event.attempt) return unchanged(state);
  const hard = event.cause === 'blame' || event.cause === 'refused';
  const refusedToo = event.hardRefusals ?? [];
  // The record names every party at fault: a hedged attempt that failed before it fixed its
  // signer set may have been failed (or refused) by a candidate its `parties` do not list.
  const atFault = union(event.parties, refusedToo);
  const record: SessionRecord = {
    ...closeAttempt(
      state.record,
      'aborted',
      event.nowMs,
      `${event.cause}: ${event.reason}`,
      event.signers,
      atFault.length === 0 ? undefined : atFault,
    ),
    excluded: union(
      hard ? union(state.record.excluded, event.parties) : state.record.excluded,
      refusedToo,
    ),
    slow: hard ? state.record.slow : union(state.record.slow, event.parties),
  };
  const effects = discardRunning(state.record, event.cause);
  if (event.cause === 'blame') {
    for (const partyId of event.parties) {
      effects.push({
        type: 'store-evidence',
        attempt: running.attempt,
        partyId,
        reason: event.reason,
        evidence: event.evidence ?? {},
      });
    }
  }
  const refusal = event.cause === 'refused' ? event.code : undefined;
  return nextAttempt(state, record, event.nowMs, event.candidates, effects, refusal);
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

function onSigned(
  state: SessionState,
  event: Extract<SessionEvent, { type: 'attempt-signed' }>,
): Transition {
  const running = currentAttempt(state.record);
  if (!running || running.attempt !== event.attempt) return unchanged(state);
  const record: SessionRecord = {
    ...closeAttempt(state.record, 'signed', event.nowMs, undefined, event.signers),
    status: 'signed',
    signature: event.signature,
    ...(event.recoveryId === undefined ? {} : { recoveryId: event.recoveryId }),
    signers: event.signers,
  };
  return withRecord(state, record, [{ type: 'finished', status: 'signed' }]);
}

function onDeadline(state: SessionState, nowMs: number): Transition {
  const extra = discardRunning(state.record, 'deadline');
  const record = closeAttempt(state.record, 'aborted', nowMs, 'session deadline');
  return fail(
    state,
    record,
    'QUORATE_E_DEADLINE_EXCEEDED',
    'session deadline reached before a quorum signed',
    { attempts: record.attempts.length },
    extra,
  );
}

/** A restarted or new owner cannot resume an attempt: its aggregation state is gone. */
function onRecover(
  state: SessionState,
  event: Extract<SessionEvent, { type: 'recover' }>,
): Transition {
  if (governedPhase(state.record, state.wallet.governed === true) !== 'none')
    return onGovernedStart(state);
  const extra = discardRunning(state.record, 'coordinator restarted');
  const record = closeAttempt(state.record, 'aborted', event.nowMs, 'coordinator restarted');
  if (event.nowMs >= state.record.deadlineMs) {
    return fail(
      state,
      record,
      'QUORATE_E_DEADLINE_EXCEEDED',
      'session deadline passed while the coordinator was down',
      { attempts: record.attempts.length },
      extra,
    );
  }
  return nextAttempt(state, record, event.nowMs, event.candidates, extra);
}

function onBegin(state: SessionState, event: Extract<SessionEvent, { type: 'begin' }>): Transition {
  // A new session, or a failed one reopened for a retry (all its attempts closed).
  if (currentAttempt(state.record) !== undefined) return unchanged(state);
  if (governedPhase(state.record, state.wallet.governed === true) !== 'none')
    return onGovernedStart(state);
  return nextAttempt(state, state.record, event.nowMs, event.candidates, []);
}

/** The pure transition function. Events for terminal sessions are ignored (but `retry`). */
export function transition(state: SessionState, event: SessionEvent): Transition {
  if (event.type === 'retry') return onRetry(state, event, event.candidates);
  if (isTerminal(state.record.status)) return unchanged(state);
  switch (event.type) {
    case 'begin':
      return onBegin(state, event);
    case 'attempt-signed':
      return onSigned(state, event);
    case 'attempt-failed':
      return onAttemptFailed(state, event);
    case 'deadline':
      if (event.atMs !== undefined && event.atMs !== state.record.deadlineMs)
        return unchanged(state);
      return onDeadline(state, event.nowMs);
    case 'recover':
      return onRecover(state, event);
    case 'recheck':
      return onRecheck(state, event);
    case 'approve':
      return onApprove(state, event);
    case 'approval-deadline':
      return onApprovalDeadline(state, event);
    default:
      return unreachable(event);
  }
}

/** Builds the initial machine state for a session at store version `version`. */
export function initialState(
  record: SessionRecord,
  version: number,
  wallet: WalletFacts,
): SessionState {
  assert(
    wallet.threshold >= 1 && wallet.threshold <= wallet.parties.length,
    'valid wallet threshold',
  );
  const hedge = wallet.hedgeExtraParties ?? 0;
  assert(
    Number.isInteger(hedge) && hedge >= 0 && hedge <= limits.hedgeExtraPartiesMax,
    'hedge width within its limit',
  );
  return { record, version, wallet };
}
