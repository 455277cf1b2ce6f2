/** The one-line result of a run (`DIR/summary.json` and the `--json` line). Pure. */
import type { CheckReport } from '../checker/types.ts';
import { operations } from '../checker/check.ts';
import type { HistoryEvent } from '../checker/history.ts';
import { percentile, type WindowReport } from '../checker/windows.ts';

/** Exactly the fields the issue names, in that order. */
export interface ChaosSummary {
  scenario: string;
  seed: number;
  requests: number;
  ok: number;
  failed: number;
  violations: number;
  availability: number | null;
  detectionMsP50: number | null;
  failFastMsP50: number | null;
  recoveryMsP50: number | null;
  latencyMsP50: number | null;
  latencyMsP99: number | null;
}

const round = (v: number | null, digits = 0): number | null =>
  v === null ? null : Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * `requests` counts logical requests; `ok` those that got a signature; `failed` the rest
 * (including correct INTENT_CONFLICT refusals). `availability` is the checker's: the share of
 * requests served (signed, or correctly refused).
 */
export function buildSummary(
  scenario: string,
  seed: number,
  history: readonly HistoryEvent[],
  report: CheckReport,
  windows: WindowReport,
): ChaosSummary {
  const okRequests = new Set(
    operations(history)
      .filter((o) => o.type === 'ok')
      .map((o) => o.invoke.requestId),
  );
  const m = report.metrics;
  return {
    scenario,
    seed,
    requests: m.requests,
    ok: okRequests.size,
    failed: m.requests - okRequests.size,
    violations: report.violations.length,
    availability: m.requests === 0 ? null : round(m.served / m.requests, 4),
    detectionMsP50: round(percentile(m.detectionMs, 50)),
    failFastMsP50: round(percentile(m.failFastMs, 50)),
    recoveryMsP50: round(percentile(m.recoveryMs, 50)),
    latencyMsP50: round(windows.latencyMsP50),
    latencyMsP99: round(windows.latencyMsP99),
  };
}

/** Samples kept per run so `all` can pool them. */
export interface SummarySamples {
  summary: ChaosSummary;
  served: number;
  detectionMs: number[];
  failFastMs: number[];
  recoveryMs: number[];
  latenciesMs: number[];
}

/** Pools several runs (for `--scenario all`). */
export function combineSummaries(seed: number, runs: readonly SummarySamples[]): ChaosSummary {
  const sum = (f: (s: ChaosSummary) => number) => runs.reduce((a, r) => a + f(r.summary), 0);
  const requests = sum((s) => s.requests);
  const served = runs.reduce((a, r) => a + r.served, 0);
  const pool = (f: (r: SummarySamples) => number[]) => runs.flatMap(f);
  return {
    scenario: 'all',
    seed,
    requests,
    ok: sum((s) => s.ok),
    failed: sum((s) => s.failed),
    violations: sum((s) => s.violations),
    availability: requests === 0 ? null : round(served / requests, 4),
    detectionMsP50: round(
      percentile(
        pool((r) => r.detectionMs),
        50,
      ),
    ),
    failFastMsP50: round(
      percentile(
        pool((r) => r.failFastMs),
        50,
      ),
    ),
    recoveryMsP50: round(
      percentile(
        pool((r) => r.recoveryMs),
        50,
      ),
    ),
    latencyMsP50: round(
      percentile(
        pool((r) => r.latenciesMs),
        50,
      ),
    ),
    latencyMsP99: round(
      percentile(
        pool((r) => r.latenciesMs),
        99,
      ),
    ),
  };
}
