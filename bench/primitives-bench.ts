/**
 * Primitives benchmark (issue 13): each standard primitive Quorate uses outside FROST, in
 * `@noble/*` (pure JavaScript) and in OpenSSL through `node:crypto` (src/core/openssl.ts),
 * side by side in one run on the same inputs. Wall-clock figures belong
 * here, never in tests.
 */
import { randomBytes } from 'node:crypto';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { scrypt as nobleScrypt } from '@noble/hashes/scrypt.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import {
  aes256Gcm,
  chacha20Poly1305,
  ed25519Sign,
  ed25519Verify,
  hkdfSha256,
  hmacSha256,
  scrypt,
  sha256,
  x25519PublicKey,
  x25519SharedSecret,
} from '../src/core/openssl.ts';
import { scryptParams } from '../src/store/keystore.ts';
import { percentile, round2 } from './stats.ts';

const runs = Number(process.env['QUORATE_BENCH_PRIMITIVE_RUNS'] ?? 400);
const rand = (n: number) => new Uint8Array(randomBytes(n));

/** Median microseconds of `fn` over `n` runs (after a warm-up). */
function timeUs(fn: () => unknown, n: number): number {
  for (let i = 0; i < Math.min(20, n); i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) * 1000);
  }
  return round2(percentile(samples, 50));
}

/** Runs the primitives benchmark and returns its results. */
export async function runPrimitivesBench(
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const key = rand(32);
  const peer = rand(32);
  const peerPublic = x25519.getPublicKey(peer);
  const nonce = rand(12);
  const aad = rand(40);
  const message = rand(512);
  const seed = rand(32);
  const edPublic = ed25519.getPublicKey(seed);
  const edSig = ed25519.sign(message, seed);
  const cases: Record<string, [() => unknown, () => unknown, number]> = {
    'ed25519 sign (512 B)': [
      () => ed25519.sign(message, seed),
      () => ed25519Sign(message, seed),
      runs,
    ],
    'ed25519 verify (512 B)': [
      () => ed25519.verify(edSig, message, edPublic),
      () => ed25519Verify(edSig, message, edPublic),
      runs,
    ],
    'x25519 public key': [() => x25519.getPublicKey(key), () => x25519PublicKey(key), runs],
    'x25519 shared secret': [
      () => x25519.getSharedSecret(key, peerPublic),
      () => x25519SharedSecret(key, peerPublic),
      runs,
    ],
    'chacha20-poly1305 seal (512 B)': [
      () => chacha20poly1305(key, nonce, aad).encrypt(message),
      () => chacha20Poly1305.seal(key, nonce, aad, message),
      runs,
    ],
    'aes-256-gcm seal (512 B)': [
      () => gcm(key, nonce, aad).encrypt(message),
      () => aes256Gcm.seal(key, nonce, aad, message),
      runs,
    ],
    'sha256 (512 B)': [() => nobleSha256(message), () => sha256(message), runs],
    'hmac-sha256 (512 B)': [
      () => hmac(nobleSha256, key, message),
      () => hmacSha256(key, message),
      runs,
    ],
    'hkdf-sha256 (32 B)': [
      () => hkdf(nobleSha256, key, aad, aad, 32),
      () => hkdfSha256(key, aad, aad, 32),
      runs,
    ],
    'scrypt (keystore cost N=2^15, r=8)': [
      () => nobleScrypt(key, nonce, scryptParams),
      () => scrypt(key, nonce, scryptParams),
      5,
    ],
  };
  const results: Record<string, unknown> = {};
  for (const [name, [noble, openssl, n]] of Object.entries(cases)) {
    const nobleUs = timeUs(noble, n);
    const opensslUs = timeUs(openssl, n);
    const speedup = round2(nobleUs / opensslUs);
    results[name] = { nobleUsP50: nobleUs, opensslUsP50: opensslUs, speedup };
    log(`  ${name}: noble ${nobleUs} µs | OpenSSL ${opensslUs} µs | ${speedup}×`);
  }
  return { config: { runs, note: 'median of single calls, same inputs, one process' }, results };
}
