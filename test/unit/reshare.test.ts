import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify as osslVerify } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { runKeygen, runReshare, runSigning } from '../../src/protocol/local-run.ts';
import { engines } from '../../src/protocol/frost.ts';
import type { FrostScheme, KeyShare } from '../../src/protocol/engine.ts';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${i + 1}`);

/** Ed25519 verification through OpenSSL (not noble). */
function opensslEd25519Verify(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pk)]);
  return osslVerify(null, msg, createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig);
}

/** Verified by a verifier other than the engine's own where one exists. */
function verifiesIndependently(
  scheme: FrostScheme,
  sig: Uint8Array,
  msg: Uint8Array,
  pk: Uint8Array,
) {
  if (scheme === 'ed25519') return opensslEd25519Verify(sig, msg, pk);
  if (scheme === 'bip340') return schnorr.verify(sig, msg, pk);
  return engines[scheme].verify(sig, msg, pk);
}

for (const scheme of ['ed25519', 'bip340', 'secp256k1'] as FrostScheme[]) {
  test(`${scheme}: 2-of-3 reshared to 3-of-5 keeps the group key and signs with new parties`, () => {
    const old = runKeygen(scheme, ids(3), 2, rng);
    const receivers = ['p2', 'p3', 'p4', 'p5', 'p6'];
    const fresh = runReshare(old, ['p1', 'p3'], receivers, 3, rng);
    assert.equal(fresh.length, 5);
    for (const k of fresh) {
      assert.equal(k.publicKey, old[0]!.publicKey, 'group key byte-identical');
      assert.equal(k.threshold, 3);
      assert.equal(k.epoch, 1);
      assert.deepEqual(k.publicPackage, fresh[0]!.publicPackage);
    }
    const pk = hexToBytes(old[0]!.publicKey);
    const msg = utf8ToBytes(`after reshare (${scheme})`);
    for (const signers of [
      ['p4', 'p5', 'p6'],
      ['p2', 'p3', 'p6'],
    ]) {
      const sig = runSigning(scheme, fresh, signers, msg, rng);
      assert.ok(verifiesIndependently(scheme, sig, msg, pk), `${signers.join(',')} signs`);
    }
    // Two new shares are not a quorum any more.
    assert.throws(() => runSigning(scheme, fresh, ['p4', 'p5'], msg, rng));
  });

  test(`${scheme}: a refresh (same 2-of-3) gives new shares; old and new never mix`, () => {
    const parties = ids(3);
    const old = runKeygen(scheme, parties, 2, rng);
    const fresh = runReshare(old, ['p2', 'p3'], parties, 2, rng);
    const msg = utf8ToBytes('refresh');
    const pk = hexToBytes(old[0]!.publicKey);
    for (const k of fresh) {
      const before = old.find((o) => o.partyId === k.partyId)!;
      assert.notEqual(k.secretPackage['signingShare'], before.secretPackage['signingShare']);
      assert.equal(k.publicKey, before.publicKey);
    }
    assert.ok(
      verifiesIndependently(scheme, runSigning(scheme, fresh, ['p1', 'p2'], msg, rng), msg, pk),
    );
    // Every mix of one old and one new share fails, under either epoch's public package.
    for (const [a, b] of [
      ['p1', 'p2'],
      ['p2', 'p3'],
      ['p1', 'p3'],
    ] as const) {
      for (const pkg of [old[0]!.publicPackage, fresh[0]!.publicPackage]) {
        const mixed: KeyShare[] = [
          { ...old.find((k) => k.partyId === a)!, publicPackage: pkg },
          { ...fresh.find((k) => k.partyId === b)!, publicPackage: pkg },
        ];
        assert.throws(() => runSigning(scheme, mixed, [a, b], msg, rng), `${a} old + ${b} new`);
      }
    }
  });

  test(`${scheme}: a dealer that deals a wrong constant term is blamed and nothing is made`, () => {
    const old = runKeygen(scheme, ids(3), 2, rng);
    assert.throws(
      () => runReshare(old, ['p1', 'p2'], ids(3), 2, rng, { corruptConstantOf: 'p2' }),
      (error: Error & { blamed?: string[] }) => {
        assert.deepEqual(error.blamed, ['p2']);
        assert.match(error.message, /constant term/);
        return true;
      },
    );
  });
}

test('a reshare drops a lost party and adds its replacement, which then signs', () => {
  const old = runKeygen('ed25519', ids(3), 2, rng);
  // p1 is lost: p2 and p3 deal to {p2, p3, p4}.
  const fresh = runReshare(old, ['p2', 'p3'], ['p2', 'p3', 'p4'], 2, rng);
  const msg = utf8ToBytes('replacement signs');
  const sig = runSigning('ed25519', fresh, ['p3', 'p4'], msg, rng);
  assert.ok(opensslEd25519Verify(sig, msg, hexToBytes(old[0]!.publicKey)));
  assert.deepEqual(fresh[0]!.parties, ['p2', 'p3', 'p4']);
  assert.equal(Object.keys(fresh[0]!.publicPackage['verifyingShares'] as object).length, 3);
  // The lost party's old share is of no use with the new ones.
  const lost = { ...old[0]!, publicPackage: fresh[0]!.publicPackage };
  assert.throws(() => runSigning('ed25519', [lost, fresh[2]!], ['p1', 'p4'], msg, rng));
});
