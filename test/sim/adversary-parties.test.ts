/**
 * The adversarial campaign with t−1 malicious parties: 250 seeds of bad DKG shares, silence
 * after round 1 and before activation, wrong confirmations, bad commitments and signature
 * shares, replays; the malicious parties pool their shares and try to rebuild the key and sign.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAdversaryCampaign } from '../../src/sim/adversary/adversary-campaign.ts';

const seeds = Array.from({ length: 250 }, (_, i) => i + 1);

test('250 seeds with t−1 malicious parties: attacks tried, 0 violations', async () => {
  const summary = await runAdversaryCampaign('parties', seeds);
  assert.equal(summary.seeds, 250);
  assert.deepEqual(summary.violations, []);
  assert.ok(summary.attacksTotal > 250, `attacks ${summary.attacksTotal}`);
  for (const kind of [
    'bad-dkg-share',
    'silent-after-round1',
    'silent-before-activation',
    'wrong-confirmation',
    'bad-signature-share',
    'bad-commitment',
    'replay-old-envelope',
    'pool-and-reconstruct',
  ])
    assert.ok((summary.attacks[kind] ?? 0) > 0, `attack ${kind} was tried`);
  assert.ok(summary.keygens > 0 && summary.sharesReleased > 0);
});
