/** A small seeded PRNG (mulberry32) for schedules and workloads: one seed, one plan. */

/** Draws from one seeded stream. */
export interface SeededRandom {
  /** Uniform in [0, 1). */
  unit(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
  shuffle<T>(items: readonly T[]): T[];
  hex(bytes: number): string;
}

/** A stream for `seed` and a label, so the schedule and the workload draw independently. */
export function seededRandom(seed: number, label: string): SeededRandom {
  let state = seed >>> 0;
  for (let i = 0; i < label.length; i++) state = Math.imul(state ^ label.charCodeAt(i), 0x9e3779b1);
  const unit = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(unit() * (max - min + 1));
  return {
    unit,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(0, items.length - 1)] as T;
    },
    chance: (p) => unit() < p,
    shuffle: <T>(items: readonly T[]): T[] => {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(0, i);
        [out[i], out[j]] = [out[j] as T, out[i] as T];
      }
      return out;
    },
    hex: (bytes) => {
      let s = '';
      for (let i = 0; i < bytes; i++) s += int(0, 255).toString(16).padStart(2, '0');
      return s;
    },
  };
}
