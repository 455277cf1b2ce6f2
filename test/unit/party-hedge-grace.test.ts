/**
 * A party asked as a hedge extra (listed after the `quorumSize` parties of the quorum) waits its
 * grace before it draws a nonce (src/party/runtime.ts, src/party/hedge-grace.ts). A discard of
 * that attempt within the grace ends it with no nonce drawn and nothing written to the journal;
 * once the grace passes, the party commits like a quorum party; a party of the quorum commits at
 * once. The grace follows how late the discards of its recent extra attempts arrived.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { realEnv, type Env } from '../../src/core/env.ts';
import { limits } from '../../src/core/limits.ts';
import { HedgeGrace } from '../../src/party/hedge-grace.ts';
import { runKeygen } from '../../src/protocol/local-run.ts';
import { connectedParty, hedgedSignStartBody, testRng as rng } from '../helpers/party-harness.ts';

const walletId = 'w_0000000000000000000000g1';
const members = ['mobile', 'backend', 'guardian'];
const keys = runKeygen('ed25519', members, 2, rng).map((k) => ({ ...k, walletId }));

/** Timers held, run by hand; a monotonic clock moved by hand. */
function heldEnv() {
  const base = realEnv({ logLevel: 'silent' });
  const timers: { delayMs: number; fn: () => void; cancelled: boolean }[] = [];
  let mono = 1_000;
  const env: Env = {
    ...base,
    monoMs: () => mono,
    setTimer: (delayMs, fn) => {
      const timer = { delayMs, fn, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
  };
  return {
    env,
    timers,
    advance: (ms: number) => (mono += ms),
    /** Runs every timer armed and not cancelled (once). */
    fire: () => {
      for (const t of timers.splice(0)) if (!t.cancelled) t.fn();
    },
  };
}

const bodyFor = (sessionId: string, asked: string[]) =>
  hedgedSignStartBody(walletId, sessionId, asked);

/** The guardian on held timers, past its handshake, and its clock. */
function guardianOnHeldTimers() {
  const clock = heldEnv();
  const h = connectedParty('guardian', [keys.find((k) => k.partyId === 'guardian')!], {
    env: clock.env,
  });
  // The handshake armed the party's own timers (watchdogs): not these tests' to run.
  clock.timers.splice(0);
  return { clock, h };
}

/** Asked with the guardian last: a hedge extra when two of the three sign. */
const extra = ['mobile', 'backend', 'guardian'];

describe('a hedge extra waits its grace before it draws a nonce', () => {
  const { clock, h } = guardianOnHeldTimers();
  after(() => h.close());

  test('a discard within the grace: no answer, no nonce, no journal write', () => {
    const opsBefore = h.journal.ops().length;
    const at = { sessionId: 's_g_discarded', attempt: 1, token: 1 };
    const answered = h.send({
      kind: 'sign-start',
      ...at,
      round: 0,
      body: { ...bodyFor(at.sessionId, extra) },
    });
    assert.deepEqual(answered, [], 'nothing answered during the grace');
    assert.equal(h.party.parkedStarts, 1);
    assert.equal(clock.timers.length, 1);
    assert.equal(clock.timers[0]?.delayMs, limits.hedgeExtraGraceMsInitial);
    clock.advance(7);
    const afterDiscard = h.send({
      kind: 'discard',
      ...at,
      round: 0,
      body: { reason: 'not chosen' },
    });
    assert.deepEqual(afterDiscard, []);
    assert.equal(h.party.parkedStarts, 0);
    clock.fire();
    assert.equal(h.received.filter((e) => e.sessionId === at.sessionId).length, 0);
    assert.equal(h.journal.nonces().filter((n) => n.sessionId === at.sessionId).length, 0);
    assert.equal(h.journal.highestToken(at.sessionId), 0, 'no token recorded either');
    assert.equal(h.journal.ops().length, opsBefore, 'the journal saw nothing');
  });

  test('the grace passes: the extra commits, and its later discard ends the nonce', () => {
    const at = { sessionId: 's_g_late', attempt: 1, token: 1 };
    h.send({ kind: 'sign-start', ...at, round: 0, body: { ...bodyFor(at.sessionId, extra) } });
    assert.equal(h.party.parkedStarts, 1);
    clock.fire();
    assert.equal(h.party.parkedStarts, 0);
    const answers = h.received.filter((e) => e.sessionId === at.sessionId);
    assert.deepEqual(
      answers.map((e) => [e.kind, e.round]),
      [['protocol', 1]],
      'its commitment, once the grace passed',
    );
    const drawn = h.journal.nonces().filter((n) => n.sessionId === at.sessionId);
    assert.deepEqual(
      drawn.map((n) => n.state),
      ['issued'],
    );
    h.send({ kind: 'discard', ...at, round: 0, body: { reason: 'not chosen' } });
    assert.deepEqual(
      h.journal
        .nonces()
        .filter((n) => n.sessionId === at.sessionId)
        .map((n) => n.state),
      ['discarded'],
    );
    assert.equal(h.party.activeSessions, 0);
  });

  test('a discard for another attempt or token leaves the parked start alone', () => {
    const at = { sessionId: 's_g_other', attempt: 2, token: 5 };
    h.send({ kind: 'sign-start', ...at, round: 0, body: { ...bodyFor(at.sessionId, extra) } });
    h.send({ kind: 'discard', ...at, attempt: 1, token: 4, round: 0, body: { reason: 'old' } });
    assert.equal(h.party.parkedStarts, 1, 'an older attempt does not cancel this one');
    clock.fire();
    assert.equal(
      h.received.filter((e) => e.sessionId === at.sessionId && e.kind === 'protocol').length,
      1,
    );
    h.send({ kind: 'discard', ...at, round: 0, body: { reason: 'done' } });
  });

  test('a newer sign-start for the session replaces the parked one', () => {
    const first = { sessionId: 's_g_superseded', attempt: 1, token: 1 };
    h.send({
      kind: 'sign-start',
      ...first,
      round: 0,
      body: { ...bodyFor(first.sessionId, extra) },
    });
    const second = { ...first, attempt: 2, token: 2 };
    const quorum = ['guardian', 'backend', 'mobile'];
    const answered = h.send({
      kind: 'sign-start',
      ...second,
      round: 0,
      body: { ...bodyFor(first.sessionId, quorum) },
    });
    assert.deepEqual(
      answered.map((e) => [e.kind, e.attempt]),
      [['protocol', 2]],
      'in the quorum this time: committed at once',
    );
    assert.equal(h.party.parkedStarts, 0);
    clock.fire();
    assert.equal(
      h.received.filter((e) => e.sessionId === first.sessionId && e.attempt === 1).length,
      0,
      'the parked attempt never ran',
    );
    h.send({ kind: 'discard', ...second, round: 0, body: { reason: 'done' } });
  });

  test('a party of the quorum commits at once', () => {
    const at = { sessionId: 's_g_quorum', attempt: 1, token: 1 };
    const answered = h.send({
      kind: 'sign-start',
      ...at,
      round: 0,
      body: { ...bodyFor(at.sessionId, ['backend', 'guardian', 'mobile']) },
    });
    assert.deepEqual(
      answered.map((e) => e.kind),
      ['protocol'],
    );
    assert.equal(h.party.parkedStarts, 0);
    h.send({ kind: 'discard', ...at, round: 0, body: { reason: 'done' } });
  });

  test('the next grace follows how late the discards arrived', () => {
    // Discards 7 ms (parked) and 0 ms (after the grace) so far: twice the p90, at least the min.
    const at = { sessionId: 's_g_next', attempt: 1, token: 1 };
    h.send({ kind: 'sign-start', ...at, round: 0, body: { ...bodyFor(at.sessionId, extra) } });
    assert.equal(clock.timers.at(-1)?.delayMs, limits.hedgeExtraGraceMsMin);
    h.send({ kind: 'discard', ...at, round: 0, body: { reason: 'done' } });
  });
});

describe('a parked sign-start holds its token: nothing lower is acted on (I3)', () => {
  const { clock, h } = guardianOnHeldTimers();
  after(() => h.close());
  const quorum = ['guardian', 'backend', 'mobile'];
  const refusalCode = (answers: { kind: string; body: Record<string, unknown> }[]) =>
    answers.map((a) => (a.kind === 'refuse' ? String(a.body['code']) : a.kind));
  /** Parks attempt 2 (token 5) of `sessionId`, this party an extra. */
  const parkHigh = (sessionId: string) => {
    const high = { sessionId, attempt: 2, token: 5 };
    h.send({ kind: 'sign-start', ...high, round: 0, body: { ...bodyFor(sessionId, extra) } });
    return high;
  };
  /** Attempt 1 (token 4) of `sessionId`, this party in the quorum: what it answered. */
  const lowerStart = (sessionId: string) =>
    h.send({
      kind: 'sign-start',
      sessionId,
      attempt: 1,
      token: 4,
      round: 0,
      body: { ...bodyFor(sessionId, quorum) },
    });

  test('a newer attempt parked drops the older one, whose round 2 is then refused', () => {
    const sessionId = 's_g_i3_a';
    const first = { sessionId, attempt: 1, token: 1 };
    const answered = h.send({
      kind: 'sign-start',
      ...first,
      round: 0,
      body: { ...bodyFor(sessionId, quorum) },
    });
    assert.deepEqual(refusalCode(answered), ['protocol']);
    const second = { sessionId, attempt: 2, token: 2 };
    h.send({ kind: 'sign-start', ...second, round: 0, body: { ...bodyFor(sessionId, extra) } });
    assert.equal(h.party.parkedStarts, 1);
    assert.equal(h.party.activeSessions, 0, 'attempt 1 is dropped at once (I6)');
    assert.deepEqual(
      h.journal
        .nonces()
        .filter((n) => n.sessionId === sessionId)
        .map((n) => n.state),
      ['discarded'],
    );
    const late = h.send({ kind: 'protocol', ...first, round: 2, body: { commitments: {} } });
    assert.deepEqual(refusalCode(late), ['QUORATE_E_STALE_TOKEN']);
    h.send({ kind: 'discard', ...second, round: 0, body: { reason: 'done' } });
  });

  test('a lower token does not replace a parked start, and is refused', () => {
    const sessionId = 's_g_i3_b';
    const high = parkHigh(sessionId);
    assert.deepEqual(refusalCode(lowerStart(sessionId)), ['QUORATE_E_STALE_TOKEN']);
    assert.equal(h.party.parkedStarts, 1, 'the parked start stays');
    h.send({ kind: 'discard', ...high, round: 0, body: { reason: 'done' } });
  });

  test('after a discard within the grace, a lower token is still refused', () => {
    const sessionId = 's_g_i3_c';
    const high = parkHigh(sessionId);
    h.send({ kind: 'discard', ...high, round: 0, body: { reason: 'not chosen' } });
    assert.deepEqual(refusalCode(lowerStart(sessionId)), ['QUORATE_E_STALE_TOKEN']);
    assert.equal(h.journal.nonces().filter((n) => n.sessionId === sessionId).length, 0);
  });

  test('the repeated discard at a session end writes nothing for a session not held', () => {
    const sessionId = 's_g_repeat';
    const at = { sessionId, attempt: 1, token: 3 };
    h.send({ kind: 'sign-start', ...at, round: 0, body: { ...bodyFor(sessionId, extra) } });
    h.send({ kind: 'discard', ...at, round: 0, body: { reason: 'not chosen' } });
    const opsBefore = h.journal.ops().length;
    const repeat = h.send({ kind: 'discard', ...at, round: 0, body: { reason: 'session ended' } });
    assert.deepEqual(repeat, []);
    assert.equal(h.journal.ops().length, opsBefore, 'no journal write');
    const lower = h.send({ kind: 'discard', ...at, token: 2, round: 0, body: { reason: 'old' } });
    assert.deepEqual(refusalCode(lower), ['QUORATE_E_STALE_TOKEN']);
  });

  test("a start handled after its grace has the session's time left less the grace", () => {
    const sessionId = 's_g_late_deadline';
    const at = { sessionId, attempt: 1, token: 1 };
    const body = { ...bodyFor(sessionId, extra), remainingMs: 30 };
    h.send({ kind: 'sign-start', ...at, round: 0, body: { ...body } });
    clock.advance(45);
    clock.fire();
    const answers = h.received.filter((e) => e.sessionId === sessionId);
    assert.equal(answers.length, 1);
    assert.equal(answers[0]?.kind, 'refuse', 'no time left: refused, no nonce drawn');
    assert.equal(h.journal.nonces().filter((n) => n.sessionId === sessionId).length, 0);
  });
});

describe('the hedge grace estimate', () => {
  test('starts at the initial value and is twice the p90 of the samples, within bounds', () => {
    const grace = new HedgeGrace();
    assert.equal(grace.ms, limits.hedgeExtraGraceMsInitial);
    for (let i = 1; i <= 10; i++) grace.observe(i * 5); // 5 … 50 ms: p90 is 50
    assert.equal(grace.ms, 100);
    for (let i = 0; i < limits.hedgeGraceSamples; i++) grace.observe(1_000);
    assert.equal(grace.ms, limits.hedgeExtraGraceMsMax, 'capped');
    for (let i = 0; i < limits.hedgeGraceSamples; i++) grace.observe(1);
    assert.equal(grace.ms, limits.hedgeExtraGraceMsMin, 'the old samples are gone; floored');
  });

  test('ignores samples that are not a duration', () => {
    const grace = new HedgeGrace();
    grace.observe(Number.NaN);
    grace.observe(-3);
    grace.observe(Number.POSITIVE_INFINITY);
    assert.equal(grace.ms, limits.hedgeExtraGraceMsInitial);
  });
});
