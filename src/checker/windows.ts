/**
 * Availability per fault window and latency percentiles, over the same history the checker
 * reads. Pure, shared by the simulator and the chaos harness (an extension of `checkRun`'s
 * metrics that leaves its output unchanged).
 */
import { faultSchedule } from './fault-schedule.ts';
import type { HistoryEvent } from './history.ts';
import { operations, serves } from './operations.ts';

/** Availability of the requests invoked inside one window. */
export interface WindowAvailability {
  /** Nemesis id, or `steady` for the time outside every fault window. */
  id: string;
  kind: string;
  startMs: number;
  endMs: number;
  requests: number;
  served: number;
  /** served / requests, or null when no request was invoked in the window. */
  availability: number | null;
}

/** Per-run figures the checker's `RunMetrics` does not carry. */
export interface WindowReport {
  windows: WindowAvailability[];
  /** Completed tries (ok or fail), invoke → completion, ms. */
  latenciesMs: number[];
  latencyMsP50: number | null;
  latencyMsP99: number | null;
}

/** The nearest-rank percentile of `values` (unsorted), or null if empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? null;
}

/**
 * Splits the requests by the fault window they were first invoked in (a request invoked while
 * two windows overlap counts in both) and computes latency percentiles over completed tries.
 */
export function measureWindows(history: readonly HistoryEvent[]): WindowReport {
  const ops = operations(history);
  const schedule = faultSchedule(history);
  // A logical request: first invoke time and whether any try served it.
  const requests = new Map<string, { firstMs: number; served: boolean }>();
  for (const op of ops) {
    const r = requests.get(op.invoke.requestId) ?? { firstMs: op.invokeMs, served: false };
    r.firstMs = Math.min(r.firstMs, op.invokeMs);
    r.served = r.served || serves(op);
    requests.set(op.invoke.requestId, r);
  }
  const windows: WindowAvailability[] = [];
  const inAnyWindow = new Set<string>();
  const sorted = [...schedule.nemeses].sort((a, b) => a.startMs - b.startMs);
  for (const n of sorted) {
    let count = 0;
    let served = 0;
    for (const [id, r] of requests) {
      if (r.firstMs < n.startMs || r.firstMs >= n.endMs) continue;
      inAnyWindow.add(id);
      count += 1;
      if (r.served) served += 1;
    }
    windows.push({
      id: n.value.id,
      kind: n.value.kind,
      startMs: n.startMs,
      endMs: n.endMs,
      requests: count,
      served,
      availability: count === 0 ? null : served / count,
    });
  }
  const steady = [...requests].filter(([id]) => !inAnyWindow.has(id));
  const steadyServed = steady.filter(([, r]) => r.served).length;
  windows.push({
    id: 'steady',
    kind: 'none',
    startMs: 0,
    endMs: Infinity,
    requests: steady.length,
    served: steadyServed,
    availability: steady.length === 0 ? null : steadyServed / steady.length,
  });
  const latenciesMs = ops
    .filter((o) => (o.type === 'ok' || o.type === 'fail') && o.completeMs !== undefined)
    .map((o) => (o.completeMs ?? o.invokeMs) - o.invokeMs);
  return {
    windows,
    latenciesMs,
    latencyMsP50: percentile(latenciesMs, 50),
    latencyMsP99: percentile(latenciesMs, 99),
  };
}
