import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  transition,
  initialState,
  type SessionEvent,
  type SessionState,
} from '../../src/session/machine.ts';
import type { CandidateInfo } from '../../src/session/quorum.ts';
import { alive, fixtureParties, sessionRecord } from '../helpers/session-fixture.ts';

const parties = fixtureParties;

function fresh(deadlineMs = 30_000): SessionState {
  return initialState(sessionRecord({ deadlineMs }), 1, { threshold: 2, parties });
}

function run(state: SessionState, events: SessionEvent[]) {
  const effects = [];
  for (const e of events) {
    const t = transition(state, e);
    state = t.state;
    effects.push(...t.effects);
  }
  return { state, effects };
}

test('begin with t alive parties opens attempt 1 with token = next version, persisted first', () => {
  const { state, effects } = run(fresh(), [
    { type: 'begin', nowMs: 10, candidates: alive(parties) },
  ]);
  assert.equal(state.record.status, 'running');
  assert.equal(state.version, 2);
  assert.deepEqual(
    effects.map((e) => e.type),
    ['persist', 'run-attempt'],
  );
  const runEffect = effects[1] as Extract<(typeof effects)[number], { type: 'run-attempt' }>;
  assert.equal(runEffect.token, 2);
  assert.deepEqual(runEffect.parties, ['a', 'b']);
  assert.equal((effects[0] as { expectedVersion: number }).expectedVersion, 1);
});

test('begin with fewer than t alive fails fast with QUORUM_UNAVAILABLE naming who is down and since when', () => {
  const { state, effects } = run(fresh(), [{ type: 'begin', nowMs: 10, candidates: alive(['a']) }]);
  assert.equal(state.record.status, 'failed');
  assert.equal(state.record.error?.code, 'QUORATE_E_QUORUM_UNAVAILABLE');
  assert.deepEqual(state.record.error?.detail['down'], [
    { partyId: 'b', state: 'down', sinceMs: 5 },
    { partyId: 'c', state: 'down', sinceMs: 5 },
  ]);
  assert.deepEqual(
    effects.map((e) => e.type),
    ['persist', 'finished'],
  );
});

test('attempt-signed ends the session signed; later events are ignored', () => {
  const { state } = run(fresh(), [
    { type: 'begin', nowMs: 10, candidates: alive(parties) },
    { type: 'attempt-signed', attempt: 1, nowMs: 20, signature: 'ab', signers: ['a', 'b'] },
    { type: 'deadline', nowMs: 30_000 },
  ]);
  assert.equal(state.record.status, 'signed');
  assert.equal(state.record.signature, 'ab');
  assert.equal(state.record.attempts[0]?.outcome, 'signed');
});

test('a round timeout aborts the attempt, discards it and retries without the slow party, higher token', () => {
  const { state, effects } = run(fresh(), [
    { type: 'begin', nowMs: 10, candidates: alive(parties) },
    {
      type: 'attempt-failed',
      attempt: 1,
      nowMs: 3000,
      cause: 'timeout',
      reason: 'round 1',
      parties: ['b'],
      candidates: alive(parties),
    },
  ]);
  assert.equal(state.record.status, 'running');
  assert.equal(state.record.attempts.length, 2);
  assert.equal(state.record.attempts[0]?.outcome, 'aborted');
  assert.deepEqual(state.record.attempts[1]?.parties, ['a', 'c']);
  assert.ok(state.record.attempts[1].token > state.record.attempts[0].token);
  assert.deepEqual(
    effects.map((e) => e.type),
    ['persist', 'run-attempt', 'persist', 'discard-attempt', 'run-attempt'],
  );
  assert.deepEqual(state.record.slow, ['b']);
});

test('slow parties are reused only as a last resort', () => {
  const { state } = run(fresh(), [
    { type: 'begin', nowMs: 10, candidates: alive(parties) },
    {
      type: 'attempt-failed',
      attempt: 1,
      nowMs: 3000,
      cause: 'timeout',
      reason: 'r',
      parties: ['b'],
      candidates: alive(parties),
    },
    {
      type: 'attempt-failed',
      attempt: 2,
      nowMs: 6000,
      cause: 'timeout',
      reason: 'r',
      parties: ['c'],
      candidates: alive(parties),
    },
  ]);
  assert.equal(state.record.attempts.length, 3);
  assert.deepEqual(state.record.attempts[2]?.parties.sort(), ['a', 'b']);
});

test('blame excludes the cheater, stores evidence, and fails PROTOCOL_ABORT when no honest quorum remains', () => {
  const { state, effects } = run(fresh(), [
    { type: 'begin', nowMs: 10, candidates: alive(parties) },
    {
      type: 'attempt-failed',
      attempt: 1,
      nowMs: 50,
      cause: 'blame',
      reason: 'bad share',
      parties: ['b'],
      evidence: { x: 1 },
      candidates: alive(parties),
    },
    {
      type: 'attempt-failed',
      attempt: 2,
      nowMs: 90,
      cause: 'blame',
      reason: 'bad share',
      parties: ['c'],
      evidence: { x: 2 },
      candidates: alive(parties),
    },
  ]);
  assert.equal(state.record.status, 'failed');
  assert.equal(state.record.error?.code, 'QUORATE_E_PROTOCOL_ABORT');
  assert.deepEqual(state.record.error?.detail['blamed'], ['b', 'c']);
  assert.equal(effects.filter((e) => e.type === 'store-evidence').length, 2);
});

