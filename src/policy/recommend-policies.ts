/**
 * `policy recommend`: enumerate t-of-n placements from a pool of candidate shares, keep those that
 * meet the SLO (and are non-custodial when required), rank the Pareto frontier over availability,
 * collusion resistance (minCollidingDomains) and share count, and explain each pick.
 */
import { indexPolicyFile } from './compile-placement.ts';
import { custodyPosture, type CustodyPosture } from './custody-posture.ts';
import { explainPick } from './explain-pick.ts';
import { ninesOf } from './nines.ts';
import { paretoFrontier } from './pareto-frontier.ts';
import { enumeratePlacements } from './placement-search.ts';
import { policyInvalid } from './policy-field-reader.ts';
import { monthMinutes, policyLimits } from '../core/limits.ts';
import type { PolicyFile } from './policy-schema.ts';

/** One t-of-n placement with its figures. */
export interface Candidate extends CustodyPosture {
  readonly threshold: number;
  readonly n: number;
  readonly shares: readonly string[];
  readonly availability: number;
  readonly unavailability: number;
  readonly nines: number;
  readonly downtimeMinutesPerMonth: number;
  readonly meetsSlo: boolean;
}

/** A ranked frontier pick. */
export interface Pick extends Candidate {
  readonly rank: number;
  readonly explanation: string;
}

/** Command-line overrides of the file's `recommend` section. */
export interface RecommendOverrides {
  readonly sharesMin?: number;
  readonly sharesMax?: number;
  readonly requireNonCustodial?: boolean;
}

/** The recommender's answer. */
export interface RecommendResult {
  readonly slo: number;
  readonly nMin: number;
  readonly nMax: number;
  readonly requireNonCustodial: boolean;
  readonly pool: readonly string[];
  readonly evaluated: number;
  readonly feasible: number;
  readonly frontierSize: number;
  readonly picks: readonly Pick[];
  /** When nothing is feasible: the most available candidate that meets the custody constraint. */
  readonly closestMiss: Candidate | null;
}

/** Runs the recommender over the file's candidate pool. */
export function recommendPolicies(
  file: PolicyFile,
  overrides: RecommendOverrides = {},
): RecommendResult {
  const nMin = overrides.sharesMin ?? file.recommend.sharesMin;
  const nMax = overrides.sharesMax ?? file.recommend.sharesMax;
  if (nMin > nMax) throw policyInvalid('recommend', `n-min ${nMin} exceeds n-max ${nMax}`);
  const requireNonCustodial = overrides.requireNonCustodial ?? file.recommend.requireNonCustodial;
  const pool = file.recommend.candidates ?? file.shares.map((s) => s.id);
  const placements = enumeratePlacements(
    indexPolicyFile(file),
    pool,
    nMin,
    nMax,
    'recommend.candidates',
  );
  const candidates: Candidate[] = [];
  for (const placement of placements) {
    const n = placement.shares.length;
    for (let t = 1; t <= n; t++) {
      const unavailability = placement.unavailabilityByThreshold[t] as number;
      candidates.push({
        threshold: t,
        n,
        shares: placement.shares.map((s) => s.id),
        availability: 1 - unavailability,
        unavailability,
        nines: ninesOf(unavailability),
        downtimeMinutesPerMonth: unavailability * monthMinutes,
        meetsSlo: 1 - unavailability >= file.slo,
        ...custodyPosture(placement.shares, t),
      });
    }
  }
  const allowed = candidates.filter((c) => !requireNonCustodial || !c.custodial);
  const feasible = allowed.filter((c) => c.meetsSlo).sort(tieBreak);
  const frontier = paretoFrontier(feasible).sort(rankOrder);
  const picks = frontier.slice(0, policyLimits.recommendPicksMax).map((c, i) => ({
    ...c,
    rank: i + 1,
    explanation: explainPick(c, frontier, file.slo),
  }));
  const closestMiss = feasible.length > 0 ? null : ([...allowed].sort(tieBreak)[0] ?? null);
  return {
    slo: file.slo,
    nMin,
    nMax,
    requireNonCustodial,
    pool,
    evaluated: candidates.length,
    feasible: feasible.length,
    frontierSize: frontier.length,
    picks,
    closestMiss,
  };
}

/** Among equal objectives prefer intersecting quorums, enforcement, domain-loss tolerance. */
function tieBreak(a: Candidate, b: Candidate): number {
  return (
    a.unavailability - b.unavailability ||
    Number(b.quorumIntersection) - Number(a.quorumIntersection) ||
    a.unenforcedQuorumShare - b.unenforcedQuorumShare ||
    b.lossTolerance.domains - a.lossTolerance.domains ||
    a.n - b.n ||
    a.threshold - b.threshold ||
    (a.shares.join(',') < b.shares.join(',') ? -1 : 1)
  );
}

/** Frontier order: strongest collusion resistance first, then fewest shares, then availability. */
function rankOrder(a: Candidate, b: Candidate): number {
  return b.minCollidingDomains - a.minCollidingDomains || a.n - b.n || tieBreak(a, b);
}
