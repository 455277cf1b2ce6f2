/**
 * Ed25519 (RFC 8032) signing and verification in OpenSSL through `node:crypto`: 20–30× faster
 * than pure JavaScript here, and these run on every hot path (envelopes, the ed25519 signature
 * check). Ed25519 is deterministic, so the bytes are the same as `@noble/curves` would produce
 * and the simulator still replays exactly. OpenSSL verifies strictly (canonical encodings
 * only), which never refuses a signature an honest signer made. Key generation stays on noble.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as opensslSign,
  verify as opensslVerify,
  type KeyObject,
} from 'node:crypto';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { limits } from './limits.ts';

// DER headers of an Ed25519 key (RFC 8410): PKCS#8 around the 32-byte seed, SPKI around the
// 32-byte public key.
const pkcs8Ed25519Prefix = hexToBytes('302e020100300506032b657004220420');
const spkiEd25519Prefix = hexToBytes('302a300506032b6570032100');

/** OpenSSL key objects for our own secrets (the array of an identity is kept for life). */
const privateKeys = new WeakMap<Uint8Array, KeyObject>();
/** Public keys by hex: peers and wallets, bounded (cleared when full). */
const publicKeys = new Map<string, KeyObject>();

function privateKeyOf(secret: Uint8Array): KeyObject {
  let key = privateKeys.get(secret);
  if (key === undefined) {
    if (secret.length !== 32) throw new Error('an Ed25519 secret is 32 bytes');
    const der = Buffer.from(concatBytes(pkcs8Ed25519Prefix, secret));
    key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    privateKeys.set(secret, key);
  }
  return key;
}

function publicKeyOf(publicKey: Uint8Array): KeyObject {
  const hex = bytesToHex(publicKey);
  let key = publicKeys.get(hex);
  if (key === undefined) {
    if (publicKey.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
    const der = Buffer.from(concatBytes(spkiEd25519Prefix, publicKey));
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    if (publicKeys.size >= limits.identityKeysCachedMax) publicKeys.clear();
    publicKeys.set(hex, key);
  }
  return key;
}

/** The 64-byte Ed25519 signature of `message` under the 32-byte `secret` (seed). */
export function ed25519Sign(message: Uint8Array, secret: Uint8Array): Uint8Array {
  return new Uint8Array(opensslSign(null, message, privateKeyOf(secret)));
}

/** True iff `signature` is a valid Ed25519 signature of `message`; false on malformed input. */
export function ed25519Verify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  try {
    if (signature.length !== 64) return false;
    return opensslVerify(null, message, publicKeyOf(publicKey), signature);
  } catch {
    return false;
  }
}
