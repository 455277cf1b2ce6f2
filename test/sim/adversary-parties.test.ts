/**
 * The adversarial campaign with t−1 malicious parties against Quorate's REAL coordinator (its
 * registry, detector, quorum selection, session machine and keygen runner on the virtual clock):
 * 250 seeds of bad DKG shares, silence after round 1 and before activation, wrong
 * confirmations, bad commitments and signature shares, replays; wallets created by DKG through
 * the coordinator, requests signed through its admission; the malicious parties pool their key
 * shares and every DKG share they opened, and try to rebuild the key and sign. Then: one seed
 * read closely (blame, exclusion, an honest quorum signs), DKG wallets attacked at the end,
 * determinism, and each outcome check failing on a crafted history. A fifth of the seeds sign
 * with an ecdsa wallet and malicious DKLs23 signers (parties-ecdsa-run.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  runAdversaryCampaign,
  runAdversarySeed,
} from '../../src/sim/adversary/adversary-campaign.ts';
import {
  checkOutcomes,
  type OutcomeCheckInput,
  type SigningOutcome,
} from '../../src/sim/adversary/check-outcomes.ts';

const seeds = Array.from({ length: 250 }, (_, i) => i + 1);

test('250 seeds with t−1 malicious parties and the real coordinator: attacks tried, 0 violations', async () => {
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
    // A refresh in half the FROST seeds (parties-lifecycle.ts).
    'reshare-bad-constant',
    'reshare-bad-part',
    'reshare-silent',
    // ecdsa seeds (a fifth, by their own draw): rogue-ecdsa-parties.ts.
    'ecdsa-bad-u',
    'ecdsa-bad-w',
    'ecdsa-bad-box',
  ])
    assert.ok((summary.attacks[kind] ?? 0) > 0, `attack ${kind} was tried`);
  // The coordinator signed with honest quorums, and failed the rest with a code.
  assert.ok((summary.requests['signed'] ?? 0) > 250, JSON.stringify(summary.requests));
  assert.ok((summary.requests['QUORATE_E_PROTOCOL_ABORT'] ?? 0) > 0);
  for (const end of Object.keys(summary.requests))
    assert.match(end, /^(signed|QUORATE_E_[A-Z_]+)$/);
  // Attacked key generations fail, the others create their wallet.
  assert.ok(summary.keygens > summary.keygensAborted && summary.keygensAborted > 0);
  assert.ok(summary.sharesReleased > 0);
});

test('a refresh a malicious dealer cheats in rolls back, and only the cheater is blamed', async () => {
  // Seed 9: p4 deals a wrong constant term (the coordinator's own check blames it). Seed 14: p3
  // spoils the part it seals to p1; p1 refuses the run, and the coordinator cannot tell who
  // lies, so nobody is blamed (before the fix, the refusing honest p1 was).
  for (const [seed, attack] of [
    [9, 'reshare-bad-constant'],
    [14, 'reshare-bad-part'],
  ] as const) {
    const run = await runAdversarySeed('parties', seed);
    assert.ok((run.attacks[attack] ?? 0) > 0, `seed ${seed} tried ${attack}`);
    assert.deepEqual(run.violations, [], `seed ${seed}`);
  }
});

/** Runs `seed` (attack `attack`): its first request is signed by p1 and p2 with p3 excluded. */
async function cheaterExcluded(seed: number, attack: string) {
  const run = await runAdversarySeed('parties', seed);
  assert.deepEqual(run.violations, []);
  assert.equal(run.outcomes?.signingAttack, attack);
  const [first, second] = run.outcomes?.requests ?? [];
  assert.equal(first?.status, 'signed');
  assert.deepEqual(first.excluded, ['p3']);
  assert.deepEqual([...first.signers].sort(), ['p1', 'p2']);
  assert.ok(first.signatureVerifies);
  assert.equal(second?.status, 'signed');
  return { run, first, second };
}

test('a bad signature share is blamed: the cheater is excluded and the honest parties sign', async () => {
  const { run, first, second } = await cheaterExcluded(1, 'bad-signature-share');
  assert.deepEqual(run.outcomes?.cheated, [`${first.sessionId}|p3`]);
  // Blamed at the registry: the next request does not even ask the cheater.
  assert.deepEqual(second?.excluded, []);
});

test('an invalid commitment is blamed: the cheater is excluded and the honest parties sign', async () => {
  // Before the aggregator checked commitments, nobody was blamed and this request failed with
  // DEADLINE_EXCEEDED after a session of quorums that all included the cheater.
  await cheaterExcluded(10, 'bad-commitment');
});

