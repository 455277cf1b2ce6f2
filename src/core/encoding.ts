/** Byte/hex/JSON helpers shared across the codebase. */
import { bytesToHex, hexToBytes, utf8ToBytes, concatBytes } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { QuorateError } from './errors.ts';

export { bytesToHex, concatBytes, utf8ToBytes };

const hexPattern = /^(?:[0-9a-fA-F]{2})*$/;

/** Strict hex check: even length, hex digits only. */
export function isHex(value: string): boolean {
  return hexPattern.test(value);
}

/** Decodes hex, raising `QUORATE_E_BAD_HEX` (naming the field) on bad input. */
export function parseHex(value: string, field: string): Uint8Array {
  if (!isHex(value)) {
    throw new QuorateError('QUORATE_E_BAD_HEX', `${field} must be an even-length hex string`, {
      field,
    });
  }
  return hexToBytes(value);
}

/** Hex decoding for trusted internal data (asserts validity). */
export function fromHex(value: string): Uint8Array {
  return hexToBytes(value);
}

/** sha256 of bytes, as hex. */
export function sha256Hex(data: Uint8Array): string {
  return bytesToHex(sha256(data));
}

/**
 * Canonical JSON: object keys sorted, no whitespace. Used for everything that is signed or
 * hashed, so both sides serialise identically.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Constant-time byte comparison (for MACs and pinned keys). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
