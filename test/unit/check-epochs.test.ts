/**
 * The lifecycle invariants of the checker (src/checker/check-epochs.ts) on hand-made facts: each
 * fires on the fault it names and stays quiet on the same facts without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEpochs, type LifecycleFacts } from '../../src/checker/check-epochs.ts';
import { defaultCheckOptions } from '../../src/checker/check.ts';
import { faultSchedule } from '../../src/checker/fault-schedule.ts';

const key = 'aa'.repeat(32);
const schedule = faultSchedule([]);
const invariants = (facts: LifecycleFacts) =>
  checkEpochs(facts, schedule, defaultCheckOptions).map((v) => v.invariant);

/** A replace of p1 by p4 that flipped at 1 000 ms, sampled until 8 000 ms. */
function flipped(p1Epoch: (timeMs: number) => number | undefined): LifecycleFacts {
  const observations = [0, 500, 1_000, 2_000, 7_000, 8_000].map((timeMs) => {
    const storeEpoch = timeMs >= 1_000 ? 1 : 0;
    const epochOf = (p: string) => (timeMs >= 1_200 ? 1 : p === 'p4' ? undefined : 0);
    const parties = ['p2', 'p3', 'p4'].map((partyId) => {
      const e = epochOf(partyId);
      return {
        partyId,
        up: true,
        ...(e === undefined ? {} : { active: { epoch: e, publicKey: key } }),
      };
    });
    const e1 = p1Epoch(timeMs);
    parties.push({
      partyId: 'p1',
      up: true,
      ...(e1 === undefined ? {} : { active: { epoch: e1, publicKey: key } }),
    });
    return { timeMs, storeEpoch, publicKey: key, parties };
  });
  return {
    walletId: 'w',
    publicKey: key,
    observations,
    operations: [
      {
        operationId: 'o1',
        status: 'done',
        fromEpoch: 0,
        toEpoch: 1,
        startedMs: 400,
        endedMs: 1_000,
        parties: ['p2', 'p3', 'p4'],
        threshold: 2,
        oldParties: ['p1', 'p2', 'p3'],
        oldThreshold: 2,
      },
    ],
  };
}

test('I9: a retired share that survives the cleanup bound is a violation; erased in time, none', () => {
  assert.deepEqual(invariants(flipped((t) => (t < 1_500 ? 0 : undefined))), []);
  const kept = invariants(flipped(() => 0));
  assert.ok(kept.length > 0 && kept.every((i) => i === 'I9'), kept.join(','));
});

test('I7: promoting before the store flipped, or a store epoch without a flip', () => {
  const early = flipped((t) => (t < 1_500 ? 0 : undefined));
  const first = early.observations[1]!;
  first.parties[0] = { partyId: 'p2', up: true, active: { epoch: 1, publicKey: key } };
  assert.deepEqual(invariants(early), ['I7']);
  const unflipped = flipped((t) => (t < 1_500 ? 0 : undefined));
  unflipped.operations[0] = { ...unflipped.operations[0]!, status: 'failed' };
  assert.ok(invariants(unflipped).includes('I7'));
});

test('I8: a share of another group key', () => {
  const facts = flipped((t) => (t < 1_500 ? 0 : undefined));
  facts.observations[4]!.parties[1] = {
    partyId: 'p3',
    up: true,
    active: { epoch: 1, publicKey: 'bb'.repeat(32) },
  };
  assert.deepEqual(invariants(facts), ['I8']);
});