test('DKG through the coordinator: attacked keygen fails with a code; the created wallet resists rebuild and forgery', async () => {
  const run = await runAdversarySeed('parties', 12);
  assert.deepEqual(run.violations, []);
  const [attacked, created] = run.outcomes?.keygens ?? [];
  assert.deepEqual(attacked, {
    attack: 'wrong-confirmation',
    attempted: true,
    created: false,
    code: 'QUORATE_E_KEYGEN_FAILED',
  });
  assert.equal(created?.created, true);
  const walletId = run.input.keygens.find((k) => k.outcome === 'active')?.walletId ?? '';
  assert.notEqual(walletId, '');
  assert.ok(run.outcomes?.requests.every((r) => r.walletId === walletId));
  const opened = run.input.loot.openedShares.filter((o) => o.walletId === walletId);
  assert.ok(opened.length > 0 && opened.every((o) => o.ownRecipient));
  const rebuilt = run.input.loot.reconstructions.filter((r) => r.walletId === walletId);
  assert.ok(rebuilt.length >= 2, 'from own key shares and from opened DKG shares');
  assert.ok(rebuilt.every((r) => !r.matched && r.sharesUsed > 0));
  assert.ok(run.input.loot.forgeries.some((f) => f.walletId === walletId && !f.verified));
  // Every honest party activated the created wallet with one view.
  const views = new Set(
    run.input.activations
      .filter((a) => a.walletId === walletId && a.honest)
      .map((a) => `${a.publicKey}|${a.packageHash}`),
  );
  assert.equal(views.size, 1);
});

test('an ecdsa broadcast that is not a scalar is blamed: the cheater is excluded', async () => {
  const { run, first } = await cheaterExcluded(5, 'ecdsa-bad-u');
  assert.deepEqual(run.outcomes?.cheated, [`${first.sessionId}|p3`]);
});

test('the same seed gives the same JSON', async () => {
  for (const seed of [8, 12, 5]) {
    const a = JSON.stringify(await runAdversarySeed('parties', seed));
    const b = JSON.stringify(await runAdversarySeed('parties', seed));
    assert.equal(a, b, `seed ${seed}`);
  }
});

const signed: SigningOutcome = {
  walletId: 'w',
  threshold: 2,
  parties: ['p1', 'p2', 'p3'],
  sessionId: 's1',
  status: 'signed',
  signers: ['p1', 'p2'],
  excluded: ['p3'],
  signatureVerifies: true,
};

const history = (over: Partial<OutcomeCheckInput>): OutcomeCheckInput => ({
  malicious: ['p3'],
  signingAttack: 'bad-signature-share',
  cheated: ['s1|p3'],
  requests: [signed],
  keygens: [],
  ...over,
});

const invariantsOf = (input: OutcomeCheckInput) => checkOutcomes(input).map((v) => v.invariant);

test('outcome checks: a clean history passes, and each check fails on a crafted one', () => {
  assert.deepEqual(invariantsOf(history({})), []);
  // Spoiled shares that still made a valid signature (seed 938: two cheaters' changes cancel in
  // the aggregate) owe no exclusion.
  assert.deepEqual(invariantsOf(history({ requests: [{ ...signed, excluded: [] }] })), []);
  const cases: [string, Partial<OutcomeCheckInput>][] = [
    // Two malicious of three here, so that no honest quorum is owed a signature.
    ['I5', { malicious: ['p2', 'p3'], requests: [{ ...signed, status: 'running', signers: [] }] }],
    [
      'I5',
      {
        malicious: ['p2', 'p3'],
        requests: [{ ...signed, status: 'refused', code: 'THREW', sessionId: '', signers: [] }],
      },
    ],
    ['I4', { requests: [{ ...signed, signatureVerifies: false }] }],
    ['I4', { requests: [{ ...signed, signers: ['p1', 'p1'] }] }],
    ['BLAME-HONEST', { requests: [{ ...signed, excluded: ['p3', 'p2'] }] }],
    [
      'BLAME-CHEATER',
      {
        requests: [
          {
            ...signed,
            threshold: 3,
            status: 'failed',
            code: 'QUORATE_E_PROTOCOL_ABORT',
            signers: [],
            excluded: [],
            signatureVerifies: false,
          },
        ],
      },
    ],
    ['KEYGEN', { keygens: [{ attack: 'bad-dkg-share', attempted: true, created: true }] }],
    [
      'KEYGEN',
      {
        keygens: [
          { attack: 'bad-dkg-share', attempted: true, created: false, code: 'QUORATE_E_INTERNAL' },
        ],
      },
    ],
    ['KEYGEN', { keygens: [{ attack: '', attempted: false, created: false, code: 'x' }] }],
  ];
  for (const [invariant, over] of cases)
    assert.deepEqual(invariantsOf(history(over)), [invariant], JSON.stringify(over));
  // Failing with a code is right when the honest parties are no quorum (t = 3 of 4, 2 bad).
  const noQuorum = { ...signed, status: 'failed' as const, code: 'QUORATE_E_PROTOCOL_ABORT' };
  const four = { threshold: 3, parties: ['p1', 'p2', 'p3', 'p4'], signers: [] };
  assert.deepEqual(
    invariantsOf(history({ malicious: ['p3', 'p4'], requests: [{ ...noQuorum, ...four }] })),
    [],
  );
  // …and wrong when they are one.
  const unsigned = history({ requests: [{ ...noQuorum, signers: [] }] });
  assert.deepEqual(invariantsOf(unsigned), ['HONEST-QUORUM']);
});
