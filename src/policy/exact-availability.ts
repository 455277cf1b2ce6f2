/**
 * Exact availability of t-of-n over shares with common-cause groups. Groups are independent;
 * given the group states, shares are independent. So the unavailability is the sum over the 2^G
 * group states of P(state) × P(fewer than t of the shares whose groups are all up are up), the
 * latter by a Poisson-binomial DP. Nothing is sampled.
 */
import type { CompiledPlacement } from './compile-placement.ts';
import {
  countDistribution,
  lowerTails,
  maskMembers,
  pivotalProbabilities,
} from './poisson-binomial.ts';

/** Calls `visit` once per group state; `downMask` bit j = group j down. Depth ≤ G. */
function enumerateGroupStates(
  model: CompiledPlacement,
  visit: (downMask: number, aliveShares: number, probability: number) => void,
): void {
  const groupCount = model.groups.length;
  const killed = model.groups.map((_, j) => {
    let mask = 0;
    model.shareGroupMask.forEach((needs, i) => {
      if ((needs >>> j) & 1) mask |= 1 << i;
    });
    return mask;
  });
  const allShares = model.shares.length === 0 ? 0 : (2 ** model.shares.length - 1) | 0;
  const walk = (j: number, downMask: number, alive: number, probability: number): void => {
    if (probability === 0) return;
    if (j === groupCount) {
      visit(downMask, alive, probability);
      return;
    }
    const up = model.groupAvailability[j] as number;
    walk(j + 1, downMask, alive, probability * up);
    walk(j + 1, downMask | (1 << j), alive & ~(killed[j] as number), probability * (1 - up));
  };
  walk(0, 0, allShares, 1);
}

/**
 * Unavailability for every threshold at once: element t (1..n) is P(fewer than t shares up).
 * Element 0 is 0.
 */
export function exactUnavailabilities(model: CompiledPlacement): Float64Array {
  const n = model.shares.length;
  const result = new Float64Array(n + 1);
  const cache = new Map<number, Float64Array>();
  enumerateGroupStates(model, (_down, alive, probability) => {
    let below = cache.get(alive);
    if (below === undefined) {
      below = lowerTails(countDistribution(model.shareAvailability, maskMembers(alive, n)), n);
      cache.set(alive, below);
    }
    for (let t = 1; t <= n; t++)
      result[t] = (result[t] as number) + probability * (below[t] as number);
  });
  return result;
}

/** Importance measures at one threshold, all exact. */
export interface ExactImportance {
  readonly threshold: number;
  readonly unavailability: number;
  /** Birnbaum importance P(up | component up) − P(up | component down), per share. */
  readonly shareBirnbaum: Float64Array;
  readonly groupBirnbaum: Float64Array;
  /** Unavailability removed if the component never failed: U − U(component perfect). */
  readonly shareImprovement: Float64Array;
  readonly groupImprovement: Float64Array;
}

interface MaskStats {
  below: number;
  members: number[];
  pivotal: Float64Array;
}

/** Unavailability and per-component importance at `threshold`, in one pass over group states. */
export function exactImportance(model: CompiledPlacement, threshold: number): ExactImportance {
  const n = model.shares.length;
  const groupCount = model.groups.length;
  const cache = new Map<number, MaskStats>();
  const upAcc = new Float64Array(groupCount);
  const downAcc = new Float64Array(groupCount);
  const pivotalAcc = new Float64Array(n);
  let unavailability = 0;
  enumerateGroupStates(model, (down, alive, probability) => {
    let stats = cache.get(alive);
    if (stats === undefined) stats = maskStats(model, alive, threshold);
    cache.set(alive, stats);
    const lost = probability * stats.below;
    unavailability += lost;
    for (let j = 0; j < groupCount; j++) {
      if ((down >>> j) & 1) downAcc[j] = (downAcc[j] as number) + lost;
      else upAcc[j] = (upAcc[j] as number) + lost;
    }
    stats.members.forEach((i, k) => {
      pivotalAcc[i] = (pivotalAcc[i] as number) + probability * (stats.pivotal[k] as number);
    });
  });
  const groupBirnbaum = new Float64Array(groupCount);
  const groupImprovement = new Float64Array(groupCount);
  for (let j = 0; j < groupCount; j++) {
    const up = model.groupAvailability[j] as number;
    const uGivenUp = (upAcc[j] as number) / up;
    groupBirnbaum[j] = (downAcc[j] as number) / (1 - up) - uGivenUp;
    groupImprovement[j] = Math.max(0, unavailability - uGivenUp);
  }
  const shareImprovement = pivotalAcc.map(
    (b, i) => (1 - (model.shareAvailability[i] as number)) * b,
  );
  return {
    threshold,
    unavailability,
    shareBirnbaum: pivotalAcc,
    groupBirnbaum,
    shareImprovement,
    groupImprovement,
  };
}

function maskStats(model: CompiledPlacement, alive: number, threshold: number): MaskStats {
  const members = maskMembers(alive, model.shares.length);
  const dist = countDistribution(model.shareAvailability, members);
  const below = lowerTails(dist, model.shares.length)[threshold] as number;
  return {
    below,
    members,
    pivotal: pivotalProbabilities(model.shareAvailability, members, threshold - 1),
  };
}
