/**
 * The adversarial campaign against a malicious coordinator: 250 seeds of real parties (certified,
 * pinning the rogue's key, holding real shares) against key substitution, equivocation, replays,
 * forged tokens, bad signer sets, re-asks and requests their own rules refuse. No invariant of
 * A1, A2, A3 or I2 may break, and the attacks must really have been tried.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAdversaryCampaign } from '../../src/sim/adversary/adversary-campaign.ts';
import { keygenAttacks } from '../../src/sim/adversary/rogue-keygen.ts';

const seeds = Array.from({ length: 250 }, (_, i) => i + 1);

test('250 seeds against a malicious coordinator: attacks tried, 0 violations', async () => {
  const summary = await runAdversaryCampaign('coordinator', seeds);
  assert.equal(summary.seeds, 250);
  assert.deepEqual(summary.violations, []);
  assert.ok(summary.attacksTotal > 500, `attacks ${summary.attacksTotal}`);
  for (const kind of [
    ...keygenAttacks.filter((k) => k !== 'honest-dkg'),
    'commitment-equivocation',
    'reask-share',
    'restart-reask',
    'replay-envelope',
    'cross-session-replay',
    'forged-token',
    'stale-token',
    'duplicate-signers',
    'short-signers',
    'policy-deny',
    'forged-approvals',
  ])
    assert.ok((summary.attacks[kind] ?? 0) > 0, `attack ${kind} was tried`);
  // The refusals that stop them, and honest work still done.
  assert.ok((summary.refusals['QUORATE_E_UNTRUSTED_PEER'] ?? 0) > 0);
  assert.ok((summary.refusals['QUORATE_E_POLICY_DENIED'] ?? 0) > 0);
  assert.ok(summary.sharesReleased > 0);
  assert.ok(summary.keygensAborted < summary.keygens, 'honest key generations still complete');
});
