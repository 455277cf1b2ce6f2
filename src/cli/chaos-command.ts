/**
 * `quorate chaos run --scenario NAME --duration S --seed N --out DIR [--json] [--rate R]
 * [--scheme S] [--heartbeat-ms MS] [--down-after-ms MS]`: real processes in network namespaces
 * under a seeded fault schedule (src/chaos). Progress goes to stderr; `--json` prints one
 * summary line per scenario on stdout. Exit code 0 if the checker found no violation, 1 if it
 * did, 2 on bad flags, 3 if the harness cannot run here (not root, tools missing).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { realEnv } from '../core/env.ts';
import { chaosLimits } from '../core/limits.ts';
import { ChaosPreconditionError, runScenario, type ChaosRunResult } from '../chaos/run-scenario.ts';
import { scenarioNames, type ScenarioName } from '../chaos/schedule.ts';
import { combineSummaries } from '../chaos/summary.ts';
import { schemes, type Scheme } from '../protocol/engine.ts';

/** Where the command writes. */
export interface ChaosIo {
  out(line: string): void;
  err(line: string): void;
}

interface ChaosFlags {
  scenario: ScenarioName | 'all';
  durationS: number;
  seed: number;
  outDir: string;
  json: boolean;
  ratePerS: number;
  scheme: Scheme;
  heartbeatMs: number;
  downAfterMs: number;
}

const usage = `usage: quorate chaos run --scenario NAME --duration S --seed N --out DIR [--json]
                          [--rate R] [--scheme ed25519|bip340|secp256k1|ecdsa] [--heartbeat-ms 250] [--down-after-ms 2000]
  NAME: ${scenarioNames.join(', ')}, all
  needs root (network namespaces, iptables, nft); see docs/game-day.md`;

/** A number flag's value within [min, max], or what is wrong with it. */
function boundedNumber(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
): number | string {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n < min || n > max)
    return `${name} must be a number in [${min}, ${max}]`;
  return n;
}

/** The numeric flags: their range and where each goes. */
const numberFlags: Record<
  string,
  { min: number; max: number; set: (flags: Partial<ChaosFlags>, n: number) => void }
> = {
  '--duration': {
    min: chaosLimits.durationSMin,
    max: chaosLimits.durationSMax,
    set: (f, n) => (f.durationS = n),
  },
  '--seed': { min: 0, max: 2 ** 32 - 1, set: (f, n) => (f.seed = Math.floor(n)) },
  '--rate': { min: 0.1, max: chaosLimits.ratePerSMax, set: (f, n) => (f.ratePerS = n) },
  '--heartbeat-ms': { min: 50, max: 10_000, set: (f, n) => (f.heartbeatMs = n) },
  '--down-after-ms': { min: 100, max: 600_000, set: (f, n) => (f.downAfterMs = n) },
};

/** Applies one flag that takes a value; returns what is wrong, if anything. */
function applyFlag(
  flags: Partial<ChaosFlags>,
  arg: string,
  value: string | undefined,
): string | undefined {
  const numeric = numberFlags[arg];
  if (numeric !== undefined) {
    const n = boundedNumber(value, arg, numeric.min, numeric.max);
    if (typeof n === 'string') return n;
    numeric.set(flags, n);
    return undefined;
  }
  switch (arg) {
    case '--scenario':
      if (value !== 'all' && !scenarioNames.includes(value as ScenarioName))
        return `unknown --scenario ${value ?? ''}`;
      flags.scenario = value as ScenarioName | 'all';
      return undefined;
    case '--out':
      if (value === undefined || value === '') return '--out needs a directory';
      flags.outDir = value;
      return undefined;
    case '--scheme':
      if (!schemes.includes(value as Scheme)) return `unknown --scheme ${value ?? ''}`;
      flags.scheme = value as Scheme;
      return undefined;
    default:
      return `unknown flag ${arg}`;
  }
}

