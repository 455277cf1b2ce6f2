/**
 * xoshiro128** (Blackman & Vigna), seeded through splitmix32. A fast statistical generator for
 * the Monte Carlo simulator, so a seed replays a run exactly. Not for cryptography.
 */

/** A seeded source of uniform numbers. */
export interface SeededPrng {
  /** Next 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform in the open interval (0, 1): never 0, so log(u) is finite. */
  nextOpenUnit(): number;
}

function splitmix32(state: { value: number }): number {
  state.value = (state.value + 0x9e3779b9) | 0;
  let z = state.value;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Creates a generator from a 32-bit seed; equal seeds give equal streams. */
export function createSeededPrng(seed: number): SeededPrng {
  const mix = { value: seed | 0 };
  let s0 = splitmix32(mix);
  let s1 = splitmix32(mix);
  let s2 = splitmix32(mix);
  let s3 = splitmix32(mix);
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  const nextUint32 = (): number => {
    const product = Math.imul(s1, 5);
    const result = Math.imul((product << 7) | (product >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };
  return {
    nextUint32,
    nextOpenUnit: () => (nextUint32() + 0.5) / 4294967296,
  };
}
