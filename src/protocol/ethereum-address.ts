/**
 * Ethereum addresses (EIP-55): the last 20 bytes of keccak-256 over the uncompressed public
 * key (without its 0x04 prefix), hex, with the checksum casing of EIP-55.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** EIP-55 checksum casing of a 40-digit lower-case hex address. */
export function checksumAddress(lowerHex40: string): string {
  const hash = bytesToHex(keccak_256(utf8ToBytes(lowerHex40)));
  let out = '0x';
  for (let i = 0; i < lowerHex40.length; i++) {
    const c = lowerHex40[i] as string;
    out += parseInt(hash[i] as string, 16) >= 8 ? c.toUpperCase() : c;
  }
  return out;
}

/** The EIP-55 address of a secp256k1 public key (compressed or uncompressed bytes). */
export function ethereumAddress(publicKey: Uint8Array): string {
  const uncompressed = secp256k1.Point.fromBytes(publicKey).toBytes(false);
  const digest = keccak_256(uncompressed.subarray(1));
  return checksumAddress(bytesToHex(digest.subarray(12)));
}
