import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

interface Vector {
  message: string;
  verifyingKey: string;
  coefficient: string;
  shares: Record<string, string>;
  signers: number[];
  round1: Record<
    string,
    {
      hidingRandomness: string;
      bindingRandomness: string;
      hidingCommitment: string;
      bindingCommitment: string;
    }
  >;
  sigShares: Record<string, string>;
  signature: string;
}

const v = JSON.parse(
  readFileSync(new URL('../vectors/rfc9591-ed25519.json', import.meta.url), 'utf8'),
) as Vector;
const F = ed25519_FROST;
const Fn = F.utils.Fn;
const pointOf = (scalarHex: string) =>
  ed25519.Point.BASE.multiply(Fn.fromBytes(hexToBytes(scalarHex))).toBytes();

test('RFC 9591 E.1 FROST(Ed25519, SHA-512): commitments, shares and signature replay exactly', () => {
  const id = (n: number) => F.Identifier.fromNumber(n);
  const pub = {
    signers: { min: 2, max: 3 },
    commitments: [hexToBytes(v.verifyingKey), pointOf(v.coefficient)],
    verifyingShares: Object.fromEntries(
      Object.entries(v.shares).map(([n, s]) => [id(Number(n)), pointOf(s)]),
    ),
  };
  const msg = hexToBytes(v.message);
  const rounds = v.signers.map((n) => {
    const r = v.round1[String(n)]!;
    const queue = [hexToBytes(r.hidingRandomness), hexToBytes(r.bindingRandomness)];
    const secret = { identifier: id(n), signingShare: hexToBytes(v.shares[String(n)]!) };
    const gen = F.commit(secret, () => queue.shift()!);
    assert.equal(bytesToHex(gen.commitments.hiding), r.hidingCommitment);
    assert.equal(bytesToHex(gen.commitments.binding), r.bindingCommitment);
    return { n, secret, gen };
  });
  const list = rounds.map((r) => r.gen.commitments);
  const shares: Record<string, Uint8Array> = {};
  for (const r of rounds) {
    const share = F.signShare(r.secret, pub, r.gen.nonces, list, msg);
    assert.equal(bytesToHex(share), v.sigShares[String(r.n)]);
    shares[id(r.n)] = share;
  }
  const sig = F.aggregate(pub, list, msg, shares);
  assert.equal(bytesToHex(sig), v.signature);
  assert.ok(ed25519.verify(sig, msg, hexToBytes(v.verifyingKey)));
});
