/**
 * Poisson-binomial distributions: the number of successes among independent trials with unequal
 * probabilities, by the O(m²) dynamic programme (no subtraction, so no cancellation).
 */

/** Indices of the set bits of `mask` below `width`, ascending. */
export function maskMembers(mask: number, width: number): number[] {
  const members: number[] = [];
  for (let i = 0; i < width; i++) if ((mask >>> i) & 1) members.push(i);
  return members;
}

/** P(exactly k of the given trials succeed), for k = 0..members.length. */
export function countDistribution(
  probabilities: readonly number[],
  members: readonly number[],
): Float64Array {
  const dist = new Float64Array(members.length + 1);
  dist[0] = 1;
  members.forEach((member, done) => {
    const p = probabilities[member] as number;
    const q = 1 - p;
    for (let k = done + 1; k >= 1; k--)
      dist[k] = (dist[k] as number) * q + (dist[k - 1] as number) * p;
    dist[0] = (dist[0] as number) * q;
  });
  return dist;
}

/**
 * P(fewer than t succeed) for t = 0..width+1, where trials outside `members` always fail.
 * Summing the lower tail keeps small unavailabilities precise.
 */
export function lowerTails(dist: Float64Array, width: number): Float64Array {
  const below = new Float64Array(width + 2);
  let sum = 0;
  for (let t = 1; t <= width + 1; t++) {
    sum += dist[t - 1] ?? 0;
    below[t] = Math.min(1, sum);
  }
  return below;
}

/**
 * For each member i: P(exactly `target` of the other members succeed), i.e. how often trial i is
 * pivotal for reaching `target + 1`. Prefix and suffix distributions make it O(m²) in total.
 */
export function pivotalProbabilities(
  probabilities: readonly number[],
  members: readonly number[],
  target: number,
): Float64Array {
  const m = members.length;
  const prefix: Float64Array[] = [new Float64Array([1])];
  const suffix: Float64Array[] = new Array<Float64Array>(m + 1);
  suffix[m] = new Float64Array([1]);
  for (let i = 0; i < m; i++)
    prefix.push(extend(prefix[i] as Float64Array, probabilities[members[i] as number] as number));
  for (let i = m - 1; i >= 0; i--)
    suffix[i] = extend(
      suffix[i + 1] as Float64Array,
      probabilities[members[i] as number] as number,
    );
  const pivotal = new Float64Array(m);
  if (target < 0) return pivotal;
  for (let i = 0; i < m; i++) {
    const left = prefix[i] as Float64Array;
    const right = suffix[i + 1] as Float64Array;
    let sum = 0;
    for (let k = 0; k <= target && k < left.length; k++)
      sum += (left[k] as number) * (right[target - k] ?? 0);
    pivotal[i] = sum;
  }
  return pivotal;
}

function extend(dist: Float64Array, p: number): Float64Array {
  const next = new Float64Array(dist.length + 1);
  for (let k = 0; k < dist.length; k++) {
    next[k] = (next[k] as number) + (dist[k] as number) * (1 - p);
    next[k + 1] = (dist[k] as number) * p;
  }
  return next;
}
