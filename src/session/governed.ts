/**
 * The governed half of the session machine: a session whose wallet has signing-time rules is
 * admitted by the rules, may wait for approvals, and is checked again when they are in.
 *
 *   pending ──recheck(allow, approvals complete)──▶ running (attempt 1) ─▶ signed | failed
 *      │ ╲──recheck(deny)──▶ failed (POLICY_DENIED)
 *      ╰──recheck(allow, approvals missing)──▶ approving (pending + pendingReason)
 *   approving ──approve──▶ approving (approval recorded) ──evaluate-rules──▶ recheck …
 *   approving ──approval-deadline──▶ failed (APPROVAL_TIMEOUT)
 *   failed (retryable) ──retry──▶ pending (a new try, rules evaluated again)
 *
 * The coordinator evaluates the rules and checks approval signatures (that needs the policy,
 * the store's velocity events and Ed25519); the machine only decides what the answer means for
 * the record, and the session runner writes it under the replica lease.
 */
import type { CandidateInfo } from './quorum.ts';
import type { SessionError, SessionRecord } from './record.ts';
import type { SessionPolicy } from './session-policy.ts';
import { reopenForRetry, retryDecision } from './retry.ts';
import { currentAttempt, fail, nextAttempt, unchanged, withRecord } from './attempts.ts';
import type { SessionEvent, SessionState, Transition } from './machine.ts';

/** Progress of one approval group, as the coordinator counted it. */
export interface ApprovalProgress {
  readonly k: number;
  readonly approvedBy: readonly string[];
  readonly missing: number;
  readonly ruleIds: readonly string[];
}

/** What the coordinator found when it evaluated a governed session. */
export type RulesVerdict =
  /** The rules deny the request (or cannot be evaluated): the session fails with `error`. */
  | { kind: 'deny'; error: SessionError }
  /** Approvals recorded so far do not satisfy the recorded requirement (rules not re-run). */
  | { kind: 'awaiting'; groups: readonly ApprovalProgress[] }
  /** The rules allow it under `policy`; `satisfied` says whether its approvals are complete. */
  | {
      kind: 'allow';
      policy: SessionPolicy;
      satisfied: boolean;
      groups: readonly ApprovalProgress[];
    };

/** What the session is waiting for, in the machine's terms. */
export type GovernedPhase =
  /** Rules not evaluated yet (new, reopened for a retry, or a crash came in between). */
  | 'admitting'
  /** Waiting for approvals. */
  | 'approving'
  /** Signing, signed, failed, or not governed. */
  | 'none';

/** The governed phase of a record. */
export function governedPhase(record: SessionRecord, governed: boolean): GovernedPhase {
  if (!governed || record.status !== 'pending' || currentAttempt(record)) return 'none';
  if (record.pendingReason !== undefined && record.policy !== undefined) return 'approving';
  return 'admitting';
}

/** Human-readable "waiting for approvals" reason. */
export function pendingReasonOf(groups: readonly ApprovalProgress[]): string {
  const parts = groups
    .filter((g) => g.missing > 0)
    .map((g) => `${g.missing} more of ${g.k} approvals for rule ${g.ruleIds.join('+')}`);
  return `awaiting approvals: ${parts.join('; ')}`;
}

/** `begin`/`recover` of a governed session that is not signing: evaluate its rules first. */
export function onGovernedStart(state: SessionState): Transition {
  const phase = governedPhase(state.record, state.wallet.governed === true);
  const at = state.record.policy?.approvalDeadlineMs;
  if (phase === 'approving' && at !== undefined)
    return {
      state,
      effects: [{ type: 'arm-approval-timer', atMs: at }, { type: 'evaluate-rules' }],
    };
  return { state, effects: [{ type: 'evaluate-rules' }] };
}

