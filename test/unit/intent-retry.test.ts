/**
 * Retrying a failed intent (src/session/retry.ts): which failures reopen, what the reopened
 * record looks like, and that the machine drives a reopened session with tokens above every
 * token of the failed try and with a fresh attempt budget per try.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { errorTable, type ErrorCode } from '../../src/core/errors.ts';
import { limits } from '../../src/core/limits.ts';
import { velocityEvents } from '../../src/coordinator/governance.ts';
import { initialState, transition, type SessionState } from '../../src/session/machine.ts';
import { reopenForRetry, retryDecision } from '../../src/session/retry.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { AttemptRecord, SessionRecord } from '../../src/session/record.ts';
import { alive, fixtureParties, sessionRecord } from '../helpers/session-fixture.ts';

const parties = fixtureParties;
const record = sessionRecord;

const failedWith = (code: ErrorCode, extra: Partial<SessionRecord> = {}): SessionRecord =>
  record({ status: 'failed', error: { code, message: 'm', detail: {} }, ...extra });

const aborted = (attempt: number, token: number): AttemptRecord => ({
  attempt,
  token,
  parties: ['a', 'b'],
  outcome: 'aborted',
  reason: 'timeout: round 2 deadline missed',
  startedMs: 1,
  endedMs: 2,
});

test('a failed session reopens exactly when its code is retryable; other statuses join', () => {
  for (const code of Object.keys(errorTable) as ErrorCode[]) {
    const decision = retryDecision(failedWith(code));
    assert.equal(decision.kind, errorTable[code].retryable ? 'reopen' : 'final', code);
  }
  for (const status of ['pending', 'running', 'signed'] as const)
    assert.equal(retryDecision(record({ status })).kind, 'join', status);
  assert.equal(retryDecision(record({ status: 'failed' })).kind, 'final', 'no error: final');
});

test('an intent that used its whole attempt budget is exhausted, not reopened', () => {
  const attempts = Array.from({ length: limits.attemptsPerIntentMax }, (_, i) =>
    aborted(i + 1, i + 2),
  );
  const decision = retryDecision(failedWith('QUORATE_E_DEADLINE_EXCEEDED', { attempts }));
  assert.deepEqual(decision, { kind: 'exhausted', attempts: limits.attemptsPerIntentMax });
  assert.equal(errorTable.QUORATE_E_ATTEMPTS_EXHAUSTED.retryable, false);
});

test('the reopened record: pending, no error, new deadline, slow forgotten, excluded and history kept', () => {
  const failed = failedWith('QUORATE_E_DEADLINE_EXCEEDED', {
    attempts: [aborted(1, 2), aborted(2, 3)],
    excluded: ['c'],
    slow: ['a'],
  });
  const next = reopenForRetry(failed, 50_000, 80_000);
  assert.equal(next.status, 'pending');
  assert.equal(next.error, undefined);
  assert.equal(next.deadlineMs, 80_000);
  assert.deepEqual(next.slow, []);
  assert.deepEqual(next.excluded, ['c']);
  assert.deepEqual(next.attempts, failed.attempts);
  assert.deepEqual(next.retry, {
    count: 1,
    fromAttempt: 3,
    lastMs: 50_000,
    previousError: { code: 'QUORATE_E_DEADLINE_EXCEEDED' },
  });
  const error = { code: 'QUORATE_E_QUORUM_UNAVAILABLE' as const, message: 'm', detail: {} };
  const again = reopenForRetry({ ...next, status: 'failed', error }, 90_000, 99_000);
  assert.equal(again.retry?.count, 2);
  assert.throws(() => reopenForRetry(record({ status: 'signed' }), 1, 2), /only a retryable/);
  assert.throws(() => reopenForRetry(failedWith('QUORATE_E_POLICY_DENIED'), 1, 2));
});

test('the machine drives a reopened session: attempt k+1 with a token above every earlier token', () => {
  const failed = failedWith('QUORATE_E_DEADLINE_EXCEEDED', {
    attempts: [aborted(1, 2), aborted(2, 3)],
  });
  // Failed at version 4; the claim made it 5; the reopen write 6.
  const state: SessionState = initialState(reopenForRetry(failed, 100, 30_100), 6, {
    threshold: 2,
    parties,
  });
  const { state: next, effects } = transition(state, {
    type: 'begin',
    nowMs: 110,
    candidates: alive(parties),
  });
  assert.equal(next.record.status, 'running');
  const run = effects.find((e) => e.type === 'run-attempt');
  assert.ok(run && run.type === 'run-attempt');
  assert.equal(run.attempt, 3);
  assert.equal(run.token, 7);
  assert.ok(
    failed.attempts.every((a) => a.token < run.token),
    'fenced above the failed try',
  );
  // A second begin while the attempt runs changes nothing.
  assert.deepEqual(
    transition(next, { type: 'begin', nowMs: 120, candidates: alive(parties) }).effects,
    [],
  );
});

test('property: each try gets the per-session attempt budget, the intent never more than its cap', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: limits.attemptsPerIntentMax - 1 }), (done) => {
      const attempts = Array.from({ length: done }, (_, i) => aborted(i + 1, i + 2));
      const reopened = reopenForRetry(
        failedWith('QUORATE_E_DEADLINE_EXCEEDED', { attempts }),
        0,
        1_000_000,
      );
      let state = initialState(reopened, done + 3, { threshold: 2, parties });
      let opened = 0;
      let t = transition(state, { type: 'begin', nowMs: 1, candidates: alive(parties) });
      for (let i = 0; i < 200 && !['failed', 'signed'].includes(t.state.record.status); i++) {
        if (t.effects.some((e) => e.type === 'run-attempt')) opened += 1;
        state = t.state;
        const running = state.record.attempts[state.record.attempts.length - 1];
        t = transition(state, {
          type: 'attempt-failed',
          attempt: running?.attempt ?? 0,
          nowMs: 2,
          cause: 'timeout',
          reason: 'slow',
          parties: [],
          candidates: alive(parties),
        });
      }
      const expected = Math.min(limits.attemptsPerSessionMax, limits.attemptsPerIntentMax - done);
      assert.equal(opened, expected);
      assert.equal(t.state.record.status, 'failed');
      assert.equal(t.state.record.error?.code, 'QUORATE_E_DEADLINE_EXCEEDED');
    }),
    { numRuns: 60 },
  );
});

test('velocity: a retried transfer counts from its current try, not from when it was first asked', async () => {
  const store = new MemoryStore({ clock: { nowMs: () => 0 } });
  const dayMs = 86_400_000;
  const nowMs = 40 * dayMs;
  const base = record({ context: { amount: '1000', asset: 'USDC' } });
  const firstAskedMs = nowMs - 35 * dayMs; // outside the longest window (30 days)
  await store.createSession({
    ...base,
    sessionId: 'old',
    intentKey: 'old',
    createdMs: firstAskedMs,
    status: 'signed',
  });
  await store.createSession({
    ...base,
    sessionId: 'retried',
    intentKey: 'retried',
    createdMs: firstAskedMs,
    status: 'signed',
    retry: {
      count: 1,
      fromAttempt: 2,
      lastMs: nowMs - dayMs,
      previousError: { code: 'QUORATE_E_QUORUM_UNAVAILABLE' },
    },
  });
  const events = await velocityEvents(store, 'w_1', nowMs);
  assert.deepEqual(
    events.map((e) => [e.sessionId, e.atMs]),
    [['retried', nowMs - dayMs]],
  );
});
