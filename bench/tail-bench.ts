/**
 * `npm run bench -- tail` (issue 13 part 2): p99 signing latency under each single-fault chaos
 * scenario against the no-fault p99, in one run, and what the hedged first round costs per
 * signature. Real processes in network namespaces (root; src/chaos).
 *
 * The no-fault p99 comes from separate runs without any fault window, one per cluster shape
 * the scenarios use (3 parties 2-of-3, 5 parties 3-of-5), same workload, after the warm-up. It
 * is not pooled from a fault run's quiet periods: those hold the recovery after each heal (a
 * restarted party reconnecting, a party re-detected alive), which is not a no-fault figure.
 * For each scenario one chaos run: requests invoked inside a fault window are "under fault",
 * those invoked within `settleMarginMs` after a heal are "recovery" (reported, and a ratio with
 * them included), the rest are only reported. Goal: p99 under each fault <= 2x the no-fault p99.
 *
 * Knobs: QUORATE_BENCH_TAIL_SCENARIOS (comma list, default the single-fault scenarios),
 * QUORATE_BENCH_TAIL_DURATION_S (default 40 per scenario), QUORATE_BENCH_TAIL_BASELINE_S
 * (default 24 per cluster shape), QUORATE_BENCH_TAIL_SEED (7).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario } from '../src/chaos/run-scenario.ts';
import { scenarioNames, scenarioTopology, type ScenarioName } from '../src/chaos/schedule.ts';
import { faultSchedule } from '../src/checker/fault-schedule.ts';
import type { HistoryEvent } from '../src/checker/history.ts';
import { operations } from '../src/checker/operations.ts';
import { percentile } from '../src/checker/windows.ts';
import { realEnv } from '../src/core/env.ts';
import { chaosLimits, limits } from '../src/core/limits.ts';
import { readJournalFile } from '../src/party/journal-sqlite.ts';
import { SqliteStore } from '../src/store/sqlite.ts';

/**
 * One fault at a time (a party cut, flapping, killed, paused, skewed or lossy). Left out:
 * majority-loss (n - t + 1 parties down: nothing can sign), bridge (a partition shape over
 * several parties) and client-partition (the client's path, not a party's).
 */
const singleFault: readonly ScenarioName[] = [
  'minority-partition',
  'flapping-link',
  'kill-restart',
  'pause',
  'clock-skew',
  'packet-loss',
];

const round2 = (x: number | null): number | null => (x === null ? null : Math.round(x * 100) / 100);

function scenariosWanted(): ScenarioName[] {
  const raw = process.env['QUORATE_BENCH_TAIL_SCENARIOS'];
  if (!raw) return [...singleFault];
  const known = new Set<string>(scenarioNames);
  return raw.split(',').filter((s): s is ScenarioName => known.has(s));
}

/**
 * After a heal, this long is recovery, not quiet: the detector's down-after time (a party it
 * marked down is chosen again once seen alive) plus a few heartbeats.
 */
const settleMarginMs = 3_000;

/** Served requests' latencies by when they were invoked: in a fault, just after one, or else. */
interface Split {
  fault: number[];
  recovery: number[];
  quiet: number[];
}

/** Splits a run's served requests (none invoked in the warm-up: it holds no fault either). */
function splitLatencies(history: HistoryEvent[]): Split {
  const windows = faultSchedule(history).nemeses;
  const ops = operations(history);
  const startMs = Math.min(...ops.map((op) => op.invokeMs));
  const split: Split = { fault: [], recovery: [], quiet: [] };
  for (const op of ops) {
    if (op.type !== 'ok' || op.completeMs === undefined) continue;
    if (op.invokeMs < startMs + chaosLimits.warmupMs) continue;
    const at = op.invokeMs;
    const inside = windows.some((w) => at >= w.startMs && at <= w.endMs);
    const settling = windows.some((w) => at > w.endMs && at <= w.endMs + settleMarginMs);
    const pool = inside ? split.fault : settling ? split.recovery : split.quiet;
    pool.push(op.completeMs - op.invokeMs);
  }
  return split;
}

