/**
 * Identity keys (Ed25519) sign every envelope; box keys (X25519) encrypt DKG shares to their
 * recipient with ChaCha20-Poly1305. All primitives come from `@noble/*`.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { ShareSealer } from '../protocol/engine.ts';

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
    boxPublic: x25519.getPublicKey(boxSecret),
  };
}

/** Rebuilds keys from the two stored secrets. */
export function identityFromSecrets(signSecret: Uint8Array, boxSecret: Uint8Array): IdentityKeys {
  return {
    signSecret,
    signPublic: ed25519.getPublicKey(signSecret),
    boxSecret,
    boxPublic: x25519.getPublicKey(boxSecret),
  };
}

/** Ed25519 signature over `domain ‖ message`. */
export function signDetached(domain: string, message: Uint8Array, secret: Uint8Array): Uint8Array {
  return ed25519.sign(concatBytes(utf8ToBytes(domain), message), secret);
}

/** Verifies a signature from {@link signDetached}; false on any malformed input. */
export function verifyDetached(
  domain: string,
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  try {
    return ed25519.verify(signature, concatBytes(utf8ToBytes(domain), message), publicKey);
  } catch {
    return false;
  }
}

function boxKey(
  ownSecret: Uint8Array,
  peerPublic: Uint8Array,
  context: string,
  from: string,
  to: string,
): Uint8Array {
  const shared = x25519.getSharedSecret(ownSecret, peerPublic);
  return hkdf(
    sha256,
    shared,
    utf8ToBytes(context),
    utf8ToBytes(`quorate-box-v1|${from}|${to}`),
    32,
  );
}

/**
 * A {@link ShareSealer} for one DKG run: static-static X25519 between sender and recipient,
 * HKDF-SHA256 bound to the run and both ids, ChaCha20-Poly1305 with a random nonce.
 */
export function createSealer(args: {
  context: string;
  self: string;
  boxSecret: Uint8Array;
  peerBoxKeys: Record<string, string>;
  randomBytes: (n: number) => Uint8Array;
}): ShareSealer {
  const peerKey = (id: string): Uint8Array => {
    const hex = args.peerBoxKeys[id];
    if (hex === undefined) throw new Error(`no box key for ${id}`);
    return hexToBytes(hex);
  };
  return {
    seal(to, plaintext) {
      const key = boxKey(args.boxSecret, peerKey(to), args.context, args.self, to);
      const nonce = args.randomBytes(12);
      const aad = utf8ToBytes(`${args.context}|${args.self}|${to}`);
      const sealed = chacha20poly1305(key, nonce, aad).encrypt(plaintext);
      return bytesToHex(concatBytes(nonce, sealed));
    },
    open(from, sealedHex) {
      const raw = hexToBytes(sealedHex);
      const key = boxKey(args.boxSecret, peerKey(from), args.context, from, args.self);
      const aad = utf8ToBytes(`${args.context}|${from}|${args.self}`);
      return chacha20poly1305(key, raw.slice(0, 12), aad).decrypt(raw.slice(12));
    },
  };
}
