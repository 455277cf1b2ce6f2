/**
 * The one seeded PRNG: the simulator, the chaos harness's plans and the policy lab's Monte Carlo
 * all draw from it, so a seed replays a run exactly. Bytes are the ChaCha20 keystream (RFC 8439,
 * zero nonce, counter from 0) keyed by sha256(seed, label): each label is its own stream (one per node,
 * one for the schedule, one for the workload), and a simulated node's nonces and keys are as
 * unpredictable to the protocol as real ones. Not a source of secrets for production: those come
 * from the Env.
 *
 * The stream is the one the simulator has always drawn from (formerly src/sim/seeded-bytes.ts),
 * bit for bit, so every simulator seed, the regression seeds included, replays the same run:
 * numbers are read as big-endian 32-bit words in stream order, and the key string keeps its
 * `quorate-sim-v1` tag.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { chacha20 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { assert } from './assert.ts';
import { simLimits } from './limits.ts';

/** Keystream bytes generated per refill: 256 ChaCha20 blocks. */
const chunkBytes = 16_384;
const blockBytes = 64;
/** ChaCha20's 32-bit block counter: the stream ends (asserted) before it would wrap. */
const refillsMax = 2 ** 32 / (chunkBytes / blockBytes);
/** What is encrypted to get the keystream: zeros (never written). */
const zeroChunk = new Uint8Array(chunkBytes);
const twoPow32 = 4294967296;

/** A deterministic stream of bytes and uniform draws. */
export interface SeededRandom {
  /** The next `length` bytes of the stream. */
  bytes(length: number): Uint8Array;
  /** The next 32-bit unsigned integer (big-endian word of the stream). */
  uint32(): number;
  /** Uniform in [0, 1) with 32 bits of resolution. */
  unit(): number;
  /** Uniform in the open interval (0, 1): never 0, so `Math.log(openUnit())` is finite. */
  openUnit(): number;
  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T;
  /** A uniformly shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** `length` bytes of the stream as lowercase hex. */
  hex(length: number): string;
}

/** The raw stream: words and bytes read in order from the ChaCha20 keystream. */
interface Keystream {
  readonly uint32: () => number;
  readonly bytes: (length: number) => Uint8Array;
}

/**
 * Which implementation computes the keystream; both give the same bytes. OpenSSL (node:crypto)
 * computes ChaCha20 about ten times faster than JavaScript, which the Monte Carlo notices;
 * `@noble/ciphers` serves where a build of Node lacks the cipher (FIPS mode).
 */
export type KeystreamEngine = 'openssl' | 'noble';

/** OpenSSL's ChaCha20 for `key`, or undefined if this Node has none. */
function openSslChaCha(key: Uint8Array): Cipher | undefined {
  try {
    // OpenSSL's IV: the 32-bit little-endian block counter (0), then the 96-bit nonce (0).
    return createCipheriv('chacha20', key, new Uint8Array(16));
  } catch {
    return undefined;
  }
}

/** Writes keystream chunk after chunk into `buffer`; chunks are asked for in order. */
function chunkWriter(
  key: Uint8Array,
  buffer: Uint8Array,
  engine: KeystreamEngine,
): (chunk: number) => void {
  const cipher = engine === 'openssl' ? openSslChaCha(key) : undefined;
  if (cipher !== undefined) return () => buffer.set(cipher.update(zeroChunk));
  const nonce = new Uint8Array(12);
  return (chunk) => {
    chacha20(key, nonce, zeroChunk, buffer, chunk * (chunkBytes / blockBytes));
  };
}

/**
 * The hot path: a word comes straight out of one reused keystream buffer, with no allocation;
 * the buffer is refilled in place every 4 096 words.
 */
function keystream(seed: number, label: string, engine: KeystreamEngine): Keystream {
  assert(Number.isSafeInteger(seed) && seed >= 0, 'seed is a non-negative safe integer');
  const key = sha256(utf8ToBytes(`quorate-sim-v1|${seed}|${label}`));
  const buffer = new Uint8Array(chunkBytes);
  const writeChunk = chunkWriter(key, buffer, engine);
  // `offset` stays a small integer (V8 keeps it unboxed); chunkBytes means "empty, refill".
  let offset = chunkBytes;
  let chunk = 0;
  const refill = (): void => {
    assert(chunk < refillsMax, 'the keystream ends before its block counter wraps');
    writeChunk(chunk);
    chunk += 1;
    offset = 0;
  };
  const byte = (): number => {
    if (offset >= chunkBytes) refill();
    const value = buffer[offset] as number;
    offset += 1;
    return value;
  };
  return {
    uint32: () => {
      const o = offset;
      // A word that straddles a refill (after an odd-length `bytes()`) goes byte by byte.
      if (o + 4 > chunkBytes)
        return ((byte() << 24) | (byte() << 16) | (byte() << 8) | byte()) >>> 0;
      offset = o + 4;
      return (
        (((buffer[o] as number) << 24) |
          ((buffer[o + 1] as number) << 16) |
          ((buffer[o + 2] as number) << 8) |
          (buffer[o + 3] as number)) >>>
        0
      );
    },
    bytes: (length) => {
      assert(
        Number.isSafeInteger(length) && length >= 0 && length <= simLimits.seededBytesMax,
        'byte count',
      );
      const out = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        if (offset >= chunkBytes) refill();
        const take = Math.min(length - filled, chunkBytes - offset);
        out.set(buffer.subarray(offset, offset + take), filled);
        offset += take;
        filled += take;
      }
      return out;
    },
  };
}

/** Creates the stream for `(seed, label)`; equal inputs give equal streams, on either engine. */
export function seededRandom(
  seed: number,
  label: string,
  engine: KeystreamEngine = 'openssl',
): SeededRandom {
  const { uint32, bytes } = keystream(seed, label, engine);
  const unit = (): number => uint32() / twoPow32;
  return {
    bytes,
    uint32,
    unit,
    openUnit: () => (uint32() + 0.5) / twoPow32,
    int: (min, max) => {
      assert(Number.isSafeInteger(min) && Number.isSafeInteger(max) && min <= max, 'int range');
      return min + Math.floor(unit() * (max - min + 1));
    },
    chance: (p) => unit() < p,
    pick: (items) => {
      assert(items.length > 0, 'pick from a non-empty list');
      return items[Math.floor(unit() * items.length)] as (typeof items)[number];
    },
    shuffle: (items) => {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(unit() * (i + 1));
        [out[i], out[j]] = [out[j] as (typeof out)[number], out[i] as (typeof out)[number]];
      }
      return out;
    },
    hex: (length) => bytesToHex(bytes(length)),
  };
}
