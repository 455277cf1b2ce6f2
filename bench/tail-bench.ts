/**
 * `npm run bench -- tail` (issue 13 part 2): p99 signing latency under each single-fault chaos
 * scenario against the no-fault p99, in one run, and what the hedged first round costs per
 * signature. Real processes in network namespaces (root; src/chaos). For each scenario one
 * chaos run: requests invoked inside a fault window are "under fault", those invoked outside
 * every window (warm-up, between windows, after heal) pool into the no-fault figure. Goal:
 * p99 under each fault <= 2x the no-fault p99.
 *
 * Knobs: QUORATE_BENCH_TAIL_SCENARIOS (comma list, default the single-fault scenarios),
 * QUORATE_BENCH_TAIL_DURATION_S (default 40 per scenario), QUORATE_BENCH_TAIL_SEED (7).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario } from '../src/chaos/run-scenario.ts';
import { scenarioNames, type ScenarioName } from '../src/chaos/schedule.ts';
import { faultSchedule } from '../src/checker/fault-schedule.ts';
import type { HistoryEvent } from '../src/checker/history.ts';
import { operations } from '../src/checker/operations.ts';
import { percentile } from '../src/checker/windows.ts';
import { realEnv } from '../src/core/env.ts';
import { limits } from '../src/core/limits.ts';
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

/** Latencies of served requests, split by whether they were invoked inside a fault window. */
function splitLatencies(history: HistoryEvent[]): { fault: number[]; clean: number[] } {
  const windows = faultSchedule(history).nemeses.map((n) => ({
    startMs: n.startMs,
    endMs: n.endMs,
  }));
  const fault: number[] = [];
  const clean: number[] = [];
  for (const op of operations(history)) {
    if (op.type !== 'ok' || op.completeMs === undefined) continue;
    const inside = windows.some((w) => op.invokeMs >= w.startMs && op.invokeMs <= w.endMs);
    (inside ? fault : clean).push(op.completeMs - op.invokeMs);
  }
  return { fault, clean };
}

/** What hedging cost in the run's signed sessions: extra parties asked, attempts. */
async function hedgingCost(storePath: string): Promise<{ signed: number; extraAsked: number }> {
  const store = new SqliteStore(storePath);
  try {
    const sessions = await store.listSessions(10_000);
    let signed = 0;
    let extraAsked = 0;
    for (const { value } of sessions) {
      if (value.status !== 'signed') continue;
      signed += 1;
      for (const a of value.attempts)
        extraAsked += (a.asked?.length ?? 0) - (a.asked ? a.parties.length : 0);
    }
    return { signed, extraAsked };
  } finally {
    await store.close();
  }
}

/** Runs the tail benchmark; `log` gets progress lines. */
export async function runTailBench(log: (line: string) => void): Promise<Record<string, unknown>> {
  const durationS = Number(process.env['QUORATE_BENCH_TAIL_DURATION_S'] ?? 40);
  const seed = Number(process.env['QUORATE_BENCH_TAIL_SEED'] ?? 7);
  const env = realEnv({ logLevel: 'silent' });
  const cleanAll: number[] = [];
  const perScenario: Record<string, Record<string, unknown>> = {};
  let signed = 0;
  let extraAsked = 0;
  for (const scenario of scenariosWanted()) {
    const outDir = mkdtempSync(join(tmpdir(), `quorate-tail-${scenario}-`));
    try {
      const result = await runScenario({
        env,
        scenario,
        seed,
        durationS,
        outDir,
        ratePerS: 4,
        scheme: 'ed25519',
        heartbeatMs: 250,
        downAfterMs: 2_000,
        progress: () => {},
      });
      const history = readFileSync(join(outDir, 'history.jsonl'), 'utf8')
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as HistoryEvent);
      const { fault, clean } = splitLatencies(history);
      cleanAll.push(...clean);
      const cost = await hedgingCost(join(outDir, 'data', 'coordinator', 'store.sqlite'));
      signed += cost.signed;
      extraAsked += cost.extraAsked;
      perScenario[scenario] = {
        requests: result.summary.requests,
        violations: result.summary.violations,
        faultRequests: fault.length,
        faultMsP50: round2(percentile(fault, 50)),
        faultMsP99: round2(percentile(fault, 99)),
        faultMsMax: round2(fault.length === 0 ? null : Math.max(...fault)),
        cleanMsP99: round2(percentile(clean, 99)),
      };
      log(`  ${scenario}: ${JSON.stringify(perScenario[scenario])}`);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }
  const noFaultMsP99 = round2(percentile(cleanAll, 99));
  for (const figures of Object.values(perScenario)) {
    const p99 = figures['faultMsP99'];
    figures['ratioP99'] =
      typeof p99 === 'number' && noFaultMsP99 ? round2(p99 / noFaultMsP99) : null;
    figures['meetsGoal'] = typeof figures['ratioP99'] === 'number' && figures['ratioP99'] <= 2;
  }
  const extraNoncesPerSignature = signed === 0 ? null : round2(extraAsked / signed);
  return {
    durationSPerScenario: durationS,
    seed,
    scenarios: perScenario,
    noFaultRequests: cleanAll.length,
    noFaultMsP50: round2(percentile(cleanAll, 50)),
    noFaultMsP99,
    goal: 'faultMsP99 <= 2 x noFaultMsP99 for every single-fault scenario',
    allMeetGoal: Object.values(perScenario).every((f) => f['meetsGoal'] === true),
    hedge: {
      extraPartiesPerAttempt: limits.hedgeExtraPartiesDefault,
      signedSessions: signed,
      // Each extra party asked: one nonce drawn (and journaled) on that party, and four
      // envelopes: sign-start, its commitment, the discard, the discard repeated at the end.
      extraNoncesPerSignature,
      extraMessagesPerSignature:
        extraNoncesPerSignature === null ? null : round2(extraNoncesPerSignature * 4),
    },
  };
}
