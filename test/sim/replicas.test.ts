/**
 * Coordinator replicas in the simulator: 40 seeds of each replica nemesis (owner crash, lease
 * expiry through a cut to the store, store-side takeover of a stale owner) pass every
 * invariant, and every request reaches a terminal answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCampaign } from '../../src/sim/campaign.ts';
import { replicaNemesisKinds } from '../../src/sim/nemesis.ts';

const seedsPerKind = 40;

for (const kind of replicaNemesisKinds) {
  test(`replica nemesis ${kind}: ${seedsPerKind} seeds, no violation`, async () => {
    const seeds = Array.from({ length: seedsPerKind }, (_, i) => 1_000 + i);
    const summary = await runCampaign(seeds, { kind });
    const replay = summary.failures.map((f) => `quorate sim --seed ${f.seed} --kind ${kind}`);
    assert.deepEqual(replay, []);
    assert.equal(summary.violations, 0);
  });
}
