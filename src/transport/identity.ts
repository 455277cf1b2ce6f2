/**
 * Identity keys (Ed25519) sign every envelope; box keys (X25519) seal party-to-party messages
 * (DKG shares) to their recipient (src/protocol/sealed-box.ts). Envelope signatures are on the
 * hot path (several per session on every node), so they run in OpenSSL (src/core/openssl.ts).
 * Key generation stays on `@noble/*`.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ed25519Sign, ed25519Verify } from '../core/openssl.ts';
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

/** Ed25519 signature over `domain ‖ message`. */
export function signDetached(domain: string, message: Uint8Array, secret: Uint8Array): Uint8Array {
  return ed25519Sign(concatBytes(utf8ToBytes(domain), message), secret);
}

/** Verifies a signature from {@link signDetached}; false on any malformed input. */
export function verifyDetached(
  domain: string,
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  return ed25519Verify(signature, concatBytes(utf8ToBytes(domain), message), publicKey);
}
