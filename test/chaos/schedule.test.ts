/** Seeded schedules, partition shapes and the workload plan (pure; no root needed). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chaosLimits } from '../../src/core/limits.ts';
import {
  bridge,
  coordinatorNode,
  impairedBy,
  majoritiesRing,
  majorityMinority,
  oneWay,
} from '../../src/chaos/partitions.ts';
import { planSchedule, scenarioNames, scenarioTopology } from '../../src/chaos/schedule.ts';
import { seededRandom } from '../../src/core/seeded-random.ts';
import { planWorkload } from '../../src/chaos/workload-plan.ts';

describe('planSchedule', () => {
  test('a seed fixes the schedule; another seed changes it', () => {
    for (const name of scenarioNames) {
      assert.deepEqual(planSchedule(name, 42, 60_000), planSchedule(name, 42, 60_000));
    }
    const a = JSON.stringify(planSchedule('minority-partition', 1, 60_000));
    const b = JSON.stringify(planSchedule('minority-partition', 2, 60_000));
    assert.notEqual(a, b);
  });

  test('windows are ordered, disjoint, after warm-up and healed before the tail', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...scenarioNames),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 10, max: 300 }),
        (name, seed, durationS) => {
          const s = planSchedule(name, seed, durationS * 1_000);
          assert.ok(s.windows.length >= 1);
          let previousEnd: number = chaosLimits.warmupMs;
          for (const w of s.windows) {
            assert.ok(w.startMs >= previousEnd, 'disjoint and after warm-up');
            assert.ok(w.endMs > w.startMs);
            assert.ok(w.endMs <= s.durationMs - chaosLimits.tailMs, 'healed before the tail');
            previousEnd = w.endMs;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('client-partition cuts only the client and the coordinator, all three ways, no party', () => {
    const ways = new Set<string>();
    for (let seed = 0; seed < 100; seed++) {
      for (const w of planSchedule('client-partition', seed, 60_000).windows) {
        assert.deepEqual(w.impaired, []);
        assert.equal(w.coordinatorDown, false);
        for (const a of w.actions) {
          assert.equal(a.kind, 'partition');
          if (a.kind !== 'partition') continue;
          for (const [from, to] of a.cuts)
            assert.deepEqual([from, to].sort(), ['client', 'coordinator']);
          ways.add(a.cuts.map(([from, to]) => `${from}>${to}`).join(' '));
        }
      }
    }
    assert.equal(ways.size, 3, [...ways].join(' | '));
  });

  test('minority-partition never impairs more than n − t parties; majority-loss impairs a majority', () => {
    for (let seed = 0; seed < 200; seed++) {
      const minority = planSchedule('minority-partition', seed, 120_000);
      for (const w of minority.windows)
        assert.ok(w.impaired.length <= minority.parties.length - minority.threshold, w.description);
      const majority = planSchedule('majority-loss', seed, 120_000);
      for (const w of majority.windows)
        assert.ok(w.impaired.length > majority.parties.length - majority.threshold, w.description);
    }
  });

  test('every scenario has the topology it needs (5 parties for bridge and minority-partition)', () => {
    assert.equal(scenarioTopology('bridge').parties.length, 5);
    assert.equal(scenarioTopology('minority-partition').threshold, 3);
    assert.deepEqual(scenarioTopology('pause').parties, ['p1', 'p2', 'p3']);
  });

  test('flapping windows toggle inside the window; kill-restart sometimes kills the coordinator', () => {
    let coordinatorKills = 0;
    for (let seed = 0; seed < 100; seed++) {
      for (const w of planSchedule('flapping-link', seed, 60_000).windows) {
        const flap = w.actions[0];
        assert.equal(flap?.kind, 'flap');
        if (flap?.kind === 'flap')
          assert.ok(flap.toggleAtMs.every((t) => t > 0 && t < w.endMs - w.startMs));
      }
      for (const w of planSchedule('kill-restart', seed, 60_000).windows)
        if (w.coordinatorDown) coordinatorKills += 1;
    }
    assert.ok(coordinatorKills > 0);
  });
});

describe('partition shapes', () => {
  const parties = ['p1', 'p2', 'p3', 'p4', 'p5'];

  test('majorities ring over 5 nodes: each sees exactly a majority, no two the same one', () => {
    const ring = [coordinatorNode, 'p1', 'p2', 'p3', 'p4'];
    const cuts = majoritiesRing(seededRandom(3, 'x'), ring);
    const sees = new Map(ring.map((n) => [n, new Set(ring)]));
    for (const [from, to] of cuts) sees.get(from)?.delete(to);
    const views = [...sees.values()].map((s) => [...s].sort().join(','));
    for (const v of views) assert.equal(v.split(',').length, 3);
    assert.equal(new Set(views).size, 5);
  });

  test('majority/minority puts the coordinator on the asked side', () => {
    for (let seed = 0; seed < 50; seed++) {
      const inMajority = majorityMinority(seededRandom(seed, 's'), parties, true);
      assert.ok(inMajority.majority.includes(coordinatorNode));
      assert.ok(impairedBy(inMajority.cuts).length <= 2);
      const inMinority = majorityMinority(seededRandom(seed, 's'), parties, false);
      assert.ok(inMinority.minority.includes(coordinatorNode));
      assert.ok(impairedBy(inMinority.cuts).length >= 3);
    }
  });

  test('bridge: the bridge node is never cut; one-way cuts a single direction', () => {
    const b = bridge(seededRandom(9, 'b'), parties);
    assert.ok(b.cuts.every(([f, t]) => f !== b.bridgeNode && t !== b.bridgeNode));
    assert.deepEqual(oneWay('p2', true), [['p2', coordinatorNode]]);
    assert.deepEqual(impairedBy(oneWay('p2', false)), ['p2']);
  });
});

describe('planWorkload', () => {
  test('issues requests at the set rate, reusing intentKeys with the same and other messages', () => {
    const plan = planWorkload(5, 10, 60_000);
    assert.equal(plan.length, 600);
    assert.deepEqual(plan, planWorkload(5, 10, 60_000));
    const byKey = new Map<string, Set<string>>();
    let repeats = 0;
    for (const r of plan) {
      const set = byKey.get(r.intentKey) ?? new Set<string>();
      if (byKey.has(r.intentKey)) repeats += 1;
      set.add(r.messageHex);
      byKey.set(r.intentKey, set);
      assert.ok(r.atMs >= 0 && r.atMs < 60_000);
    }
    assert.ok(repeats > 60 && repeats < 250, `repeats ${repeats}`);
    assert.ok(
      [...byKey.values()].some((s) => s.size > 1),
      'some intent asked with two messages',
    );
    assert.throws(() => planWorkload(1, 0, 1_000), RangeError);
  });
});
