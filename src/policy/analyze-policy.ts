/**
 * `policy analyze`: every figure for every policy of a file. Exact availability and importance,
 * Markov outage frequency where rates are given, Monte Carlo where time structure is given, and
 * the custody posture; plus the t×n heatmap over the file's shares.
 */
import { QuorateError } from '../core/errors.ts';
import {
  compilePlacement,
  indexPolicyFile,
  type CompiledPlacement,
  type PolicyIndex,
} from './compile-placement.ts';
import { custodyPosture, type CustodyPosture } from './custody-posture.ts';
import { hasTimeStructure } from './effective-availability.ts';
import { exactImportance, type ExactImportance } from './exact-availability.ts';
import { buildHeatmap, type Heatmap } from './heatmap.ts';
import { markovOutages } from './markov-outages.ts';
import { simulateMonths, type MonteCarloResult } from './monte-carlo.ts';
import { ninesOf } from './nines.ts';
import { enumeratePlacements } from './placement-search.ts';
import { monthMinutes, policyLimits } from '../core/limits.ts';
import type { PolicyFile, PolicySpec } from './policy-schema.ts';

/** How much of the downtime one share or group causes. */
export interface CauseContribution {
  readonly kind: 'share' | 'group';
  readonly id: string;
  /** Downtime per month removed if this component never failed (U − U with it perfect). */
  readonly minutesPerMonth: number;
  /** minutesPerMonth / the policy's downtime; causes overlap, so fractions may sum past 1. */
  readonly fraction: number;
}

/** All figures for one policy. */
export interface PolicyAnalysis extends CustodyPosture {
  readonly id: string;
  readonly threshold: number;
  readonly n: number;
  readonly shares: readonly string[];
  readonly availability: number;
  readonly unavailability: number;
  readonly nines: number;
  readonly downtimeMinutesPerMonth: number;
  readonly meetsSlo: boolean;
  readonly outagesPerMonth: number | null;
  readonly meanOutageMinutes: number | null;
  readonly pMonthBreachesSlo: number | null;
  readonly p95DowntimeMinutesPerMonth: number | null;
  readonly monteCarlo: MonteCarloResult | null;
  /** True when schedules enter the exact figures as independent long-run fractions. */
  readonly timeStructure: boolean;
  readonly downtimeByCause: readonly CauseContribution[];
}

/** The whole `analyze` answer. */
export interface FileAnalysis {
  readonly slo: number;
  readonly policies: readonly PolicyAnalysis[];
  /** Null when the placement search exceeds its limits; `heatmapNote` then says why. */
  readonly heatmap: Heatmap | null;
  readonly heatmapNote: string | null;
}

/** Options: progress reporting for Monte Carlo and the heatmap's largest n. */
export interface AnalyzeOptions {
  readonly onProgress?: (policyId: string, monthsDone: number, monthsTotal: number) => void;
  readonly heatmapSharesMax?: number;
}

/** Analyzes every policy and builds the heatmap. */
export function analyzePolicyFile(file: PolicyFile, options: AnalyzeOptions = {}): FileAnalysis {
  const index = indexPolicyFile(file);
  const policies = file.policies.map((policy) => analyzePolicy(index, policy, options));
  const pool =
    file.recommend.candidates ??
    file.shares.slice(0, policyLimits.candidatePoolMax).map((s) => s.id);
  const nMax = options.heatmapSharesMax ?? policyLimits.heatmapSharesMaxDefault;
  try {
    const placements = enumeratePlacements(index, pool, 1, nMax, 'recommend.candidates');
    return { slo: file.slo, policies, heatmap: buildHeatmap(pool, placements), heatmapNote: null };
  } catch (error) {
    // The heatmap is a by-product: too large a pool must not hide the per-policy answers.
    if (!(error instanceof QuorateError)) throw error;
    return { slo: file.slo, policies, heatmap: null, heatmapNote: error.message };
  }
}

/** Analyzes one policy of an indexed file. */
function analyzePolicy(
  index: PolicyIndex,
  policy: PolicySpec,
  options: AnalyzeOptions = {},
): PolicyAnalysis {
  const file = index.file;
  const model = compilePlacement(index, policy.shares, `policies[${policy.index}]`);
  const importance = exactImportance(model, policy.threshold);
  const unavailability = importance.unavailability;
  const markov = markovOutages(model, importance);
  const timeStructure = [...model.shares, ...model.groups].some((c) => hasTimeStructure(c));
  const onProgress = options.onProgress;
  const monteCarlo =
    timeStructure || file.simulation.explicit
      ? simulateMonths({
          model,
          threshold: policy.threshold,
          months: file.simulation.months,
          seed: file.simulation.seed,
          slo: file.slo,
          mttrHoursDefault: file.simulation.mttrHoursDefault,
          ...(onProgress === undefined
            ? {}
            : { onProgress: (done: number, total: number) => onProgress(policy.id, done, total) }),
        })
      : null;
  return {
    id: policy.id,
    threshold: policy.threshold,
    n: policy.shares.length,
    shares: policy.shares,
    availability: 1 - unavailability,
    unavailability,
    nines: ninesOf(unavailability),
    downtimeMinutesPerMonth: unavailability * monthMinutes,
    meetsSlo: 1 - unavailability >= file.slo,
    outagesPerMonth: markov?.outagesPerMonth ?? null,
    meanOutageMinutes: markov?.meanOutageMinutes ?? null,
    pMonthBreachesSlo: monteCarlo?.pMonthBreachesSlo ?? null,
    p95DowntimeMinutesPerMonth: monteCarlo?.p95DowntimeMinutesPerMonth ?? null,
    monteCarlo,
    timeStructure,
    ...custodyPosture(model.shares, policy.threshold),
    downtimeByCause: downtimeByCause(model, importance),
  };
}

/** Contributions of every fallible share and group, largest first. */
export function downtimeByCause(
  model: CompiledPlacement,
  importance: ExactImportance,
): CauseContribution[] {
  const total = importance.unavailability;
  const entry = (kind: 'share' | 'group', id: string, improvement: number): CauseContribution => ({
    kind,
    id,
    minutesPerMonth: improvement * monthMinutes,
    fraction: total > 0 ? improvement / total : 0,
  });
  return [
    ...model.groups.map((g, j) => entry('group', g.id, importance.groupImprovement[j] as number)),
    ...model.shares.map((s, i) => entry('share', s.id, importance.shareImprovement[i] as number)),
  ]
    .filter((c) => c.minutesPerMonth > 0)
    .sort((a, b) => b.minutesPerMonth - a.minutesPerMonth || (a.id < b.id ? -1 : 1));
}
