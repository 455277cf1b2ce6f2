/**
 * The hedged first round in the pure session code: an attempt asks its quorum plus the extra
 * candidates the wallet's hedge width allows (in good standing only), records who was asked,
 * discards at every party asked when it aborts, and records the parties that signed. The
 * chooser takes the earliest answers that satisfy the requirement, never a set that violates it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSigners, hedgeWidth } from '../../src/session/hedge.ts';
import {
  initialState,
  transition,
  type SessionEffect,
  type SessionEvent,
  type SessionState,
} from '../../src/session/machine.ts';
import type { SessionPolicy } from '../../src/session/session-policy.ts';
import { alive, fixtureParties as parties, sessionRecord } from '../helpers/session-fixture.ts';

const hedged = (): SessionState =>
  initialState(sessionRecord(), 1, { threshold: 2, parties, hedgeExtraParties: 1 });

const ofType = <T extends SessionEffect['type']>(effects: SessionEffect[], type: T) =>
  effects.filter((e): e is Extract<SessionEffect, { type: T }> => e.type === type);

/** The hedged session begun with every party alive. */
const begin = () => transition(hedged(), { type: 'begin', nowMs: 10, candidates: alive(parties) });

/** `event` for attempt 1 (at 20 ms) of the begun session. */
const afterBegin = (
  event:
    | Omit<Extract<SessionEvent, { type: 'attempt-failed' }>, 'attempt' | 'nowMs'>
    | Omit<Extract<SessionEvent, { type: 'attempt-signed' }>, 'attempt' | 'nowMs'>,
) => transition(begin().state, { ...event, attempt: 1, nowMs: 20 });

test('an attempt asks its quorum and one extra candidate, and records both', () => {
  const { state, effects } = begin();
  const [run] = ofType(effects, 'run-attempt');
  assert.deepEqual(run?.parties, ['a', 'b']);
  assert.deepEqual(run?.asked, ['a', 'b', 'c']);
  assert.deepEqual(state.record.attempts[0]?.asked, ['a', 'b', 'c']);
  assert.deepEqual(state.record.attempts[0]?.parties, ['a', 'b']);
});

test('no extra candidate when only t are alive: the record is what it was before hedging', () => {
  const { state, effects } = transition(hedged(), {
    type: 'begin',
    nowMs: 10,
    candidates: alive(['a', 'b']),
  });
  assert.equal(ofType(effects, 'run-attempt')[0]?.asked, undefined);
  assert.equal('asked' in (state.record.attempts[0] ?? {}), false);
});

test('an aborted attempt discards at every party asked; its fixed signer set is recorded', () => {
  const failed = afterBegin({
    type: 'attempt-failed',
    cause: 'timeout',
    reason: 'round 2 deadline missed',
    parties: ['c'],
    signers: ['a', 'c'],
    candidates: alive(['a', 'b']),
  });
  const [discard] = ofType(failed.effects, 'discard-attempt');
  assert.deepEqual(discard?.parties, ['a', 'b', 'c']);
  assert.deepEqual(failed.state.record.attempts[0]?.parties, ['a', 'c']);
  assert.deepEqual(failed.state.record.slow, ['c']);
  // The next attempt leaves the slow party out of its candidates: nobody extra is left.
  assert.deepEqual(ofType(failed.effects, 'run-attempt')[0]?.parties, ['a', 'b']);
  assert.equal(ofType(failed.effects, 'run-attempt')[0]?.asked, undefined);
});

test('a signed attempt records the parties that signed, and who was asked', () => {
  const signed = afterBegin({
    type: 'attempt-signed',
    signature: 'ff',
    signers: ['c', 'a'],
  });
  const [attempt] = signed.state.record.attempts;
  assert.deepEqual(attempt?.parties, ['c', 'a']);
  assert.deepEqual(attempt?.asked, ['a', 'b', 'c']);
  assert.deepEqual(signed.state.record.signers, ['c', 'a']);
});

test('chooseSigners: the first t answers, or undefined while fewer answered', () => {
  assert.equal(chooseSigners(undefined, 2, 2, ['c']), undefined);
  assert.deepEqual(chooseSigners(undefined, 2, 2, ['c', 'a']), ['c', 'a']);
  assert.deepEqual(chooseSigners(undefined, 2, 2, ['c', 'a', 'b']), ['c', 'a']);
});

test('chooseSigners under a requirement: waits for the required party, then the earliest', () => {
  const policy: SessionPolicy = {
    tier: 't',
    policyHash: '0'.repeat(64),
    ruleIds: ['r'],
    requirement: { minSigners: 2, requiredTypes: [], requiredShares: ['b'], approvals: [] },
    shareTypes: { a: 'x', b: 'x', c: 'x' },
    approvals: [],
    signingDeadlineMs: 30_000,
  };
  assert.equal(chooseSigners(policy, 2, 2, ['c', 'a']), undefined);
  assert.deepEqual(chooseSigners(policy, 2, 2, ['c', 'a', 'b']), ['c', 'b']);
});

// Review finding: an attempt failed by an extra candidate before it fixed its signer set kept
// the quorum as its `parties`, so the record never named the party at fault.
test('an attempt failed by a candidate outside its quorum names it at fault', () => {
  const failed = afterBegin({
    type: 'attempt-failed',
    cause: 'timeout',
    reason: 'round 1 deadline missed',
    parties: ['c'],
    candidates: alive(parties),
  });
  const [attempt] = failed.state.record.attempts;
  assert.deepEqual(attempt?.parties, ['a', 'b'], 'no signer set was fixed');
  assert.deepEqual(attempt?.atFault, ['c']);
  assert.deepEqual(failed.state.record.slow, ['c']);
});

test('hard refusals the attempt went on without: excluded and named at fault', () => {
  const failed = afterBegin({
    type: 'attempt-failed',
    cause: 'timeout',
    reason: 'round 1 deadline missed',
    parties: ['a'],
    hardRefusals: ['c'],
    candidates: alive(parties),
  });
  assert.deepEqual(failed.state.record.attempts[0]?.atFault, ['a', 'c']);
  assert.deepEqual(failed.state.record.excluded, ['c']);
  assert.deepEqual(failed.state.record.slow, ['a']);
});

test('hedge width: every party beyond the quorum (n - t), within the limit', () => {
  assert.equal(hedgeWidth(3, 2), 1);
  assert.equal(hedgeWidth(5, 3), 2, 'a two-party minority cut of 3-of-5 is covered');
  assert.equal(hedgeWidth(3, 3), 0);
  assert.equal(hedgeWidth(9, 1), 4, 'hedgeExtraPartiesMax');
});
