/**
 * Seeded randomness for the simulator. Bytes come from the ChaCha20 keystream (`@noble/ciphers`)
 * keyed by sha256(seed, label), so each node gets its own reproducible CSPRNG-like stream:
 * nonces and keys in a simulated run are as unpredictable to the protocol as real ones, yet a
 * seed replays them exactly. Scheduling decisions (which fault, when) use a separate stream.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { assert } from '../core/assert.ts';

const chunkBytes = 4096;
const blockBytes = 64;

/** A deterministic byte stream plus helpers for uniform choices. */
export interface SeededStream {
  bytes(length: number): Uint8Array;
  /** Uniform in [0, 1) with 32 bits of resolution. */
  unit(): number;
  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T;
  /** A uniformly shuffled copy. */
  shuffle<T>(items: readonly T[]): T[];
}

/** Creates the stream for `(seed, label)`; equal inputs give equal streams. */
export function seededStream(seed: number, label: string): SeededStream {
  assert(Number.isSafeInteger(seed) && seed >= 0, 'seed is a non-negative safe integer');
  const key = sha256(utf8ToBytes(`quorate-sim-v1|${seed}|${label}`));
  const nonce = new Uint8Array(12);
  let buffer = new Uint8Array(0);
  let offset = 0;
  let chunk = 0;
  const refill = () => {
    buffer = chacha20(
      key,
      nonce,
      new Uint8Array(chunkBytes),
      undefined,
      chunk * (chunkBytes / blockBytes),
    );
    chunk += 1;
    offset = 0;
  };
  const bytes = (length: number): Uint8Array => {
    assert(Number.isSafeInteger(length) && length >= 0 && length <= 1 << 20, 'byte count bounded');
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (offset >= buffer.length) refill();
      const take = Math.min(length - filled, buffer.length - offset);
      out.set(buffer.subarray(offset, offset + take), filled);
      offset += take;
      filled += take;
    }
    return out;
  };
  const unit = (): number => {
    const b = bytes(4);
    const word = ((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0);
    return (word >>> 0) / 4294967296;
  };
  const stream: SeededStream = {
    bytes,
    unit: () => unit(),
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
  };
  return stream;
}
