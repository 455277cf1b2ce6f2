/**
 * The standard primitives Quorate uses outside FROST, in OpenSSL through `node:crypto`:
 * Ed25519 (every envelope), SHA-256, HMAC-SHA256, HKDF-SHA256, X25519, ChaCha20-Poly1305,
 * AES-256-GCM, scrypt, and the decoding of compressed secp256k1 points (the ECDSA engine's input
 * checks, thousands of points per key generation). They are well-kept and several times faster than pure JavaScript here
 * (issue 13); the bytes are the same as `@noble/*` gives for the same inputs
 * (test/unit/openssl-primitives.test.ts checks each against noble), so data sealed before reads
 * the same. FROST stays on `@noble/curves`.
 * Deterministic only: randomness (nonces, keys) comes from the caller's Env.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  ECDH,
  hkdfSync,
  scryptSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { limits } from './limits.ts';

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** HMAC-SHA256 of `data` under `key`. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(data).digest());
}

/** HKDF-SHA256 (RFC 5869): `length` bytes from `ikm` with `salt` and `info`. */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}

/**
 * OpenSSL key objects for raw 32-byte keys of one algorithm, wrapped in their DER headers (RFC
 * 8410: PKCS#8 around a secret, SPKI around a public key). Parsing one costs more than the
 * operation (OpenSSL 3's decoders), so our own secrets are kept by their array (a secret lives
 * as long as its identity) and peers' public keys by hex, bounded (cleared when full).
 */
function rawKeyObjects(name: string, pkcs8PrefixHex: string, spkiPrefixHex: string) {
  const pkcs8Prefix = hexToBytes(pkcs8PrefixHex);
  const spkiPrefix = hexToBytes(spkiPrefixHex);
  const secrets = new WeakMap<Uint8Array, KeyObject>();
  const publics = new Map<string, KeyObject>();
  return {
    secret(secret: Uint8Array): KeyObject {
      let key = secrets.get(secret);
      if (key === undefined) {
        if (secret.length !== 32) throw new Error(`an ${name} secret is 32 bytes`);
        const der = Buffer.from(concatBytes(pkcs8Prefix, secret));
        key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
        secrets.set(secret, key);
      }
      return key;
    },
    public(publicKey: Uint8Array): KeyObject {
      const hex = bytesToHex(publicKey);
      let key = publics.get(hex);
      if (key === undefined) {
        if (publicKey.length !== 32) throw new Error(`an ${name} public key is 32 bytes`);
        const der = Buffer.from(concatBytes(spkiPrefix, publicKey));
        key = createPublicKey({ key: der, format: 'der', type: 'spki' });
        if (publics.size >= limits.identityKeysCachedMax) publics.clear();
        publics.set(hex, key);
      }
      return key;
    },
  };
}

const ed25519Keys = rawKeyObjects(
  'Ed25519',
  '302e020100300506032b657004220420',
  '302a300506032b6570032100',
);
const x25519Keys = rawKeyObjects(
  'X25519',
  '302e020100300506032b656e04220420',
  '302a300506032b656e032100',
);

/**
 * The 64-byte Ed25519 (RFC 8032) signature of `message` under the 32-byte `secret` (seed).
 * Deterministic, so the bytes are the same as `@noble/curves` gives and the simulator replays.
 */
export function ed25519Sign(message: Uint8Array, secret: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, ed25519Keys.secret(secret)));
}

/**
 * True iff `signature` is a valid Ed25519 signature of `message`; false on malformed input.
 * OpenSSL verifies strictly (canonical encodings only), which never refuses an honest signer.
 */
export function ed25519Verify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  try {
    if (signature.length !== 64) return false;
    return verify(null, message, ed25519Keys.public(publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * True if `bytes` is a compressed SEC1 point of secp256k1 (33 bytes, prefix 02 or 03, x below
 * the field prime and on the curve), by OpenSSL's point decoding: about 3× faster than noble's
 * here, which kept a party's event loop busy for about half a second per ecdsa key generation.
 */
export function isSecp256k1CompressedPoint(bytes: Uint8Array): boolean {
  if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) return false;
  try {
    ECDH.convertKey(bytes, 'secp256k1', undefined, undefined, 'uncompressed');
    return true;
  } catch {
    return false;
  }
}

/** The X25519 public key of a 32-byte secret (RFC 7748, clamped as the RFC says). */
export function x25519PublicKey(secret: Uint8Array): Uint8Array {
  const der = createPublicKey(x25519Keys.secret(secret)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** The X25519 shared secret of our secret and a peer's 32-byte public key. */
export function x25519SharedSecret(secret: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  return new Uint8Array(
    diffieHellman({
      privateKey: x25519Keys.secret(secret),
      publicKey: x25519Keys.public(peerPublic),
    }),
  );
}

type Aead = 'chacha20-poly1305' | 'aes-256-gcm';
const tagBytes = 16;

function aeadSeal(
  cipher: Aead,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const options = { authTagLength: tagBytes };
  const c =
    cipher === 'aes-256-gcm'
      ? createCipheriv(cipher, key, nonce, options)
      : createCipheriv(cipher, key, nonce, options);
  c.setAAD(aad, { plaintextLength: plaintext.length });
  return concatBytes(c.update(plaintext), c.final(), c.getAuthTag());
}

function aeadOpen(
  cipher: Aead,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  if (sealed.length < tagBytes) throw new Error('sealed data shorter than its tag');
  const body = sealed.subarray(0, sealed.length - tagBytes);
  const options = { authTagLength: tagBytes };
  const d =
    cipher === 'aes-256-gcm'
      ? createDecipheriv(cipher, key, nonce, options)
      : createDecipheriv(cipher, key, nonce, options);
  d.setAuthTag(sealed.subarray(sealed.length - tagBytes));
  d.setAAD(aad, { plaintextLength: body.length });
  // final() throws if the tag does not verify: nothing is returned unauthenticated.
  return concatBytes(d.update(body), d.final());
}

/** ChaCha20-Poly1305 (RFC 8439): ciphertext ‖ 16-byte tag. */
export const chacha20Poly1305 = {
  seal: (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) =>
    aeadSeal('chacha20-poly1305', key, nonce, aad, plaintext),
  open: (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array) =>
    aeadOpen('chacha20-poly1305', key, nonce, aad, sealed),
};

/** AES-256-GCM with a 12-byte nonce: ciphertext ‖ 16-byte tag. */
export const aes256Gcm = {
  seal: (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) =>
    aeadSeal('aes-256-gcm', key, nonce, aad, plaintext),
  open: (key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array) =>
    aeadOpen('aes-256-gcm', key, nonce, aad, sealed),
};

/** scrypt (RFC 7914): `dkLen` bytes; the memory bound follows from N and r. */
export function scrypt(
  password: Uint8Array,
  salt: Uint8Array,
  params: { N: number; r: number; p: number; dkLen: number },
): Uint8Array {
  const { N, r, p, dkLen } = params;
  // OpenSSL refuses more than maxmem: 128·N·r bytes plus room for its own tables.
  const maxmem = 128 * N * r * 2 + 64 * 1024 * 1024;
  return new Uint8Array(scryptSync(password, salt, dkLen, { N, r, p, maxmem }));
}
