/**
 * Runs many seeds and folds their reports into one summary: the figures `quorate sim --json`
 * prints and the 2 000-seed test asserts on.
 */
import type { GovernedMetrics, Violation } from '../checker/types.ts';
import { runSeed, type SeedOptions, type SeedResult } from './run-seed.ts';

/** One failing seed and why. */
export interface SeedFailure {
  seed: number;
  kind: string;
  violations: Violation[];
}

/** Aggregate over a campaign. */
export interface CampaignSummary {
  seeds: number;
  sessions: number;
  violations: number;
  /** Served / requests over runs with at most n − t faulty parties and no coordinator fault. */
  availability: number;
  sloRequests: number;
  detectionMsP50: number | null;
  failFastMsP50: number | null;
  recoveryMsP50: number | null;
  detectionMsP99: number | null;
  failFastMsP99: number | null;
  recoveryMsP99: number | null;
  failures: SeedFailure[];
  /** Seeds within the SLO that did not serve every request (for debugging availability). */
  unavailableSeeds: number[];
  /** Tries that asked a failed intent again after a retryable failure, and how many signed. */
  retriesAfterFailure: number;
  signedAfterRetry: number;
  /** Seeds that ran a governed wallet, and what became of their governed requests. */
  governedSeeds: number;
  governed: GovernedMetrics;
  /** Lifecycle runs (`--lifecycle`): their refreshes and reshares by how each ended. */
  lifecycle?: { seeds: number; done: number; failed: number; running: number };
}

/** Nearest-rank percentile; null for no samples. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[rank] as number) * 10) / 10;
}

const governedKeys = [
  'requests',
  'signed',
  'denied',
  'timedOut',
  'approvalsRejected',
] as const satisfies readonly (keyof GovernedMetrics)[];

/** Accumulates seed results. */
export class Campaign {
  private seeds = 0;
  private sessions = 0;
  private violations = 0;
  private sloRequests = 0;
  private sloServed = 0;
  private readonly detection: number[] = [];
  private readonly failFast: number[] = [];
  private readonly recovery: number[] = [];
  private readonly failures: SeedFailure[] = [];
  private readonly unavailable: number[] = [];
  private retriesAfterFailure = 0;
  private signedAfterRetry = 0;
  private governedSeeds = 0;
  private readonly lifecycle = { seeds: 0, done: 0, failed: 0, running: 0 };
  private readonly governed: GovernedMetrics = {
    requests: 0,
    signed: 0,
    denied: 0,
    timedOut: 0,
    approvalsRejected: 0,
  };

  /** Folds one seed's result in. */
  add(result: SeedResult): void {
    const { metrics, violations } = result.report;
    this.seeds += 1;
    this.sessions += metrics.sessions;
    this.violations += violations.length;
    if (violations.length > 0)
      this.failures.push({ seed: result.seed, kind: kindLabel(result), violations });
    if (metrics.sloApplies) {
      this.sloRequests += metrics.requests;
      this.sloServed += metrics.served;
      if (metrics.served < metrics.requests) this.unavailable.push(result.seed);
    }
    this.detection.push(...metrics.detectionMs);
    this.failFast.push(...metrics.failFastMs);
    this.recovery.push(...metrics.recoveryMs);
    this.retriesAfterFailure += metrics.retriesAfterFailure;
    this.signedAfterRetry += metrics.signedAfterRetry;
    if (result.governed) this.governedSeeds += 1;
    if (result.lifecycle) {
      this.lifecycle.seeds += 1;
      this.lifecycle.done += result.lifecycle.done;
      this.lifecycle.failed += result.lifecycle.failed;
      this.lifecycle.running += result.lifecycle.running;
    }
    for (const key of governedKeys) this.governed[key] += metrics.governed[key];
  }

  /** The summary of every seed added so far. */
  summary(): CampaignSummary {
    return {
      seeds: this.seeds,
      sessions: this.sessions,
      violations: this.violations,
      availability: this.sloRequests === 0 ? 1 : this.sloServed / this.sloRequests,
      sloRequests: this.sloRequests,
      detectionMsP50: percentile(this.detection, 50),
      failFastMsP50: percentile(this.failFast, 50),
      recoveryMsP50: percentile(this.recovery, 50),
      detectionMsP99: percentile(this.detection, 99),
      failFastMsP99: percentile(this.failFast, 99),
      recoveryMsP99: percentile(this.recovery, 99),
      failures: this.failures,
      unavailableSeeds: this.unavailable,
      retriesAfterFailure: this.retriesAfterFailure,
      signedAfterRetry: this.signedAfterRetry,
      governedSeeds: this.governedSeeds,
      governed: { ...this.governed },
      ...(this.lifecycle.seeds === 0 ? {} : { lifecycle: { ...this.lifecycle } }),
    };
  }
}

/** Runs `seeds` in order, calling `progress` after each. */
export async function runCampaign(
  seeds: readonly number[],
  options: Omit<SeedOptions, 'seed'> = {},
  progress: (done: number, result: SeedResult) => void = () => {},
): Promise<CampaignSummary> {
  const campaign = new Campaign();
  for (const [i, seed] of seeds.entries()) {
    const result = await runSeed({ ...options, seed });
    campaign.add(result);
    progress(i + 1, result);
  }
  return campaign.summary();
}

/** `isolate-one`, or `isolate-one+clock-skew` for a combined run. */
export function kindLabel(result: Pick<SeedResult, 'kind' | 'secondKind'>): string {
  return result.secondKind === undefined ? result.kind : `${result.kind}+${result.secondKind}`;
}
