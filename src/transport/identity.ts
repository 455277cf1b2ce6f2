/**
 * Identity keys (Ed25519) sign every envelope; box keys (X25519) seal party-to-party messages
 * (DKG shares) to their recipient (src/protocol/sealed-box.ts). Envelope signatures are on the
 * hot path (several per session on every node), so they run in OpenSSL through `node:crypto`,
 * 20–30× faster than pure JavaScript here; Ed25519 is deterministic (RFC 8032), so the bytes
 * are the same either way and the simulator still replays exactly. Key generation and the box
 * stay on `@noble/*`.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as opensslSign,
  verify as opensslVerify,
  type KeyObject,
} from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { limits } from '../core/limits.ts';
import { boxPublicKey } from '../protocol/sealed-box.ts';

/** A node's long-lived key material (secret halves never logged or stored in plaintext). */
export interface IdentityKeys {
  signSecret: Uint8Array;
  signPublic: Uint8Array;
  boxSecret: Uint8Array;
  boxPublic: Uint8Array;
}

/** Generates identity and box keys from 64 random bytes supplied by the Env. */
export function generateIdentity(random64: Uint8Array): IdentityKeys {
  const signSecret = random64.slice(0, 32);
  const boxSecret = random64.slice(32, 64);
  return {
    signSecret,
    signPublic: ed25519.getPublicKey(signSecret),
    boxSecret,
    boxPublic: boxPublicKey(boxSecret),
  };
}

/** Rebuilds keys from the two stored secrets. */
export function identityFromSecrets(signSecret: Uint8Array, boxSecret: Uint8Array): IdentityKeys {
  return {
    signSecret,
    signPublic: ed25519.getPublicKey(signSecret),
    boxSecret,
    boxPublic: boxPublicKey(boxSecret),
  };
}

// DER headers of an Ed25519 key (RFC 8410): PKCS#8 around the 32-byte seed, SPKI around the
// 32-byte public key.
const pkcs8Ed25519Prefix = hexToBytes('302e020100300506032b657004220420');
const spkiEd25519Prefix = hexToBytes('302a300506032b6570032100');

/** OpenSSL key objects for our own secrets (the array of an IdentityKeys is kept for life). */
const privateKeys = new WeakMap<Uint8Array, KeyObject>();
/** Peer public keys by hex: a handful per deployment, bounded all the same. */
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

/** Ed25519 signature over `domain ‖ message`. */
export function signDetached(domain: string, message: Uint8Array, secret: Uint8Array): Uint8Array {
  const data = concatBytes(utf8ToBytes(domain), message);
  return new Uint8Array(opensslSign(null, data, privateKeyOf(secret)));
}

/** Verifies a signature from {@link signDetached}; false on any malformed input. */
export function verifyDetached(
  domain: string,
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  try {
    if (signature.length !== 64) return false;
    const data = concatBytes(utf8ToBytes(domain), message);
    return opensslVerify(null, data, publicKeyOf(publicKey), signature);
  } catch {
    return false;
  }
}