/** The coordinator's verdict on a governed session that is not signing yet. */
export function onRecheck(
  state: SessionState,
  event: Extract<SessionEvent, { type: 'recheck' }>,
): Transition {
  const record = state.record;
  if (governedPhase(record, state.wallet.governed === true) === 'none') return unchanged(state);
  const { verdict, nowMs } = event;
  if (verdict.kind === 'deny') {
    const { code, message, detail } = verdict.error;
    return fail(state, record, code, message, detail, []);
  }
  if (verdict.kind === 'awaiting') {
    const pendingReason = pendingReasonOf(verdict.groups);
    if (pendingReason === record.pendingReason) return unchanged(state);
    return withRecord(state, { ...record, pendingReason }, []);
  }
  const policy = verdict.policy;
  if (verdict.satisfied) {
    const next: SessionRecord = { ...record, policy, deadlineMs: nowMs + policy.signingDeadlineMs };
    delete next.pendingReason;
    return nextAttempt(state, next, nowMs, event.candidates, []);
  }
  const approvalDeadlineMs = policy.approvalDeadlineMs ?? nowMs;
  const next: SessionRecord = {
    ...record,
    policy: { ...policy, approvalDeadlineMs },
    pendingReason: pendingReasonOf(verdict.groups),
    deadlineMs: Math.max(nowMs, approvalDeadlineMs) + policy.signingDeadlineMs,
  };
  return withRecord(state, next, [{ type: 'arm-approval-timer', atMs: approvalDeadlineMs }]);
}

/** An approval whose signature the coordinator verified: record it, then re-evaluate. */
export function onApprove(
  state: SessionState,
  event: Extract<SessionEvent, { type: 'approve' }>,
): Transition {
  const record = state.record;
  const policy = record.policy;
  if (governedPhase(record, state.wallet.governed === true) !== 'approving' || !policy)
    return unchanged(state);
  // The window closed (its timer may still be on its way): a late approval never counts.
  if (policy.approvalDeadlineMs !== undefined && event.nowMs >= policy.approvalDeadlineMs)
    return unchanged(state);
  const { approval } = event;
  const approvals = [
    ...policy.approvals.filter((a) => a.approverId !== approval.approverId),
    approval,
  ];
  if (approvals.length > event.approvalsMax) return unchanged(state);
  const next: SessionRecord = { ...record, policy: { ...policy, approvals } };
  return withRecord(state, next, [{ type: 'evaluate-rules' }]);
}

/** The approval window of the current try closed: fail if still waiting. */
export function onApprovalDeadline(
  state: SessionState,
  event: Extract<SessionEvent, { type: 'approval-deadline' }>,
): Transition {
  const record = state.record;
  const at = record.policy?.approvalDeadlineMs;
  // A timer armed for an earlier try (reopened since, with its own window) fails nothing.
  if (governedPhase(record, state.wallet.governed === true) !== 'approving' || at !== event.atMs)
    return unchanged(state);
  // The timer runs on the monotonic clock; a wall clock moved back makes it fire early. Wait on.
  if (event.nowMs < at) return { state, effects: [{ type: 'arm-approval-timer', atMs: at }] };
  return fail(
    state,
    record,
    'QUORATE_E_APPROVAL_TIMEOUT',
    'required approvals did not arrive in time',
    { approvalDeadlineMs: at },
    [],
  );
}

/**
 * The same intent and message asked again after a retryable failure: a new try of the same
 * session (src/session/retry.ts). A governed session goes through its rules again, with a fresh
 * approval window should they now ask for approvals.
 */
export function onRetry(
  state: SessionState,
  event: Extract<SessionEvent, { type: 'retry' }>,
  candidates: CandidateInfo[],
): Transition {
  if (retryDecision(state.record).kind !== 'reopen') return unchanged(state);
  const reopened = reopenForRetry(state.record, event.nowMs, event.deadlineMs);
  if (state.wallet.governed === true)
    return withRecord(state, reopened, [{ type: 'evaluate-rules' }]);
  return nextAttempt(state, reopened, event.nowMs, candidates, []);
}
