/**
 * Two overlapping faults of different kinds (`quorate sim --combined`): the second fault's plan
 * keeps its targets apart from the first's, and 300 combined seeds pass every invariant.
 * Asserts on simulated results only, never on wall-clock time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEvent, NemesisValue } from '../../src/checker/history.ts';
import { kindLabel, runCampaign } from '../../src/sim/campaign.ts';
import {
  partyNemesisKinds,
  planNemesis,
  planSecondFault,
  secondFaultKinds,
  type NemesisPlan,
} from '../../src/sim/nemesis.ts';
import { seededRandom } from '../../src/core/seeded-random.ts';

/** Parties whose network path or process a plan's faults with `ordinal` act on. */
function partyTargets(plan: NemesisPlan, ordinal: number): Set<string> {
  const targets = new Set<string>();
  for (const step of plan.steps) {
    const value = step.event?.value;
    if (value && value.id.endsWith(`-${ordinal}`)) for (const p of value.impaired) targets.add(p);
  }
  return targets;
}

test('second faults: another kind, ids -2, party targets apart from the first, deterministic', () => {
  const seen = new Set<string>();
  for (let seed = 1; seed <= 2_000; seed++) {
    for (const parties of [
      ['p1', 'p2', 'p3'],
      ['p1', 'p2', 'p3', 'p4', 'p5'],
    ]) {
      const draw = () => {
        const rng = seededRandom(seed, 'plan');
        const kinds = partyNemesisKinds.filter((k) => k !== 'bridge' || parties.length === 5);
        const kind = rng.pick(kinds);
        const first = planNemesis(kind, rng, parties);
        return {
          kind,
          first,
          plan: planSecondFault(first, seededRandom(seed, 'second-fault'), parties),
        };
      };
      const { kind, first, plan } = draw();
      const again = draw().plan;
      assert.equal(again.secondKind, plan.secondKind, 'same seed, same second fault');
      assert.deepEqual(
        again.steps.map((s) => [s.atMs, s.event?.value.description]),
        plan.steps.map((s) => [s.atMs, s.event?.value.description]),
      );
      const second = plan.secondKind;
      assert.ok(second !== undefined && second !== kind, `${kind} got a different second kind`);
      assert.ok((secondFaultKinds as readonly string[]).includes(second));
      seen.add(second);
      const ids = plan.steps.flatMap((s) => (s.event ? [s.event.value.id] : []));
      assert.ok(
        ids.some((id) => id === `${second}-2`),
        `${second} announced as ${second}-2`,
      );
      assert.equal(plan.startMs, Math.min(...plan.steps.map((s) => s.atMs)));
      assert.ok(plan.healMs >= Math.max(...plan.steps.map((s) => s.atMs)));
      if (second !== 'clock-skew' && second !== 'coordinator-crash') {
        const a = partyTargets(first, 1);
        const b = partyTargets(plan, 2);
        assert.ok(b.size > 0, `${kindLabel({ kind, secondKind: second })} has targets`);
        for (const p of b) assert.ok(!a.has(p), `${p} is hit by both ${kind} and ${second}`);
      }
      if (second === 'coordinator-crash') {
        const values: NemesisValue[] = first.steps.flatMap((s) => (s.event ? [s.event.value] : []));
        assert.ok(!values.some((v) => v.coordinatorDown === true), 'the coordinator crashes once');
      }
    }
  }
  assert.deepEqual([...seen].sort(), [...secondFaultKinds].sort(), 'every second kind is drawn');
});

test('300 combined seeds pass every invariant; faults really overlap', async () => {
  const seeds = Array.from({ length: 300 }, (_, i) => i + 1);
  let overlapping = 0;
  const labels = new Set<string>();
  const started = process.hrtime.bigint();
  const summary = await runCampaign(seeds, { combined: true }, (_done, result) => {
    labels.add(kindLabel(result));
    if (windowsOverlap(result.history)) overlapping += 1;
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    JSON.stringify({ seconds: Math.round(seconds), overlapping, kinds: labels.size, ...summary }),
  );
  const replay = summary.failures.map((f) => `quorate sim --seed ${f.seed} --combined (${f.kind})`);
  assert.deepEqual(replay, [], 'every combined seed passes the checker');
  assert.equal(summary.violations, 0);
  assert.ok(labels.size >= 40, `${labels.size} distinct kind pairs`);
  assert.ok(overlapping >= 150, `${overlapping} of 300 runs had both faults active at once`);
  if (summary.sloRequests > 0)
    assert.ok(summary.availability >= 0.999, String(summary.availability));
});

/** True if some instant lies inside a `-1` fault window and a `-2` fault window. */
function windowsOverlap(history: readonly HistoryEvent[]): boolean {
  const window = (ordinal: number) => {
    const times = history
      .flatMap((e) => (e.f === 'start' || e.f === 'stop' ? [e] : []))
      .filter((e) => e.value.id.endsWith(`-${ordinal}`))
      .map((e) => e.timeMs);
    return times.length === 0 ? undefined : [Math.min(...times), Math.max(...times)];
  };
  const a = window(1);
  const b = window(2);
  return a !== undefined && b !== undefined && a[0]! < b[1]! && b[0]! < a[1]!;
}
