import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as osslVerify } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { randomBytes } from 'node:crypto';
import { runKeygen, runSigning } from '../../src/protocol/local-run.ts';
import { engines } from '../../src/protocol/frost.ts';
import { createSealer } from '../../src/protocol/sealed-box.ts';
import type { FrostScheme as Scheme, KeyShare } from '../../src/protocol/engine.ts';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${i + 1}`);
/** A real sealer with no peers: FROST signing never seals, so any use would throw. */
const sealerOf = (self: string) =>
  createSealer({ context: 'test', self, boxSecret: rng(32), peerBoxKeys: {}, randomBytes: rng });
/** A signer of message 'x' among p1 and p2. */
const signerOf = (scheme: Scheme, key: KeyShare) =>
  engines[scheme].signer({
    key,
    message: utf8ToBytes('x'),
    signers: ['p1', 'p2'],
    rng,
    sealer: sealerOf(key.partyId),
  });

/** Ed25519 verification through OpenSSL (a different code path from noble). */
function opensslEd25519Verify(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pk)]);
  return osslVerify(null, msg, createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig);
}

for (const scheme of ['ed25519', 'bip340', 'secp256k1'] as Scheme[]) {
  for (const [t, n] of [
    [2, 3],
    [3, 5],
  ] as const) {
    test(`${scheme} ${t}-of-${n}: DKG then signing by every t-subset sampled verifies`, () => {
      const parties = ids(n);
      const keys = runKeygen(scheme, parties, t, rng);
      const pk = hexToBytes(keys[0]!.publicKey);
      assert.equal(pk.length, scheme === 'secp256k1' ? 33 : 32);
      assert.ok(
        keys.every((k) => k.publicKey === keys[0]!.publicKey),
        'all parties agree on the group key',
      );
      const msg = utf8ToBytes(`pay 1 unit (${scheme} ${t}/${n})`);
      for (const signers of [parties.slice(0, t), parties.slice(n - t)]) {
        const sig = runSigning(scheme, keys, signers, msg, rng);
        assert.ok(engines[scheme].verify(sig, msg, pk));
        if (scheme === 'ed25519')
          assert.ok(opensslEd25519Verify(sig, msg, pk), 'OpenSSL accepts the FROST signature');
        if (scheme === 'bip340')
          assert.ok(schnorr.verify(sig, msg, pk), 'plain BIP340 verify accepts it');
        const tampered = new Uint8Array(msg);
        tampered[0] = (tampered[0] ?? 0) ^ 1;
        assert.equal(engines[scheme].verify(sig, tampered, pk), false);
      }
    });
  }
}

test('a corrupted signature share aborts with the sender blamed (err.cheaters)', () => {
  const parties = ids(3);
  const keys = runKeygen('bip340', parties, 2, rng);
  const msg = utf8ToBytes('blame me');
  assert.throws(
    () => runSigning('bip340', keys, ['p1', 'p3'], msg, rng, { corruptShareOf: 'p3' }),
    (e: unknown) => (e as { blamed?: string[] }).blamed?.join() === 'p3',
  );
});

test('a signer never signs twice with one commitment (nonce consumed in the role)', () => {
  const parties = ids(3);
  const keys = runKeygen('ed25519', parties, 2, rng);
  const signer = signerOf('ed25519', keys[0]!);
  const other = signerOf('ed25519', keys[1]!);
  const c1 = signer.start().outgoing[0]!.payload;
  const c2 = other.start().outgoing[0]!.payload;
  const round2 = {
    from: 'coordinator',
    to: 'p1',
    round: 2,
    payload: { commitments: { p1: c1, p2: c2 } },
  };
  assert.equal(signer.handle(round2).kind, 'done');
  assert.equal(signer.handle(round2).kind, 'abort', 'a second round 2 is refused');
});

test('a signer refuses a commitment list that alters its own commitment', () => {
  const keys = runKeygen('ed25519', ids(3), 2, rng);
  const signer = signerOf('ed25519', keys[0]!);
  const other = signerOf('ed25519', keys[1]!);
  signer.start();
  const c2 = other.start().outgoing[0]!.payload;
  const step = signer.handle({
    from: 'coordinator',
    to: 'p1',
    round: 2,
    payload: { commitments: { p1: c2, p2: c2 } },
  });
  assert.equal(step.kind, 'abort');
});

test('a FROST signer names its one-time secret: the round-1 commitment, spent by round 2', () => {
  const keys = runKeygen('secp256k1', ids(3), 2, rng);
  const signer = signerOf('secp256k1', keys[0]!);
  assert.equal(signer.oneTimeSecret(), undefined, 'no secret before round 1');
  const payload = signer.start().outgoing[0]!.payload;
  const id = `${String(payload['hiding'])}${String(payload['binding'])}`;
  assert.match(id, /^[0-9a-f]{132}$/);
  assert.deepEqual(signer.oneTimeSecret(), { id, spentAtRound: 2 });
});