/** The required flags are there, and the duration leaves room for warm-up and heal. */
function completeFlags(flags: Partial<ChaosFlags>): ChaosFlags | string {
  const { scenario, durationS, seed, outDir } = flags;
  if (scenario === undefined) return '--scenario is required';
  if (durationS === undefined) return '--duration is required';
  if (seed === undefined) return '--seed is required';
  if (outDir === undefined) return '--out is required';
  const durationMsMin = chaosLimits.warmupMs + chaosLimits.tailMs + 1_000;
  if (durationS * 1_000 < durationMsMin)
    return `--duration must leave room for warm-up and heal (at least ${durationMsMin / 1_000} s)`;
  // ecdsa key generation keeps every party's CPU busy for seconds: with five parties and the
  // coordinator on two cores, a 250 ms heartbeat lost a party mid-keygen (minority-partition,
  // seed 7). ecdsa runs default to the production detector (1 s heartbeat, down after 5 s).
  const ecdsa = flags.scheme === 'ecdsa';
  return {
    json: false,
    ratePerS: 4,
    scheme: 'ed25519',
    heartbeatMs: ecdsa ? 1_000 : 250,
    downAfterMs: ecdsa ? 5_000 : 2_000,
    ...flags,
    scenario,
    durationS,
    seed,
    outDir,
  };
}

function parseFlags(argv: readonly string[]): ChaosFlags | string {
  // `quorate chaos process` (the harness's own processes) is dispatched before this, in main.ts.
  if (argv[0] !== 'run') return 'the only subcommand to run by hand is `run`';
  const args = argv.slice(1);
  const flags: Partial<ChaosFlags> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--json') {
      flags.json = true;
      continue;
    }
    const problem = applyFlag(flags, arg, args[i + 1]);
    if (problem !== undefined) return problem;
    i += 1;
  }
  return completeFlags(flags);
}

/** The one-line verdict of a scenario (without `--json`). */
function scenarioLine(scenario: ScenarioName, outDir: string, result: ChaosRunResult): string {
  const s = result.summary;
  return `${scenario}: ${s.violations === 0 ? 'PASS' : `FAIL (${s.violations} violations)`} requests ${s.requests} ok ${s.ok} failed ${s.failed} availability ${s.availability ?? '—'} detection p50 ${s.detectionMsP50 ?? '—'} ms, fail-fast p50 ${s.failFastMsP50 ?? '—'} ms, recovery p50 ${s.recoveryMsP50 ?? '—'} ms, latency p50/p99 ${s.latencyMsP50 ?? '—'}/${s.latencyMsP99 ?? '—'} ms — ${join(outDir, 'report.html')}`;
}

/** Runs the command; returns the exit code. */
export async function runChaosCommand(argv: string[], io: ChaosIo): Promise<number> {
  const flags = parseFlags(argv);
  if (typeof flags === 'string') {
    io.err(`${flags}\n${usage}`);
    return 2;
  }
  const env = realEnv({ logLevel: 'warn', bindings: { role: 'chaos' } });
  const scenarios: ScenarioName[] =
    flags.scenario === 'all' ? [...scenarioNames] : [flags.scenario];
  const results: ChaosRunResult[] = [];
  try {
    for (const scenario of scenarios) {
      io.err(`== ${scenario} (seed ${flags.seed}, ${flags.durationS} s, ${flags.ratePerS} req/s)`);
      const outDir = flags.scenario === 'all' ? join(flags.outDir, scenario) : flags.outDir;
      const result = await runScenario({
        env,
        scenario,
        seed: flags.seed,
        durationS: flags.durationS,
        outDir,
        ratePerS: flags.ratePerS,
        scheme: flags.scheme,
        heartbeatMs: flags.heartbeatMs,
        downAfterMs: flags.downAfterMs,
        progress: (line) => io.err(line),
      });
      results.push(result);
      io.out(flags.json ? JSON.stringify(result.summary) : scenarioLine(scenario, outDir, result));
      for (const v of result.report.violations.slice(0, 10))
        io.err(`  ${v.invariant}: ${v.message} ${JSON.stringify(v.detail)}`);
    }
  } catch (error) {
    if (error instanceof ChaosPreconditionError) {
      io.err(`quorate chaos: ${error.message}`);
      return 3;
    }
    io.err(`quorate chaos: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  if (flags.scenario === 'all') {
    const combined = combineSummaries(flags.seed, results);
    writeFileSync(join(flags.outDir, 'summary.json'), `${JSON.stringify(combined)}\n`);
    if (flags.json) io.out(JSON.stringify(combined));
  }
  return results.some((r) => r.summary.violations > 0) ? 1 : 0;
}
