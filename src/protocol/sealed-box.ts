/**
 * The sealed party-to-party channel every party role gets ({@link ShareSealer}): static-static
 * X25519 between sender and recipient, HKDF-SHA256 bound to the run and both ids,
 * ChaCha20-Poly1305 with a random nonce, in OpenSSL (src/core/openssl.ts; the same bytes as
 * `@noble/*`). The coordinator relays sealed messages but cannot read them. Pure: randomness
 * arrives as a parameter.
 */
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  chacha20Poly1305,
  hkdfSha256,
  x25519PublicKey,
  x25519SharedSecret,
} from '../core/openssl.ts';
import type { ShareSealer } from './engine.ts';

/** The X25519 public key of a 32-byte box secret. */
export function boxPublicKey(boxSecret: Uint8Array): Uint8Array {
  return x25519PublicKey(boxSecret);
}

function boxKey(
  ownSecret: Uint8Array,
  peerPublic: Uint8Array,
  context: string,
  from: string,
  to: string,
): Uint8Array {
  const shared = x25519SharedSecret(ownSecret, peerPublic);
  return hkdfSha256(shared, utf8ToBytes(context), utf8ToBytes(`quorate-box-v1|${from}|${to}`), 32);
}

/**
 * A {@link ShareSealer} for one protocol run (`context` names it: wallet and session), from
 * `self`'s box secret to the peers' box keys (hex). Sealing to, or opening from, a party with
 * no key throws; a box that fails authentication throws (the engine blames its sender).
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
      const sealed = chacha20Poly1305.seal(key, nonce, aad, plaintext);
      return bytesToHex(concatBytes(nonce, sealed));
    },
    open(from, sealedHex) {
      const raw = hexToBytes(sealedHex);
      const key = boxKey(args.boxSecret, peerKey(from), args.context, from, args.self);
      const aad = utf8ToBytes(`${args.context}|${from}|${args.self}`);
      return chacha20Poly1305.open(key, raw.slice(0, 12), aad, raw.slice(12));
    },
  };
}
