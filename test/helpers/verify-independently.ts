/**
 * Signature verification by a code path other than the engine's own: OpenSSL for Ed25519,
 * noble's plain BIP340 verifier, noble's secp256k1 FROST verify (hex inputs).
 */
import { createPublicKey, verify as osslVerify } from 'node:crypto';
import { schnorr, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@noble/hashes/utils.js';

/** True if `sigHex` over `msgHex` verifies under `pkHex` for `scheme`, independently. */
export function verifyIndependently(
  scheme: string,
  sigHex: string,
  msgHex: string,
  pkHex: string,
): boolean {
  const sig = hexToBytes(sigHex);
  const msg = hexToBytes(msgHex);
  const pk = hexToBytes(pkHex);
  if (scheme === 'ed25519') {
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pk)]);
    return osslVerify(null, msg, createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig);
  }
  if (scheme === 'bip340') return schnorr.verify(sig, msg, pk);
  return secp256k1_FROST.verify(sig, msg, pk);
}
