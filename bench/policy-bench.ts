/**
 * Policy-lab benchmarks for the three performance goals of issue 5:
 *   - analyze all t-of-n for n ≤ 5 with 10 groups: under 1 s;
 *   - recommend over an 8-share pool: under 5 s;
 *   - Monte Carlo: at least 10^5 simulated months per second on one core.
 * Run directly (`node --import tsx bench/policy-bench.ts`) to print the figures and write
 * bench/results/policy.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { analyzePolicyFile } from '../src/policy/analyze-policy.ts';
import { compilePlacement, indexPolicyFile } from '../src/policy/compile-placement.ts';
import { binomial } from '../src/policy/custody-posture.ts';
import { simulateMonths } from '../src/policy/monte-carlo.ts';
import { parsePolicyText } from '../src/policy/parse-policy-text.ts';
import { recommendPolicies } from '../src/policy/recommend-policies.ts';

const types = ['mobile', 'backend', 'guardian', 'hsm', 'web'];

/** A pool of `shares` shares over 10 groups; each share needs three groups. */
function poolFile(shares: number): string {
  const groups = Array.from(
    { length: 10 },
    (_, j) => `  - { id: g${j}, mttfHours: ${1000 + 250 * j}, mttrHours: ${2 + (j % 3)} }`,
  );
  const shareLines = Array.from({ length: shares }, (_, i) => {
    const needs = [i % 10, (i + 1) % 10, (i + 3) % 10].map((j) => `g${j}`).join(', ');
    return `  - { id: s${i}, type: ${types[i % types.length]}, domain: d${i % 4}, mttfHours: ${100 + 40 * i}, mttrHours: ${1 + (i % 4)}, groups: [${needs}] }`;
  });
  const policyShares = Array.from({ length: 5 }, (_, i) => `s${i}`).join(', ');
  return `slo: 0.999\ngroups:\n${groups.join('\n')}\nshares:\n${shareLines.join('\n')}\npolicies:\n  - { id: p3of5, threshold: 3, shares: [${policyShares}] }\n`;
}

function bestOfMs(runs: number, fn: () => void): number {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

function monteCarloRate(
  text: string,
  policyIndex: number,
  months: number,
): { monthsPerSecond: number; months: number } {
  const file = parsePolicyText(text);
  const policy = file.policies[policyIndex];
  if (policy === undefined) throw new Error('bench policy missing');
  const model = compilePlacement(indexPolicyFile(file), policy.shares, 'bench');
  const input = {
    model,
    threshold: policy.threshold,
    months,
    seed: 1,
    slo: file.slo,
    mttrHoursDefault: 1,
  };
  simulateMonths({ ...input, months: 1000 }); // warm up the JIT
  const start = performance.now();
  simulateMonths(input);
  const seconds = (performance.now() - start) / 1000;
  return { monthsPerSecond: Math.round(months / seconds), months };
}

const timedText = `slo: 0.999
groups:
  - { id: cloud-region, mttfHours: 4000, mttrHours: 2, outage: { distribution: lognormal, sigma: 1 } }
shares:
  - { id: mobile, type: mobile, domain: user, mttfHours: 40, mttrHours: 2, dailyOnline: { fromHour: 7, toHour: 23 } }
  - { id: backend, type: backend, domain: operator, mttfHours: 2000, mttrHours: 2, groups: [cloud-region], maintenance: { everyHours: 168, durationHours: 2 } }
  - { id: guardian, type: guardian, domain: recovery-co, mttfHours: 500, mttrHours: 6, outage: { distribution: weibull, shape: 0.7 } }
  - { id: hsm, type: hsm, domain: custodian, mttfHours: 8000, mttrHours: 4 }
  - { id: phone-2, type: mobile, domain: officer, mttfHours: 30, mttrHours: 3, dailyOnline: { fromHour: 8, toHour: 20 } }
policies:
  - { id: timed-3of5, threshold: 3, shares: [mobile, backend, guardian, hsm, phone-2] }
`;

/** Measures the three goals and returns the figures (synchronous work, so no awaits inside). */
export function runPolicyBench(): Promise<Record<string, unknown>> {
  return Promise.resolve(measureAll());
}

function measureAll(): Record<string, unknown> {
  const analyzeFile = parsePolicyText(poolFile(10));
  let heatmapCells = 0;
  const analyzeMs = bestOfMs(3, () => {
    heatmapCells = analyzePolicyFile(analyzeFile).heatmap?.cells.length ?? 0;
  });
  // Every placement of 1..5 of the 10 pooled shares, each evaluated exactly at every t.
  const placements = [1, 2, 3, 4, 5].reduce((sum, n) => sum + binomial(10, n), 0);
  const tOfN = [1, 2, 3, 4, 5].reduce((sum, n) => sum + n * binomial(10, n), 0);
  const recommendFile = parsePolicyText(poolFile(8));
  let evaluated = 0;
  const recommendMs = bestOfMs(3, () => {
    evaluated = recommendPolicies(recommendFile).evaluated;
  });
  const plain = monteCarloRate(poolFile(5), 0, 200_000);
  const timed = monteCarloRate(timedText, 0, 200_000);
  const results = {
    node: process.version,
    analyzeAllTofNUpTo5With10Groups: {
      ms: round(analyzeMs),
      placements,
      tOfN,
      heatmapCells,
      goalMs: 1000,
      met: analyzeMs < 1000,
    },
    recommend8SharePool: {
      ms: round(recommendMs),
      candidatesEvaluated: evaluated,
      goalMs: 5000,
      met: recommendMs < 5000,
    },
    monteCarlo3of5With10Groups: {
      ...plain,
      goalMonthsPerSecond: 100_000,
      met: plain.monthsPerSecond >= 100_000,
    },
    monteCarlo3of5WithSchedules: {
      ...timed,
      goalMonthsPerSecond: 100_000,
      met: timed.monthsPerSecond >= 100_000,
    },
  };
  return results;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await runPolicyBench();
  console.log(JSON.stringify(results, null, 2));
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(
    new URL('./results/policy.json', import.meta.url),
    `${JSON.stringify(results, null, 2)}\n`,
  );
}
