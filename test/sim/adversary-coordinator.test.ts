/**
 * The adversarial campaign against a malicious coordinator: 250 seeds of real parties (certified,
 * pinning the rogue's key, holding real shares) against key substitution, equivocation, replays,
 * forged tokens, bad signer sets, re-asks and requests their own rules refuse; a fifth of the
 * seeds hold ecdsa wallets and meet the ecdsa attacks (rogue-ecdsa.ts). No invariant of A1, A2,
 * A3 or I2 may break, and the attacks must really have been tried.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAdversaryCampaign } from '../../src/sim/adversary/adversary-campaign.ts';
import { runCoordinatorSeed } from '../../src/sim/adversary/coordinator-run.ts';
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
    // ecdsa seeds (a fifth of them, by their own draw): rogue-ecdsa.ts.
    'ecdsa-honest',
    'ecdsa-sign-start-replay',
    'ecdsa-phase3-again',
    'ecdsa-cross-session-boxes',
    'ecdsa-lying-messages',
    'ecdsa-nonce-conflict',
    'ecdsa-box-key-substitution',
  ])
    assert.ok((summary.attacks[kind] ?? 0) > 0, `attack ${kind} was tried`);
  // The refusals that stop them, and honest work still done.
  assert.ok((summary.refusals['QUORATE_E_UNTRUSTED_PEER'] ?? 0) > 0);
  assert.ok((summary.refusals['QUORATE_E_POLICY_DENIED'] ?? 0) > 0);
  assert.ok(summary.sharesReleased > 0);
  assert.ok(summary.keygensAborted < summary.keygens, 'honest key generations still complete');
});

test('ecdsa: a coordinator naming its own box key for a peer is refused, and opens nothing', async () => {
  // Seed 13 is an ecdsa seed with two box-key substitutions. Before parties checked signing box
  // keys against the operator's certificates, the rogue opened the victims' round-1 messages
  // (A1: "the adversary opened a box sealed to an honest party").
  const run = await runCoordinatorSeed(13);
  assert.equal(run.attacks['ecdsa-box-key-substitution'], 2);
  assert.deepEqual(run.violations, []);
  assert.deepEqual(run.input.loot.openedShares, []);
  assert.equal(run.refusals['QUORATE_E_UNTRUSTED_PEER'], 2);
});

test('ecdsa: released broadcasts combined by the rogue make a real signature (the A1 control)', async () => {
  // Seed 2 runs an honest ecdsa signing among its attacks: the rogue combines the signers'
  // round-3 broadcasts as phase 4 does, and the result verifies on the digest they agreed to,
  // so a combination over a digest they did not agree to would be seen.
  const run = await runCoordinatorSeed(2);
  const again = await runCoordinatorSeed(2);
  assert.equal(JSON.stringify(again), JSON.stringify(run), 'an ecdsa seed replays byte for byte');
  assert.ok((run.attacks['ecdsa-honest'] ?? 0) > 0);
  const forgeries = run.input.loot.forgeries.filter((f) => f.method === 'ecdsa-combine');
  assert.ok(forgeries.some((f) => f.verified && f.everyContributorAgreed === true));
  assert.deepEqual(run.violations, []);
});
