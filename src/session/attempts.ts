/**
 * The attempt half of the session machine: choosing a quorum, opening attempt k+1 under a new
 * fencing token, closing attempts, and failing a session with the right code. Pure helpers of
 * {@link transition} (src/session/machine.ts); nothing here touches I/O or the clock.
 */
import type { ErrorCode } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { SessionEffect, SessionState, Transition } from './machine.ts';
import { rankEligible, unavailableParties, type CandidateInfo } from './quorum.ts';
import type { AttemptRecord, SessionError, SessionRecord } from './record.ts';
import { selectQuorumUnderRequirement } from './quorum-requirement.ts';
import { hedgeExtras } from './hedge.ts';

/** Below this much time left, no new attempt is started: the session fails explicitly. */
export const attemptMinRemainingMs = 200;

/** No change, no effects. */
export const unchanged = (state: SessionState): Transition => ({ state, effects: [] });

/** The next record, persisted first (a CAS from the current version), then `effects`. */
export function withRecord(
  state: SessionState,
  record: SessionRecord,
  effects: SessionEffect[],
): Transition {
  return {
    state: { ...state, record, version: state.version + 1 },
    effects: [{ type: 'persist', expectedVersion: state.version, record }, ...effects],
  };
}

/** The attempt in flight, if any. */
export function currentAttempt(record: SessionRecord): AttemptRecord | undefined {
  const last = record.attempts[record.attempts.length - 1];
  return last?.outcome === 'running' ? last : undefined;
}

/**
 * The record with its running attempt (if any) closed with `outcome`; `parties`, when given, is
 * the signer set the attempt fixed (hedged first round), `atFault` the parties that failed it.
 */
export function closeAttempt(
  record: SessionRecord,
  outcome: 'signed' | 'aborted',
  nowMs: number,
  reason?: string,
  parties?: string[],
  atFault?: string[],
): SessionRecord {
  const attempts = record.attempts.map((a, i) =>
    i === record.attempts.length - 1 && a.outcome === 'running'
      ? {
          ...a,
          outcome,
          endedMs: nowMs,
          ...(reason === undefined ? {} : { reason }),
          ...(parties === undefined ? {} : { parties }),
          ...(atFault === undefined ? {} : { atFault }),
        }
      : a,
  );
  return { ...record, attempts };
}

/** Fails the session for good with `code`; `extra` effects run before `finished`. */
export function fail(
  state: SessionState,
  record: SessionRecord,
  code: ErrorCode,
  message: string,
  detail: Record<string, unknown>,
  extra: SessionEffect[],
): Transition {
  const error: SessionError = { code, message, detail: { sessionId: record.sessionId, ...detail } };
  const next: SessionRecord = { ...record, status: 'failed', error };
  delete next.pendingReason;
  return withRecord(state, next, [...extra, { type: 'finished', status: 'failed' }]);
}

/** A discard effect for the attempt in flight (none if nothing runs). */
export function discardRunning(record: SessionRecord, reason: string): SessionEffect[] {
  const running = currentAttempt(record);
  if (!running) return [];
  return [
    {
      type: 'discard-attempt',
      attempt: running.attempt,
      token: running.token,
      // Every party asked holds a nonce or may: a hedged attempt's candidates too.
      parties: running.asked ?? running.parties,
      reason,
    },
  ];
}

/**
 * Chooses the next quorum and opens attempt k+1, or fails the session with the right code.
 * Timed-out parties are used again only when no quorum exists without them.
 */
