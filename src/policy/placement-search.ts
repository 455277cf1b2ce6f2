/**
 * Enumerates placements: every subset of n shares from a candidate pool, for n in a range, each
 * evaluated exactly for every threshold at once. Shared by the recommender and the heatmap.
 */
import { compilePlacement, type PolicyIndex } from './compile-placement.ts';
import { exactUnavailabilities } from './exact-availability.ts';
import { binomial } from './custody-posture.ts';
import { policyInvalid } from './policy-field-reader.ts';
import { policyLimits } from '../core/limits.ts';
import type { ShareSpec } from './policy-schema.ts';

/** One evaluated placement. */
export interface Placement {
  readonly shares: readonly ShareSpec[];
  /** Element t (1..n) is the exact unavailability of t-of-n over these shares. */
  readonly unavailabilityByThreshold: Float64Array;
}

/** All k-subsets of 0..size-1 in lexicographic order (at most C(size, k) steps). */
function combinations(size: number, k: number): number[][] {
  const result: number[][] = [];
  if (k > size || k < 0) return result;
  const current = Array.from({ length: k }, (_, i) => i);
  const total = binomial(size, k);
  for (let produced = 0; produced < total; produced++) {
    result.push([...current]);
    let i = k - 1;
    while (i >= 0 && (current[i] as number) === size - k + i) i--;
    if (i < 0) break;
    current[i] = (current[i] as number) + 1;
    for (let j = i + 1; j < k; j++) current[j] = (current[j - 1] as number) + 1;
  }
  return result;
}

/**
 * Evaluates every placement of `sharesMin..sharesMax` shares from `pool`. Throws
 * `QUORATE_E_POLICY_INVALID` at `path` when the pool or the total work exceeds the limits.
 */
export function enumeratePlacements(
  index: PolicyIndex,
  pool: readonly string[],
  sharesMin: number,
  sharesMax: number,
  path: string,
): Placement[] {
  if (pool.length > policyLimits.candidatePoolMax) {
    throw policyInvalid(
      path,
      `candidate pool has ${pool.length} shares; at most ${policyLimits.candidatePoolMax}`,
    );
  }
  const placements: Placement[] = [];
  let groupStates = 0;
  const upper = Math.min(sharesMax, pool.length, policyLimits.placementSharesMax);
  for (let n = Math.max(1, sharesMin); n <= upper; n++) {
    for (const subset of combinations(pool.length, n)) {
      const ids = subset.map((i) => pool[i] as string);
      const model = compilePlacement(index, ids, path);
      groupStates += 2 ** model.groups.length;
      if (groupStates > policyLimits.placementGroupStatesMax) {
        throw policyInvalid(
          path,
          `search exceeds ${policyLimits.placementGroupStatesMax} group states; narrow the candidate pool or the n range`,
        );
      }
      placements.push({
        shares: model.shares,
        unavailabilityByThreshold: exactUnavailabilities(model),
      });
    }
  }
  return placements;
}
