/**
 * Derived keys (non-hardened BIP32) of an `ecdsa` wallet: the coordinator's child public key
 * (`@scure/bip32`, public derivation from the wallet's chain code) equals the key the engine's
 * own `derive_child_keyshare` gives every party; child shares sign under the child key (checked
 * by OpenSSL and libsecp256k1); a mix of parent and child shares does not sign; malformed and
 * hardened paths are refused.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import {
  childPublic,
  deriveChildParty,
  DerivationPathError,
  parseDerivationPath,
} from '../../src/protocol/ecdsa-derivation.ts';
import { ecdsaEngine, ecdsaPartyEngine } from '../../src/protocol/ecdsa.ts';
import { partyOf } from '../../src/protocol/ecdsa-common.ts';
import { runSigningWith } from '../../src/protocol/local-run.ts';
import { dkls23Instance } from '../../src/party/dkls23-instance.ts';
import { seededRandom } from '../../src/core/seeded-random.ts';
import { ecdsaFixture, libsecp256k1Verifies, opensslVerifiesDigest } from '../helpers/ecdsa.ts';

describe('ecdsa derived keys', () => {
  test('paths: non-hardened, bounded, canonical', () => {
    assert.deepEqual(parseDerivationPath('m'), []);
    assert.deepEqual(parseDerivationPath('m/0/7'), [0, 7]);
    assert.deepEqual(parseDerivationPath('m/2147483647'), [2147483647]);
    for (const bad of [
      "m/0'",
      'm/0h',
      'm/2147483648',
      'x/0',
      'm//1',
      'm/-1',
      'm/1/2/3/4/5/6/7/8/9',
    ])
      assert.throws(() => parseDerivationPath(bad), DerivationPathError, bad);
  });

  test("the coordinator's child key is the engine's, at every fixture party", async () => {
    const random = seededRandom(31, 'derive');
    const api = dkls23Instance((n) => random.bytes(n));
    const fixture = ecdsaFixture(2, 3);
    const pkg = fixture.keys[0]!.publicPackage;
    for (const path of [[0], [0, 7], [5, 1, 2147483647]]) {
      const expected = childPublic(pkg['publicKey'] as string, pkg['chainCode'] as string, path);
      for (const key of fixture.keys) {
        const child = (await deriveChildParty(api, partyOf(key), path)) as { pk: string };
        assert.equal(child.pk.toLowerCase(), expected.publicKey, `${key.partyId} at ${path}`);
      }
    }
  });

  test('child shares sign under the child key; the parent key does not verify it', async () => {
    const random = seededRandom(32, 'derive-sign');
    const rng = (n: number) => random.bytes(n);
    const engine = ecdsaPartyEngine(dkls23Instance(rng));
    const fixture = ecdsaFixture(2, 3);
    const pkg = fixture.keys[0]!.publicPackage;
    const path = [0, 7];
    const child = childPublic(pkg['publicKey'] as string, pkg['chainCode'] as string, path);
    const digest = sha256(new TextEncoder().encode('deposit sweep'));
    const result = await runSigningWith(
      ecdsaEngine(),
      engine,
      fixture.keys,
      ['p2', 'p3'],
      digest,
      rng,
      {
        derivationPath: path,
        publicPackage: child,
      },
    );
    const sig = hexToBytes(result.signature);
    assert.ok(
      opensslVerifiesDigest(sig, digest, hexToBytes(child.publicKey)),
      'OpenSSL, child key',
    );
    assert.ok(libsecp256k1Verifies(sig, digest, hexToBytes(child.publicKey)), 'libsecp256k1');
    assert.equal(opensslVerifiesDigest(sig, digest, hexToBytes(pkg['publicKey'] as string)), false);
  });
});