export function nextAttempt(
  state: SessionState,
  record: SessionRecord,
  nowMs: number,
  candidates: CandidateInfo[],
  extra: SessionEffect[],
  refusal?: ErrorCode,
): Transition {
  const exhausted = budgetExhausted(record, nowMs);
  if (exhausted)
    return fail(
      state,
      record,
      'QUORATE_E_DEADLINE_EXCEEDED',
      exhausted,
      { attempts: record.attempts.length },
      extra,
    );
  const { threshold, parties } = state.wallet;
  const hedge = state.wallet.hedgeExtraParties ?? 0;
  const fresh = rankEligible(parties, candidates, [...record.excluded, ...record.slow]);
  const fallback = rankEligible(parties, candidates, record.excluded).filter(
    (c) => !fresh.includes(c),
  );
  const failed = unattributedFailures(record);
  const ranked = byFailures([...fresh, ...fallback], failed);
  const attemptNo = record.attempts.length + 1;
  if (record.policy) {
    const governed = selectGoverned(record, parties, threshold, ranked);
    if (governed.ok) {
      const asked = [...governed.parties, ...hedgeExtras(governed.parties, fresh, hedge)];
      return openAttempt(state, record, nowMs, attemptNo, governed.parties, asked, extra);
    }
    if (excludedBlock(record, parties, threshold, candidates))
      return noHonestQuorum(state, record, threshold, extra, refusal);
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
  const chosen = untriedQuorum(
    ranked.map((c) => c.partyId),
    threshold,
    new Set(failed.map(setKey)),
  );
  if (chosen.length >= threshold) {
    const asked = [...chosen, ...hedgeExtras(chosen, fresh, hedge)];
    return openAttempt(state, record, nowMs, attemptNo, chosen, asked, extra);
  }
  return noQuorum(state, record, candidates, extra, refusal);
}

/** A signer set as a key: its members sorted. */
const setKey = (parties: readonly string[]): string => [...parties].sort().join(',');

/**
 * The signer sets of this try's attempts that failed without a culprit Quorate can verify: a
 * soft refusal (`stale`), which is what a party sends when its engine finds the attempt broken
 * (a threshold-ECDSA signature that does not verify in phase 4, a box whose content does not
 * decode). The refusing party is marked slow, but the fault may be another signer's, which the
 * refuser cannot prove: a signer whose `w` is a valid scalar but wrong breaks every attempt it is
 * in, and blames nobody (found by the simulator's `parties` adversary, issue 14).
 */
function unattributedFailures(record: SessionRecord): string[][] {
  const from = record.retry?.fromAttempt ?? 1;
  return record.attempts
    .filter((a) => a.attempt >= from && a.outcome === 'aborted')
    .filter((a) => (a.reason ?? '').startsWith('stale:'))
    .map((a) => a.parties);
}

/**
 * `ranked` reordered by how many of the try's culprit-less failures each party was in, fewest
 * first (a stable sort: rank decides among equals). The refuser of such a failure is marked slow
 * and may be honest; the cheater is in every set that failed because of it, so it sinks one
 * place per failure and is left out within a few attempts at any t-of-n, governed wallets
 * included (their selection takes parties in this order), rather than after every set that
 * contains it has been tried.
 */
function byFailures(
  ranked: readonly CandidateInfo[],
  failed: readonly string[][],
): CandidateInfo[] {
  const count = new Map<string, number>();
  for (const set of failed) for (const p of set) count.set(p, (count.get(p) ?? 0) + 1);
  return [...ranked].sort((x, y) => (count.get(x.partyId) ?? 0) - (count.get(y.partyId) ?? 0));
}

/**
 * The first t of `ranked` (best first), or, when that set already failed without a culprit, the
 * best-ranked t-subset not tried yet (lexicographic over rank positions): a cheater that cannot
 * be named is left out by elimination, as long as an untried set remains. Every failed set is
 * one attempt, so at most `failed.size + 1` subsets are visited; none untried: the first t.
 */
export function untriedQuorum(
  ranked: readonly string[],
  t: number,
  failed: ReadonlySet<string>,
): string[] {
  const first = ranked.slice(0, t);
  if (first.length < t || !failed.has(setKey(first))) return first;
  const index = Array.from({ length: t }, (_, i) => i);
  for (let visited = 0; visited <= failed.size; visited++) {
    // Next combination of indices in lexicographic order.
    let i = t - 1;
    while (i >= 0 && index[i] === ranked.length - t + i) i--;
    if (i < 0) return first;
    index[i] = (index[i] ?? 0) + 1;
    for (let j = i + 1; j < t; j++) index[j] = (index[j - 1] ?? 0) + 1;
    const subset = index.map((k) => ranked[k] ?? '');
    if (!failed.has(setKey(subset))) return subset;
  }
  return first;
}

/** Why no further attempt may start (deadline or attempt budget), or undefined. */
function budgetExhausted(record: SessionRecord, nowMs: number): string | undefined {
  if (record.deadlineMs - nowMs < attemptMinRemainingMs)
    return 'session deadline reached before a quorum signed';
  const attemptNo = record.attempts.length + 1;
  // A retried intent's try has its own budget (src/session/retry.ts); the record's is capped.
  const tryAttemptNo = attemptNo - (record.retry?.fromAttempt ?? 1) + 1;
  if (tryAttemptNo > limits.attemptsPerSessionMax || attemptNo > limits.attemptsPerIntentMax)
    return 'attempt budget exhausted before a quorum signed';
  return undefined;
}

/** Fewer than t eligible parties: a protocol abort if blame is what stands in the way. */
function noQuorum(
  state: SessionState,
  record: SessionRecord,
  candidates: CandidateInfo[],
  extra: SessionEffect[],
  refusal: ErrorCode | undefined,
): Transition {
  const { threshold, parties } = state.wallet;
  const aliveCount = rankEligible(parties, candidates, []).length;
  // Blamed parties answered (with invalid data), so they count as reachable: if they are what
  // stands between us and a quorum, this is a protocol abort, not unavailability.
  const honestAlive = rankEligible(parties, candidates, record.excluded).length;
  if (record.excluded.length > 0 && honestAlive + record.excluded.length >= threshold)
    return noHonestQuorum(state, record, threshold, extra, refusal);
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

/**
 * Blamed or refusing parties are what stands between the session and a quorum. When the last
 * refusal was a party's own rules, the request is denied (the parties are reachable and said
 * no); otherwise the protocol aborted.
 */
function noHonestQuorum(
  state: SessionState,
  record: SessionRecord,
  threshold: number,
  extra: SessionEffect[],
  refusal: ErrorCode | undefined,
): Transition {
  if (refusal === 'QUORATE_E_POLICY_DENIED') {
    return fail(
      state,
      record,
      'QUORATE_E_POLICY_DENIED',
      "the parties' own rules refuse this request",
      { cause: 'party-rules', refusedBy: record.excluded, threshold },
      extra,
    );
  }
  return fail(
    state,
    record,
    'QUORATE_E_PROTOCOL_ABORT',
    'no honest quorum remains after excluding blamed parties',
    { blamed: record.excluded, threshold },
    extra,
  );
}

/**
 * True if the governed requirement could be met by the parties the detector shows alive were the
 * excluded (blamed or refusing) ones eligible: they answered, so this is not unavailability (a
 * party whose own rules refuse is reachable; found by `quorate sim --seed 223 --combined`).
 */
function excludedBlock(
  record: SessionRecord,
  parties: readonly string[],
  threshold: number,
  candidates: CandidateInfo[],
): boolean {
  if (record.excluded.length === 0) return false;
  return selectGoverned(record, parties, threshold, rankEligible(parties, candidates, [])).ok;
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
  const policy = record.policy;
  if (!policy) return { ok: false, unavailable: [], reason: 'no policy recorded' };
  const eligible = new Set(ranked.map((c) => c.partyId));
  const candidates = [
    ...ranked.map((c) => ({ partyId: c.partyId, alive: true })),
    ...parties.filter((p) => !eligible.has(p)).map((p) => ({ partyId: p, alive: false })),
  ];
  const shareInfo = new Map(Object.entries(policy.shareTypes));
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
  asked: string[],
  extra: SessionEffect[],
): Transition {
  const token = state.version + 1;
  const hedged = asked.length > chosen.length;
  const attempt: AttemptRecord = {
    attempt: attemptNo,
    token,
    parties: chosen,
    ...(hedged ? { asked } : {}),
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
    {
      type: 'run-attempt',
      attempt: attemptNo,
      token,
      parties: chosen,
      ...(hedged ? { asked } : {}),
    },
  ]);
}