test('deadline fails DEADLINE_EXCEEDED and discards the running attempt', () => {
  const { state, effects } = run(fresh(), [
    { type: 'begin', nowMs: 10, candidates: alive(parties) },
    { type: 'deadline', nowMs: 30_000 },
  ]);
  assert.equal(state.record.error?.code, 'QUORATE_E_DEADLINE_EXCEEDED');
  assert.ok(effects.some((e) => e.type === 'discard-attempt'));
  assert.equal(state.record.attempts[0]?.outcome, 'aborted');
});

test('too little time left for another attempt fails explicitly instead of starting one', () => {
  const { state } = run(fresh(3_100), [
    { type: 'begin', nowMs: 10, candidates: alive(parties) },
    {
      type: 'attempt-failed',
      attempt: 1,
      nowMs: 3_000,
      cause: 'timeout',
      reason: 'r',
      parties: ['b'],
      candidates: alive(parties),
    },
  ]);
  assert.equal(state.record.error?.code, 'QUORATE_E_DEADLINE_EXCEEDED');
});

test('recover after a coordinator restart aborts the old attempt and opens a new one with a higher token', () => {
  const first = run(fresh(), [{ type: 'begin', nowMs: 10, candidates: alive(parties) }]).state;
  const { state } = run(first, [{ type: 'recover', nowMs: 500, candidates: alive(['b', 'c']) }]);
  assert.equal(state.record.attempts[0]?.reason, 'coordinator restarted');
  assert.deepEqual(state.record.attempts[1]?.parties, ['b', 'c']);
  assert.ok(state.record.attempts[1].token > state.record.attempts[0].token);
});

test('recover after the deadline fails the session', () => {
  const first = run(fresh(100), [{ type: 'begin', nowMs: 10, candidates: alive(parties) }]).state;
  const { state } = run(first, [{ type: 'recover', nowMs: 200, candidates: alive(parties) }]);
  assert.equal(state.record.error?.code, 'QUORATE_E_DEADLINE_EXCEEDED');
});

test('events for another attempt are ignored', () => {
  const first = run(fresh(), [{ type: 'begin', nowMs: 10, candidates: alive(parties) }]).state;
  const t = transition(first, {
    type: 'attempt-signed',
    attempt: 7,
    nowMs: 20,
    signature: 'x',
    signers: [],
  });
  assert.equal(t.effects.length, 0);
  assert.equal(t.state, first);
});

test('blamed parties that the detector now shows as suspect still make it a PROTOCOL_ABORT, not unavailability', () => {
  const suspectBlamed: CandidateInfo[] = [
    { partyId: 'a', state: 'suspect' },
    { partyId: 'b', state: 'suspect' },
    { partyId: 'c', state: 'alive' },
  ];
  const { state } = run(fresh(), [
    { type: 'begin', nowMs: 10, candidates: alive(parties) },
    {
      type: 'attempt-failed',
      attempt: 1,
      nowMs: 50,
      cause: 'blame',
      reason: 'bad share',
      parties: ['a', 'b'],
      candidates: suspectBlamed,
    },
  ]);
  assert.equal(state.record.error?.code, 'QUORATE_E_PROTOCOL_ABORT');
  assert.deepEqual(state.record.error?.detail['blamed'], ['a', 'b']);
});

test('governed session: a required guardian that is down gives QUORUM_UNAVAILABLE naming it, never a quorum without it', () => {
  const base = fresh();
  const governed: SessionState = {
    ...base,
    record: {
      ...base.record,
      policy: {
        tier: 'retail',
        policyHash: 'h',
        ruleIds: ['large-transfer'],
        requirement: {
          minSigners: 2,
          requiredTypes: ['guardian'],
          requiredShares: [],
          approvals: [],
        },
        shareTypes: { a: 'mobile', b: 'backend', c: 'guardian' },
        approvals: [],
        signingDeadlineMs: 30_000,
      },
    },
  };
  const down = run(governed, [{ type: 'begin', nowMs: 10, candidates: alive(['a', 'b']) }]).state;
  assert.equal(down.record.error?.code, 'QUORATE_E_QUORUM_UNAVAILABLE');
  assert.deepEqual(down.record.error?.detail['unavailable'], ['c']);
  assert.equal(down.record.attempts.length, 0);
  const up = run(governed, [{ type: 'begin', nowMs: 10, candidates: alive(parties) }]).state;
  assert.ok(up.record.attempts[0]?.parties.includes('c'), 'the guardian is in the quorum');
  assert.equal(up.record.attempts[0]?.parties.length, 2);
});
