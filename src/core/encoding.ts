/** Byte/hex/JSON helpers shared across the codebase. */
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { sha256 } from './openssl.ts';

export { bytesToHex, utf8ToBytes };

const hexPattern = /^(?:[0-9a-fA-F]{2})*$/;

/** Strict hex check: even length, hex digits only. */
export function isHex(value: string): boolean {
  return hexPattern.test(value);
}

/** True for a string of exactly `chars` lower-case hex digits (keys, digests, signatures). */
export function isHexOf(x: unknown, chars: number): x is string {
  return typeof x === 'string' && x.length === chars && /^[0-9a-f]*$/.test(x);
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
