/**
 * Issue 13: the standard primitives run in OpenSSL (src/core/openssl.ts). Each gives the same
 * bytes as `@noble/*` for the same inputs, so shares, keystores and boxes sealed before read the
 * same, and each refuses what noble refuses (a wrong tag, a wrong key, a short box).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { scrypt as nobleScrypt } from '@noble/hashes/scrypt.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import {
  aes256Gcm,
  chacha20Poly1305,
  hkdfSha256,
  hmacSha256,
  isSecp256k1CompressedPoint,
  scrypt,
  sha256,
  x25519PublicKey,
  x25519SharedSecret,
} from '../../src/core/openssl.ts';

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const key32 = bytes(32, 32);
const nonce12 = bytes(12, 12);

test('SHA-256, HMAC-SHA256 and HKDF-SHA256 equal noble', () => {
  fc.assert(
    fc.property(bytes(0, 300), key32, bytes(0, 40), bytes(1, 64), (data, key, info, len) => {
      assert.deepEqual(sha256(data), nobleSha256(data));
      assert.deepEqual(hmacSha256(key, data), hmac(nobleSha256, key, data));
      const n = len.length;
      assert.deepEqual(hkdfSha256(data, key, info, n), hkdf(nobleSha256, data, key, info, n));
    }),
    { numRuns: 200 },
  );
});

test('X25519 public keys and shared secrets equal noble', () => {
  fc.assert(
    fc.property(key32, key32, (a, b) => {
      const pa = x25519PublicKey(a);
      assert.deepEqual(pa, x25519.getPublicKey(a));
      assert.deepEqual(x25519SharedSecret(b, pa), x25519.getSharedSecret(b, pa));
      assert.deepEqual(x25519SharedSecret(b, pa), x25519SharedSecret(a, x25519PublicKey(b)));
    }),
    { numRuns: 100 },
  );
});

test('ChaCha20-Poly1305 and AES-256-GCM seal like noble, open what noble sealed, refuse tampering', () => {
  fc.assert(
    fc.property(key32, nonce12, bytes(0, 40), bytes(0, 300), (key, nonce, aad, plain) => {
      // A noble cipher instance encrypts once (it refuses a second use of its nonce).
      const pairs = [
        [chacha20Poly1305, chacha20poly1305(key, nonce, aad).encrypt(plain)],
        [aes256Gcm, gcm(key, nonce, aad).encrypt(plain)],
      ] as const;
      for (const [ours, nobleSealed] of pairs) {
        const sealed = ours.seal(key, nonce, aad, plain);
        assert.deepEqual(sealed, nobleSealed);
        assert.deepEqual(ours.open(key, nonce, aad, nobleSealed), plain);
        const tampered = Uint8Array.from(sealed);
        tampered[0] = (tampered[0] ?? 0) ^ 1;
        assert.throws(() => ours.open(key, nonce, aad, tampered));
        assert.throws(() => ours.open(key, nonce, new Uint8Array([...aad, 1]), sealed));
        assert.throws(() => ours.open(key, nonce, aad, sealed.subarray(0, 15)));
      }
    }),
    { numRuns: 100 },
  );
});

test('scrypt equals noble (the keystore parameters at a small cost)', () => {
  const password = new Uint8Array(randomBytes(20));
  const salt = new Uint8Array(randomBytes(16));
  const params = { N: 2 ** 10, r: 8, p: 1, dkLen: 32 };
  assert.deepEqual(scrypt(password, salt, params), nobleScrypt(password, salt, params));
});

test('secp256k1 compressed points: OpenSSL decides as noble does', () => {
  const nobleSays = (b: Uint8Array) => {
    try {
      secp256k1.Point.fromBytes(b);
      return true;
    } catch {
      return false;
    }
  };
  const p = secp256k1.Point.CURVE().p;
  const fieldHex = (v: bigint) => hexToBytes(v.toString(16).padStart(64, '0'));
  const cases: Uint8Array[] = [];
  for (let i = 0; i < 2_000; i++) {
    const b = new Uint8Array(randomBytes(33));
    b[0] = 2 + (i % 2);
    cases.push(b);
  }
  // x at and around the field prime, every prefix, the generator, and the point at infinity.
  for (const x of [0n, 1n, 7n, p - 1n, p, p + 1n, 2n ** 256n - 1n])
    for (const prefix of [0, 2, 3, 4, 5]) cases.push(Uint8Array.from([prefix, ...fieldHex(x)]));
  cases.push(secp256k1.Point.BASE.toBytes(true), new Uint8Array(33), Uint8Array.from([0]));
  let valid = 0;
  for (const c of cases) {
    assert.equal(isSecp256k1CompressedPoint(c), c.length === 33 && nobleSays(c), bytesToHex(c));
    if (isSecp256k1CompressedPoint(c)) valid += 1;
  }
  assert.ok(valid > 500 && valid < cases.length - 500, `both answers occur (${valid} valid)`);
});
