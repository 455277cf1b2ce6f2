/**
 * The t×n heatmap: for each n and t, the best exact availability over every placement of n shares
 * from the pool. It answers "what is the most a t-of-n can give with these shares".
 */
import type { Placement } from './placement-search.ts';
import { ninesOf } from './nines.ts';

/** One heatmap cell. */
export interface HeatmapCell {
  readonly n: number;
  readonly t: number;
  readonly nines: number;
  readonly unavailability: number;
  /** The placement that achieves it. */
  readonly shares: readonly string[];
}

/** The heatmap over a pool. */
export interface Heatmap {
  readonly pool: readonly string[];
  readonly nMax: number;
  readonly cells: readonly HeatmapCell[];
}

/** Best cell per (t, n) among `placements`. */
export function buildHeatmap(pool: readonly string[], placements: readonly Placement[]): Heatmap {
  const best = new Map<string, HeatmapCell>();
  for (const placement of placements) {
    const n = placement.shares.length;
    for (let t = 1; t <= n; t++) {
      const unavailability = placement.unavailabilityByThreshold[t] as number;
      const key = `${n}/${t}`;
      const current = best.get(key);
      if (current !== undefined && current.unavailability <= unavailability) continue;
      best.set(key, {
        n,
        t,
        nines: ninesOf(unavailability),
        unavailability,
        shares: placement.shares.map((s) => s.id),
      });
    }
  }
  const cells = [...best.values()].sort((a, b) => a.n - b.n || a.t - b.t);
  return { pool, nMax: cells.reduce((m, c) => Math.max(m, c.n), 0), cells };
}
