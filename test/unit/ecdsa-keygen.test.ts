/**
 * The coordinator's side of an `ecdsa` key generation: it relays sealed rounds without reading
 * them, and a wallet exists only if every t-subset's test signature verifies. A failing subset
 * aborts it and blames nobody: the failing subsets are the evidence (the engine's word is never
 * a verdict, and t - 1 colluding parties could make any rule of thumb name an honest party).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { keygenCheckDigest, subsetsOf } from '../../src/protocol/ecdsa-common.ts';
import { ecdsaEngine } from '../../src/protocol/ecdsa.ts';
import type { ProtocolMessage, ProtocolStep } from '../../src/protocol/engine.ts';

const parties = ['a', 'b', 'c'];
const secretKey = secp256k1.utils.randomSecretKey();
const publicKey = bytesToHex(secp256k1.getPublicKey(secretKey, true));
const chainCode = '5a'.repeat(32);

/** A coordinator role driven through the six relayed rounds, ready for confirmations. */
function atConfirmation() {
  const role = ecdsaEngine().keygenCoordinator({ parties, threshold: 2, walletId: 'w' });
  role.start();
  for (let round = 1; round <= 6; round++) {
    let last: ProtocolStep<unknown> | undefined;
    for (const from of parties)
      for (const to of parties.filter((p) => p !== from))
        last = role.handle({ from, to: 'coordinator', round, payload: { to, sealed: '00' } });
    assert.equal(last?.kind, 'continue');
    assert.equal((last as { outgoing: ProtocolMessage[] }).outgoing.length, 6, 'all relayed');
  }
  return role;
}

/** Each party's confirmation; subsets in `bad` carry a signature over another digest. */
function confirm(bad: string[][]) {
  const role = atConfirmation();
  let step: ProtocolStep<unknown> | undefined;
  for (const p of parties) {
    const checks: Record<string, string> = {};
    for (const subset of subsetsOf(parties, 2)) {
      if (!subset.includes(p)) continue;
      const isBad = bad.some((s) => s.join(',') === subset.join(','));
      const digest = keygenCheckDigest(isBad ? 'other' : 'w', subset);
      checks[subset.join(',')] = bytesToHex(secp256k1.sign(digest, secretKey, { prehash: false }));
    }
    step = role.handle({
      from: p,
      to: 'coordinator',
      round: 7,
      payload: { publicKey, chainCode, checks },
    });
  }
  assert.ok(step);
  return step;
}

describe('ecdsa key generation at the coordinator', () => {
  test('every subset verifies: the wallet key and its EIP-55 address', () => {
    const step = confirm([]);
    assert.equal(step.kind, 'done');
    if (step.kind === 'done') {
      const result = step.result as { publicKey: string; publicPackage: Record<string, string> };
      assert.equal(result.publicKey, publicKey);
      assert.match(result.publicPackage['ethereumAddress']!, /^0x[0-9a-fA-F]{40}$/);
      assert.equal(result.publicPackage['chainCode'], chainCode);
    }
  });

  test('one failing pair aborts, and nobody is blamed on it alone', () => {
    const step = confirm([['a', 'b']]);
    assert.equal(step.kind, 'abort');
    if (step.kind === 'abort') {
      assert.deepEqual(step.abort.blamed, []);
      assert.match(step.abort.reason, /\{a,b\}/);
    }
  });

  test('every pair of one party failing still blames nobody (t - 1 liars could frame it)', () => {
    const step = confirm([
      ['a', 'b'],
      ['a', 'c'],
    ]);
    assert.equal(step.kind, 'abort');
    if (step.kind === 'abort') {
      assert.deepEqual(step.abort.blamed, []);
      assert.deepEqual(step.abort.evidence['failingSubsets'], [
        ['a', 'b'],
        ['a', 'c'],
      ]);
    }
  });

  test('3-of-6 has its 20 subsets (the bound is inclusive)', () => {
    assert.equal(subsetsOf(['a', 'b', 'c', 'd', 'e', 'f'], 3).length, 20);
    assert.throws(() => subsetsOf(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 3), /few t-subsets/);
  });

  test('a relayed message to an unknown recipient is blamed on its sender', () => {
    const role = ecdsaEngine().keygenCoordinator({ parties, threshold: 2, walletId: 'w' });
    role.start();
    const step = role.handle({
      from: 'b',
      to: 'coordinator',
      round: 1,
      payload: { to: 'mallory', sealed: '00' },
    });
    assert.equal(step.kind, 'abort');
    if (step.kind === 'abort') assert.deepEqual(step.abort.blamed, ['b']);
  });
});
