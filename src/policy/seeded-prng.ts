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

/**
 * Creates a generator from a 32-bit seed; equal seeds give equal streams. The state lives in an
 * Int32Array rather than in closure variables: V8 keeps a closure's integers outside the 31-bit
 * small-integer range as heap numbers (V8 in Node 20), so every step would allocate a number;
 * typed-array slots hold raw 32-bit words.
 */
export function createSeededPrng(seed: number): SeededPrng {
  const mix = { value: seed | 0 };
  const state = new Int32Array(4);
  for (let i = 0; i < 4; i++) state[i] = splitmix32(mix);
  if (state.every((word) => word === 0)) state[0] = 1;
  const nextUint32 = (): number => {
    const s0 = state[0] as number;
    const s1 = state[1] as number;
    const s2 = (state[2] as number) ^ s0;
    const s3 = (state[3] as number) ^ s1;
    const product = Math.imul(s1, 5);
    const result = Math.imul((product << 7) | (product >>> 25), 9) >>> 0;
    state[0] = s0 ^ s3;
    state[1] = s1 ^ s2;
    state[2] = s2 ^ (s1 << 9);
    state[3] = (s3 << 11) | (s3 >>> 21);
    return result;
  };
  return {
    nextUint32,
    nextOpenUnit: () => (nextUint32() + 0.5) / 4294967296,
  };
}
