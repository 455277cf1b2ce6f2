/**
 * The session state machine, pure: `transition(state, event) → { state, effects }`. It decides
 * quorums, attempts, fencing tokens and terminal outcomes; the coordinator runtime carries out
 * the effects (store CAS, envelopes, timers) and feeds back events. The version in the state
 * mirrors the store: every `persist` effect is a CAS from `expectedVersion` to
 * `expectedVersion + 1`, and a new attempt's fencing token is the version that records it.
 */
import { assert, unreachable } from '../core/assert.ts';
import type { ErrorCode } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { AttemptRecord, SessionError, SessionRecord } from './record.ts';
import { isTerminal } from './record.ts';
import { rankEligible, unavailableParties, type CandidateInfo } from './quorum.ts';
import type { SessionPolicy } from './session-policy.ts';
import { selectQuorumUnderRequirement } from '../policy/rules/select-quorum-under-requirement.ts';
import type { ShareType } from '../policy/policy-schema.ts';

/** The wallet facts the machine needs. */
export interface WalletFacts {
  threshold: number;
  parties: string[];
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
  | { type: 'attempt-signed'; attempt: number; nowMs: number; signature: string; signers: string[] }
  | {
      type: 'attempt-failed';
      attempt: number;
      nowMs: number;
      cause: AttemptFailureCause;
      reason: string;
      /** The parties at fault (slow, blamed or refusing). */
      parties: string[];
      evidence?: Record<string, unknown>;
      candidates: CandidateInfo[];
    }
  | { type: 'deadline'; nowMs: number }
  | { type: 'recover'; nowMs: number; candidates: CandidateInfo[] };

/** Outputs of the machine, carried out by the runtime in order. */
export type SessionEffect =
  | { type: 'persist'; expectedVersion: number; record: SessionRecord }
  | { type: 'run-attempt'; attempt: number; token: number; parties: string[] }
  | { type: 'discard-attempt'; attempt: number; token: number; parties: string[]; reason: string }
  | {
      type: 'store-evidence';
      attempt: number;
      partyId: string;
      reason: string;
      evidence: Record<string, unknown>;
    }
  | { type: 'finished'; status: 'signed' | 'failed' };

/** Result of a transition. */
export interface Transition {
  state: SessionState;
  effects: SessionEffect[];
}

/** Below this much time left, no new attempt is started: the session fails explicitly. */
export const attemptMinRemainingMs = 200;

const unchanged = (state: SessionState): Transition => ({ state, effects: [] });

function withRecord(
  state: SessionState,
  record: SessionRecord,
  effects: SessionEffect[],
): Transition {
  return {
    state: { ...state, record, version: state.version + 1 },
    effects: [{ type: 'persist', expectedVersion: state.version, record }, ...effects],
  };
}

function currentAttempt(record: SessionRecord): AttemptRecord | undefined {
  const last = record.attempts[record.attempts.length - 1];
  return last?.outcome === 'running' ? last : undefined;
}

function closeAttempt(
  record: SessionRecord,
  outcome: 'signed' | 'aborted',
  nowMs: number,
  reason?: string,
): SessionRecord {
  const attempts = record.attempts.map((a, i) =>
    i === record.attempts.length - 1 && a.outcome === 'running'
      ? { ...a, outcome, endedMs: nowMs, ...(reason === undefined ? {} : { reason }) }
      : a,
  );
  return { ...record, attempts };
}

function fail(
  state: SessionState,
  record: SessionRecord,
  code: ErrorCode,
  message: string,
  detail: Record<string, unknown>,
  extra: SessionEffect[],
): Transition {
  const error: SessionError = { code, message, detail: { sessionId: record.sessionId, ...detail } };
  const next: SessionRecord = { ...record, status: 'failed', error };
  return withRecord(state, next, [...extra, { type: 'finished', status: 'failed' }]);
}

/**
 * Chooses the next quorum and opens attempt k+1, or fails the session with the right code.
 * Timed-out parties are used again only when no quorum exists without them.
 */
function nextAttempt(
  state: SessionState,
  record: SessionRecord,
  nowMs: number,
  candidates: CandidateInfo[],
  extra: SessionEffect[],
): Transition {
  const { threshold, parties } = state.wallet;
  const remainingMs = record.deadlineMs - nowMs;
  const attemptNo = record.attempts.length + 1;
  // A retried intent's try has its own budget (src/session/retry.ts); the record's is capped.
  const tryAttemptNo = attemptNo - (record.retry?.fromAttempt ?? 1) + 1;
  if (remainingMs < attemptMinRemainingMs) {
    return fail(
      state,
      record,
      'QUORATE_E_DEADLINE_EXCEEDED',
      'session deadline reached before a quorum signed',
      { attempts: record.attempts.length },
      extra,
    );
  }
  if (tryAttemptNo > limits.attemptsPerSessionMax || attemptNo > limits.attemptsPerIntentMax) {
    return fail(
      state,
      record,
      'QUORATE_E_DEADLINE_EXCEEDED',
      'attempt budget exhausted before a quorum signed',
      { attempts: record.attempts.length },
      extra,
    );
  }
  const fresh = rankEligible(parties, candidates, [...record.excluded, ...record.slow]);
  const fallback = rankEligible(parties, candidates, record.excluded).filter(
    (c) => !fresh.includes(c),
  );
  const ranked = [...fresh, ...fallback];
  if (record.policy) {
    const governed = selectGoverned(record, parties, threshold, ranked);
    if (!governed.ok) {
      const down = unavailableParties(parties, candidates);
      return fail(
        state,
        record,
        'QUORATE_E_QUORUM_UNAVAILABLE',
        `no quorum satisfies the policy: ${governed.reason}`,
        { threshold, unavailable: governed.unavailable, down, ruleIds: record.policy.ruleIds },
        extra,
      );
    }
    return openAttempt(state, record, nowMs, attemptNo, governed.parties, extra);
  }
  const chosen = ranked.slice(0, threshold).map((c) => c.partyId);
  if (chosen.length < threshold) {
    const aliveCount = rankEligible(parties, candidates, []).length;
    // Blamed parties answered (with invalid data), so they count as reachable: if they are what
    // stands between us and a quorum, this is a protocol abort, not unavailability.
    const honestAlive = rankEligible(parties, candidates, record.excluded).length;
    if (record.excluded.length > 0 && honestAlive + record.excluded.length >= threshold) {
      return fail(
        state,
        record,
        'QUORATE_E_PROTOCOL_ABORT',
        'no honest quorum remains after excluding blamed parties',
        { blamed: record.excluded, threshold },
        extra,
      );
    }
    const down = unavailableParties(parties, candidates);
    return fail(
      state,
      record,
      'QUORATE_E_QUORUM_UNAVAILABLE',
      `fewer than ${threshold} of ${parties.length} parties are reachable`,
      { threshold, down, alive: aliveCount },
      extra,
    );
  }
  return openAttempt(state, record, nowMs, attemptNo, chosen, extra);
}

/**
 * Quorum selection under the rule's requirement (required shares/types, minimum signers):
 * eligible parties in rank order; never a quorum that violates the rule.
 */
function selectGoverned(
  record: SessionRecord,
  parties: readonly string[],
  threshold: number,
  ranked: readonly CandidateInfo[],
): { ok: true; parties: string[] } | { ok: false; unavailable: string[]; reason: string } {
  const policy = record.policy as SessionPolicy;
  const eligible = new Set(ranked.map((c) => c.partyId));
  const candidates = [
    ...ranked.map((c) => ({ partyId: c.partyId, alive: true })),
    ...parties.filter((p) => !eligible.has(p)).map((p) => ({ partyId: p, alive: false })),
  ];
  const shareInfo = new Map(Object.entries(policy.shareTypes)) as Map<string, ShareType>;
  const selection = selectQuorumUnderRequirement(
    policy.requirement,
    threshold,
    candidates,
    shareInfo,
  );
  if (selection.ok) return { ok: true, parties: [...selection.parties] };
  return { ok: false, unavailable: [...selection.unavailable], reason: selection.reason };
}

function openAttempt(
  state: SessionState,
  record: SessionRecord,
  nowMs: number,
  attemptNo: number,
  chosen: string[],
  extra: SessionEffect[],
): Transition {
  const token = state.version + 1;
  const attempt: AttemptRecord = {
    attempt: attemptNo,
    token,
    parties: chosen,
    outcome: 'running',
    startedMs: nowMs,
  };
  const next: SessionRecord = {
    ...record,
    status: 'running',
    attempts: [...record.attempts, attempt],
  };
  return withRecord(state, next, [
    ...extra,
    { type: 'run-attempt', attempt: attemptNo, token, parties: chosen },
  ]);
}

function onAttemptFailed(
  state: SessionState,
  event: Extract<SessionEvent, { type: 'attempt-failed' }>,
): Transition {
  const running = currentAttempt(state.record);
  if (!running || running.attempt !== event.attempt) return unchanged(state);
  const hard = event.cause === 'blame' || event.cause === 'refused';
  const record: SessionRecord = {
    ...closeAttempt(state.record, 'aborted', event.nowMs, `${event.cause}: ${event.reason}`),
    excluded: hard ? union(state.record.excluded, event.parties) : state.record.excluded,
    slow: hard ? state.record.slow : union(state.record.slow, event.parties),
  };
  const effects: SessionEffect[] = [
    {
      type: 'discard-attempt',
      attempt: running.attempt,
      token: running.token,
      parties: running.parties,
      reason: event.cause,
    },
  ];
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
  return nextAttempt(state, record, event.nowMs, event.candidates, effects);
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

/** The pure transition function. Events for terminal sessions are ignored. */
export function transition(state: SessionState, event: SessionEvent): Transition {
  if (isTerminal(state.record.status)) return unchanged(state);
  switch (event.type) {
    case 'begin': {
      // A new session, or a failed one reopened for a retry (all its attempts closed).
      if (currentAttempt(state.record) !== undefined) return unchanged(state);
      return nextAttempt(state, state.record, event.nowMs, event.candidates, []);
    }
    case 'attempt-signed': {
      const running = currentAttempt(state.record);
      if (!running || running.attempt !== event.attempt) return unchanged(state);
      const record: SessionRecord = {
        ...closeAttempt(state.record, 'signed', event.nowMs),
        status: 'signed',
        signature: event.signature,
        signers: event.signers,
      };
      return withRecord(state, record, [{ type: 'finished', status: 'signed' }]);
    }
    case 'attempt-failed':
      return onAttemptFailed(state, event);
    case 'deadline': {
      const running = currentAttempt(state.record);
      const record = closeAttempt(state.record, 'aborted', event.nowMs, 'session deadline');
      const extra: SessionEffect[] = running
        ? [
            {
              type: 'discard-attempt',
              attempt: running.attempt,
              token: running.token,
              parties: running.parties,
              reason: 'deadline',
            },
          ]
        : [];
      return fail(
        state,
        record,
        'QUORATE_E_DEADLINE_EXCEEDED',
        'session deadline reached before a quorum signed',
        { attempts: record.attempts.length },
        extra,
      );
    }
    case 'recover': {
      // A restarted coordinator cannot resume an attempt: its aggregation state is gone.
      const running = currentAttempt(state.record);
      const record = closeAttempt(state.record, 'aborted', event.nowMs, 'coordinator restarted');
      const extra: SessionEffect[] = running
        ? [
            {
              type: 'discard-attempt',
              attempt: running.attempt,
              token: running.token,
              parties: running.parties,
              reason: 'coordinator restarted',
            },
          ]
        : [];
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
    default:
      return unreachable(event);
  }
}

/** Builds the initial machine state for a newly created session (store version 1). */
export function initialState(
  record: SessionRecord,
  version: number,
  wallet: WalletFacts,
): SessionState {
  assert(
    wallet.threshold >= 1 && wallet.threshold <= wallet.parties.length,
    'valid wallet threshold',
  );
  return { record, version, wallet };
}
