/**
 * Bounds of the policy lab, unit last. They keep every enumeration, simulation and parse finite
 * and small enough for a CLI answer in seconds. Relations between them are asserted at load.
 */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';

/** Policy-lab bounds. */
export const policyLimits = {
  /** Largest policy file accepted, in UTF-16 code units of text. */
  policyTextCharsMax: 1024 * 1024,
  /** Shares declared in one file. */
  sharesMax: 64,
  /** Groups declared in one file. */
  groupsMax: 64,
  /** Policies declared in one file. */
  policiesMax: 256,
  /** Shares in one policy (one wallet cannot have more parties than the coordinator allows). */
  sharesPerPolicyMax: limits.partiesMax,
  /** Groups (after closure, ignoring perfect ones) one exact evaluation enumerates: 2^20 states. */
  groupsPerPolicyMax: 20,
  /** Identifier length for shares, groups, policies and domains. */
  idLengthMax: 64,
  /** Candidate pool of the recommender and the heatmap. */
  candidatePoolMax: 16,
  /** Largest n the recommender and the heatmap enumerate. */
  placementSharesMax: 8,
  /** Group states summed over all enumerated placements (work bound of recommend/heatmap). */
  placementGroupStatesMax: 50_000_000,
  /** Default n range of the recommender (issue: 3 to 5). */
  recommendSharesMinDefault: 3,
  recommendSharesMaxDefault: 5,
  /** Default largest n of the analyze heatmap (issue: all t-of-n for n <= 5). */
  heatmapSharesMaxDefault: 5,
  /** Frontier picks printed by the recommender. */
  recommendPicksMax: 12,
  /** Nines are capped here: below 1e-15 unavailability doubles cannot resolve 1 - U. */
  ninesMax: 15,
  /** Monte Carlo months: default, minimum (100 batches) and maximum per policy. */
  monteCarloMonthsDefault: 20_000,
  monteCarloMonthsMin: 100,
  monteCarloMonthsMax: 2_000_000,
  /** Batches for the batch-means confidence interval. */
  monteCarloBatches: 100,
  /** Events processed in one Monte Carlo run before it gives up (bounds the main loop). */
  monteCarloEventsMax: 2_000_000_000,
  /** Months simulated and discarded before measuring, so non-exponential outages reach steady state. */
  monteCarloWarmupMonths: 1,
  /** Progress callback period, in simulated months. */
  monteCarloProgressMonths: 50_000,
  /** Repair time assumed for components given only `availability` when simulated. */
  mttrHoursDefault: 1,
  /** Smallest MTTF/MTTR/window length accepted, in hours (36 s): bounds events per month. */
  durationHoursMin: 0.01,
  /** Largest MTTF/MTTR/period accepted, in hours (about 114 years). */
  durationHoursMax: 1_000_000,
  /** Telemetry text and line bounds. */
  telemetryCharsMax: 256 * 1024 * 1024,
  telemetryLinesMax: 2_000_000,
  telemetryPartiesMax: 64,
} as const;

/** One 30-day month. */
export const monthHours = 720;
/** One 30-day month in minutes (43 200). */
export const monthMinutes = monthHours * 60;

assert(policyLimits.sharesPerPolicyMax <= 30, 'share masks fit in 31-bit integers');
assert(policyLimits.groupsPerPolicyMax <= 30, 'group masks fit in 31-bit integers');
assert(
  policyLimits.placementSharesMax <= policyLimits.sharesPerPolicyMax,
  'placements are policies',
);
assert(policyLimits.candidatePoolMax <= policyLimits.sharesMax, 'pool within shares');
assert(policyLimits.heatmapSharesMaxDefault <= policyLimits.placementSharesMax, 'heatmap n bound');
assert(
  policyLimits.recommendSharesMaxDefault <= policyLimits.placementSharesMax,
  'recommend n bound',
);
assert(policyLimits.monteCarloMonthsMin >= policyLimits.monteCarloBatches, 'a batch has a month');
assert(
  policyLimits.monteCarloMonthsDefault <= policyLimits.monteCarloMonthsMax,
  'MC default in range',
);
assert(policyLimits.durationHoursMin > 0, 'durations are positive');