/** The chaos run of `scenario` (no fault window if `withoutFaults`): its split latencies. */
async function measure(
  scenario: ScenarioName,
  options: { seed: number; durationS: number; withoutFaults: boolean },
): Promise<{
  split: Split;
  requests: number;
  violations: number;
  outDir: string;
}> {
  const outDir = mkdtempSync(join(tmpdir(), `quorate-tail-${scenario}-`));
  const result = await runScenario({
    env: realEnv({ logLevel: 'silent' }),
    scenario,
    seed: options.seed,
    durationS: options.durationS,
    outDir,
    ratePerS: 4,
    scheme: 'ed25519',
    heartbeatMs: 250,
    downAfterMs: 2_000,
    progress: () => {},
    withoutFaults: options.withoutFaults,
  });
  const history = readFileSync(join(outDir, 'history.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as HistoryEvent);
  return {
    split: splitLatencies(history),
    requests: result.summary.requests,
    violations: result.summary.violations,
    outDir,
  };
}

/** The cluster shape of a scenario, as a key: "3 parties, 2-of-3". */
function shapeOf(scenario: ScenarioName): string {
  const { parties, threshold } = scenarioTopology(scenario);
  return `${threshold}-of-${parties.length}`;
}

/** One no-fault run per cluster shape of `scenarios`: its p50, p99 and request count. */
async function noFaultBaselines(
  scenarios: ScenarioName[],
  seed: number,
  log: (line: string) => void,
): Promise<Record<string, { requests: number; msP50: number | null; msP99: number | null }>> {
  const durationS = Number(process.env['QUORATE_BENCH_TAIL_BASELINE_S'] ?? 24);
  const out: Record<string, { requests: number; msP50: number | null; msP99: number | null }> = {};
  for (const scenario of scenarios) {
    const shape = shapeOf(scenario);
    if (out[shape]) continue;
    const run = await measure(scenario, { seed, durationS, withoutFaults: true });
    rmSync(run.outDir, { recursive: true, force: true });
    const all = [...run.split.fault, ...run.split.recovery, ...run.split.quiet];
    out[shape] = {
      requests: all.length,
      msP50: round2(percentile(all, 50)),
      msP99: round2(percentile(all, 99)),
    };
    log(`  no fault, ${shape} (${scenario}'s cluster): ${JSON.stringify(out[shape])}`);
  }
  return out;
}

/**
 * What hedging cost in the run's signed sessions: extra parties asked, and the nonces those
 * extras drew (from each party's journal: an extra whose discard came within its grace drew
 * none, src/party/runtime.ts).
 */
async function hedgingCost(
  outDir: string,
): Promise<{ signed: number; extraAsked: number; extraNonces: number }> {
  const store = new SqliteStore(join(outDir, 'data', 'coordinator', 'store.sqlite'));
  const drawn = new Set<string>();
  const partiesDir = join(outDir, 'data', 'parties');
  for (const partyId of existsSync(partiesDir) ? readdirSync(partiesDir) : []) {
    const path = join(partiesDir, partyId, 'journal.sqlite');
    if (!existsSync(path)) continue;
    for (const n of readJournalFile(path).nonces)
      drawn.add(`${partyId} ${n.sessionId} ${n.attempt}`);
  }
  try {
    const sessions = await store.listSessions(10_000);
    let signed = 0;
    let extraAsked = 0;
    let extraNonces = 0;
    for (const { value } of sessions) {
      if (value.status !== 'signed') continue;
      signed += 1;
      for (const a of value.attempts) {
        const extras = (a.asked ?? []).filter((p) => !a.parties.includes(p));
        extraAsked += extras.length;
        for (const p of extras)
          if (drawn.has(`${p} ${value.sessionId} ${a.attempt}`)) extraNonces += 1;
      }
    }
    return { signed, extraAsked, extraNonces };
  } finally {
    await store.close();
  }
}

const ratio = (p99: number | null, base: number | null | undefined): number | null =>
  p99 !== null && base ? round2(p99 / base) : null;

/** Runs the tail benchmark; `log` gets progress lines. */
export async function runTailBench(log: (line: string) => void): Promise<Record<string, unknown>> {
  const durationS = Number(process.env['QUORATE_BENCH_TAIL_DURATION_S'] ?? 40);
  const seed = Number(process.env['QUORATE_BENCH_TAIL_SEED'] ?? 7);
  const scenarios = scenariosWanted();
  const noFault = await noFaultBaselines(scenarios, seed, log);
  const perScenario: Record<string, Record<string, unknown>> = {};
  let signed = 0;
  let extraAsked = 0;
  let extraNonces = 0;
  for (const scenario of scenarios) {
    const run = await measure(scenario, { seed, durationS, withoutFaults: false });
    try {
      const { fault, recovery, quiet } = run.split;
      const cost = await hedgingCost(run.outDir);
      signed += cost.signed;
      extraAsked += cost.extraAsked;
      extraNonces += cost.extraNonces;
      const base = noFault[shapeOf(scenario)]?.msP99;
      const faultMsP99 = round2(percentile(fault, 99));
      const withRecoveryMsP99 = round2(percentile([...fault, ...recovery], 99));
      const ratioP99 = ratio(faultMsP99, base);
      perScenario[scenario] = {
        cluster: shapeOf(scenario),
        requests: run.requests,
        violations: run.violations,
        faultRequests: fault.length,
        faultMsP50: round2(percentile(fault, 50)),
        faultMsP99,
        faultMsMax: round2(fault.length === 0 ? null : Math.max(...fault)),
        recoveryRequests: recovery.length,
        recoveryMsP99: round2(percentile(recovery, 99)),
        quietMsP99: round2(percentile(quiet, 99)),
        noFaultMsP99: base ?? null,
        ratioP99,
        ratioP99WithRecovery: ratio(withRecoveryMsP99, base),
        meetsGoal: ratioP99 !== null && ratioP99 <= 2,
      };
      log(`  ${scenario}: ${JSON.stringify(perScenario[scenario])}`);
    } finally {
      rmSync(run.outDir, { recursive: true, force: true });
    }
  }
  const perSignature = (n: number) => (signed === 0 ? null : round2(n / signed));
  return {
    durationSPerScenario: durationS,
    seed,
    settleMarginMs,
    noFault,
    scenarios: perScenario,
    goal: 'faultMsP99 <= 2 x the no-fault p99 of the same cluster shape, for every single-fault scenario',
    allMeetGoal: Object.values(perScenario).every((f) => f['meetsGoal'] === true),
    hedge: {
      extraPartiesPerAttemptMax: limits.hedgeExtraPartiesMax,
      signedSessions: signed,
      extraPartiesAskedPerSignature: perSignature(extraAsked),
      // Drawn (and journaled) by an extra whose grace passed before its discard came.
      extraNoncesPerSignature: perSignature(extraNonces),
      // Per extra asked: its sign-start, the discard and the discard repeated at the session's
      // end; and its commitment when it drew a nonce.
      extraMessagesPerSignature: perSignature(3 * extraAsked + extraNonces),
    },
  };
}
