/**
 * Envelope signatures run in OpenSSL (node:crypto) for speed. They must be the exact RFC 8032
 * bytes noble produces (so the simulator replays seeds byte for byte), verify both ways, and
 * refuse anything tampered or malformed without throwing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { generateIdentity, signDetached, verifyDetached } from '../../src/transport/identity.ts';

const domain = 'quorate-envelope-v1';

test('property: OpenSSL signatures are byte-identical to noble and verify under both', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      fc.uint8Array({ maxLength: 300 }),
      (seed, message) => {
        const keys = generateIdentity(seed);
        const signature = signDetached(domain, message, keys.signSecret);
        const data = concatBytes(utf8ToBytes(domain), message);
        assert.deepEqual(signature, ed25519.sign(data, keys.signSecret));
        assert.equal(ed25519.verify(signature, data, keys.signPublic), true);
        assert.equal(verifyDetached(domain, message, signature, keys.signPublic), true);
      },
    ),
    { numRuns: 200 },
  );
});

test('property: a flipped bit in the signature, message, domain or key fails verification', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      fc.uint8Array({ minLength: 1, maxLength: 100 }),
      fc.nat(),
      (seed, message, at) => {
        const keys = generateIdentity(seed);
        const signature = signDetached(domain, message, keys.signSecret);
        const flip = (bytes: Uint8Array): Uint8Array => {
          const copy = bytes.slice();
          const i = at % copy.length;
          copy[i] = (copy[i] as number) ^ (1 << (at % 8));
          return copy;
        };
        assert.equal(verifyDetached(domain, message, flip(signature), keys.signPublic), false);
        assert.equal(verifyDetached(domain, flip(message), signature, keys.signPublic), false);
        assert.equal(verifyDetached(`${domain}x`, message, signature, keys.signPublic), false);
        // The signing secret is the seed's first 32 bytes (the rest is the box secret).
        const other = generateIdentity(concatBytes(flip(seed.slice(0, 32)), seed.slice(32)));
        assert.equal(verifyDetached(domain, message, signature, other.signPublic), false);
      },
    ),
    { numRuns: 200 },
  );
});

test('malformed signatures and keys are refused, never thrown', () => {
  const keys = generateIdentity(new Uint8Array(64).fill(7));
  const message = utf8ToBytes('hello');
  const signature = signDetached(domain, message, keys.signSecret);
  for (const bad of [
    new Uint8Array(0),
    signature.slice(0, 63),
    concatBytes(signature, new Uint8Array(1)),
  ])
    assert.equal(verifyDetached(domain, message, bad, keys.signPublic), false);
  for (const key of [new Uint8Array(0), new Uint8Array(31), new Uint8Array(33), new Uint8Array(32)])
    assert.equal(verifyDetached(domain, message, signature, key), false);
  assert.equal(verifyDetached(domain, message, signature, new Uint8Array(32).fill(0xff)), false);
});
