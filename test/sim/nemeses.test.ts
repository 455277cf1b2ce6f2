/**
 * Every nemesis is exercised through the real runtimes: for each kind, a few seeds must show
 * the fault's effect in the history (or the network counters) and pass the checker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SignCompletion } from '../../src/checker/history.ts';
import { nemesisKinds, type NemesisKind } from '../../src/sim/nemesis.ts';
import { runSeed, type SeedResult } from '../../src/sim/run-seed.ts';

const seedsPerKind = 8;

const codes = (r: SeedResult) =>
  r.history
    .filter((e) => e.f === 'sign' && e.type === 'fail')
    .map((e) => (e.value as SignCompletion).code);

/** What each nemesis must visibly do in at least one of its seeds. */
const effect: Record<NemesisKind, (r: SeedResult) => boolean> = {
  none: (r) => r.history.every((e) => e.process !== 'nemesis'),
  'isolate-one': (r) => r.report.metrics.detectionMs.length > 0,
  split: (r) => r.report.metrics.detectionMs.length > 0,
  bridge: (r) => r.parties.length === 5 && r.report.metrics.detectionMs.length > 0,
  'one-way': (r) => r.report.metrics.detectionMs.length > 0,
  flapping: (r) => r.network.framesHeld + r.network.framesDropped > 0,
  lossy: (r) =>
    r.network.framesDropped > 0 && r.network.framesDuplicated > 0 && r.network.framesReordered > 0,
  'party-crash': (r) =>
    r.input.journals.some((j) => (j.ops ?? []).filter((o) => o.op === 'open').length === 2) &&
    r.report.metrics.detectionMs.length > 0,
  'two-party-crash': (r) => codes(r).includes('QUORATE_E_QUORUM_UNAVAILABLE'),
  'coordinator-crash': (r) =>
    r.history.some((e) => e.f === 'sign' && e.type === 'info') &&
    r.history.some((e) => e.f === 'sign' && e.type === 'ok' && e.timeMs > stopOf(r)),
  'clock-skew': (r) =>
    r.history.some((e) => e.process === 'nemesis' && e.f === 'start' && e.value.skewMs),
  // Replica nemeses: the second replica ended up owning sessions (took them over, or served
  // the client's retry), and every request still got an answer.
  'replica-crash': (r) => Object.values(r.sessionOwners).includes('coordinator-2'),
  'lease-expiry': (r) => Object.values(r.sessionOwners).includes('coordinator-2'),
  'replica-takeover': (r) => Object.values(r.sessionOwners).includes('coordinator-2'),
};

function stopOf(r: SeedResult): number {
  return r.history.find((e) => e.process === 'nemesis' && e.f === 'stop')?.timeMs ?? Infinity;
}

for (const kind of nemesisKinds) {
  test(`nemesis ${kind}: takes effect and every invariant holds`, async () => {
    let seen = false;
    for (let seed = 1; seed <= seedsPerKind; seed++) {
      const r = await runSeed({ seed, kind });
      assert.deepEqual(
        r.report.violations,
        [],
        `seed ${seed}: replay with --seed ${seed} --kind ${kind}`,
      );
      if (kind !== 'none') {
        const nemesis = r.history.filter((e) => e.process === 'nemesis').map((e) => e.f);
        assert.deepEqual(nemesis, ['start', 'stop'], `seed ${seed} records start and heal`);
      }
      seen ||= effect[kind](r);
      if (seen && seed >= 2) break;
    }
    assert.ok(seen, `${kind} showed its effect in one of ${seedsPerKind} seeds`);
  });
}

test('coordinator crash: a session in flight is recovered by the restarted coordinator', async () => {
  let recovered = false;
  for (let seed = 1; seed <= 30 && !recovered; seed++) {
    const r = await runSeed({ seed, kind: 'coordinator-crash' });
    assert.deepEqual(r.report.violations, []);
    // A try cut off by the crash (info) whose retry joined the same session and got an answer.
    const infos = r.history.filter((e) => e.f === 'sign' && e.type === 'info');
    for (const info of infos) {
      const later = r.history.find(
        (e) =>
          e.f === 'sign' &&
          (e.type === 'ok' || e.type === 'fail') &&
          e.process === info.process &&
          e.timeMs > info.timeMs &&
          e.value.sessionId !== undefined,
      );
      if (later) recovered = true;
    }
  }
  assert.ok(recovered, 'some seed shows a retry answered for a session driven across a crash');
});
