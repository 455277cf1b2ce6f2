/**
 * Pareto frontier over (unavailability ↓, minCollidingDomains ↑, shares ↓). A candidate is on the
 * frontier when no other is at least as good on all three and better on one.
 */

/** The three objectives of a candidate. */
export interface ParetoObjectives {
  readonly unavailability: number;
  readonly minCollidingDomains: number;
  readonly n: number;
}

/** Relative tolerance under which two unavailabilities count as equal (floating-point noise). */
const relativeTolerance = 1e-12;

function compareUnavailability(a: number, b: number): number {
  if (Math.abs(a - b) <= relativeTolerance * Math.max(a, b)) return 0;
  return a < b ? -1 : 1;
}

/** True when `a` dominates `b`. */
export function dominates(a: ParetoObjectives, b: ParetoObjectives): boolean {
  const u = compareUnavailability(a.unavailability, b.unavailability);
  const atLeast = u <= 0 && a.minCollidingDomains >= b.minCollidingDomains && a.n <= b.n;
  const better = u < 0 || a.minCollidingDomains > b.minCollidingDomains || a.n < b.n;
  return atLeast && better;
}

/** True when `a` and `b` have equal objective vectors. */
export function sameObjectives(a: ParetoObjectives, b: ParetoObjectives): boolean {
  return (
    compareUnavailability(a.unavailability, b.unavailability) === 0 &&
    a.minCollidingDomains === b.minCollidingDomains &&
    a.n === b.n
  );
}

/**
 * The non-dominated candidates, in input order. With equal objective vectors only the first
 * (so callers sort by their tie-break first) is kept. O(N·F) for N candidates, F on the frontier.
 */
export function paretoFrontier<T extends ParetoObjectives>(candidates: readonly T[]): T[] {
  const frontier: T[] = [];
  for (const candidate of candidates) {
    if (frontier.some((f) => dominates(f, candidate) || sameObjectives(f, candidate))) continue;
    for (let i = frontier.length - 1; i >= 0; i--) {
      if (dominates(candidate, frontier[i] as T)) frontier.splice(i, 1);
    }
    frontier.push(candidate);
  }
  return frontier;
}
