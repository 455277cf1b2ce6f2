/**
 * `quorate chaos run --scenario NAME --duration S --seed N --out DIR [--json] [--rate R]
 * [--scheme S] [--heartbeat-ms MS] [--down-after-ms MS]`: real processes in network namespaces
 * under a seeded fault schedule (src/chaos). Progress goes to stderr; `--json` prints one
 * summary line per scenario on stdout. Exit code 0 if the checker found no violation, 1 if it
 * did, 2 on bad flags, 3 if the harness cannot run here (not root, tools missing).
 */
import { join } from 'node:path';
import { chaosLimits } from '../chaos/chaos-limits.ts';
import { ChaosPreconditionError, runScenario, type ChaosRunResult } from '../chaos/run-scenario.ts';
import { scenarioNames, type ScenarioName } from '../chaos/schedule.ts';
import { combineSummaries } from '../chaos/summary.ts';
import { schemes, type Scheme } from '../protocol/engine.ts';
import { writeFileSync } from 'node:fs';

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
                          [--rate R] [--scheme ed25519|bip340|secp256k1] [--heartbeat-ms 250] [--down-after-ms 2000]
  NAME: ${scenarioNames.join(', ')}, all
  needs root (network namespaces, iptables, nft); see docs/game-day.md`;

function parseFlags(argv: readonly string[]): ChaosFlags | string {
  const args = argv[0] === 'run' ? argv.slice(1) : [...argv];
  if (argv[0] !== 'run') return 'the only subcommand is `run`';
  const flags: Partial<ChaosFlags> = {
    json: false,
    ratePerS: 4,
    scheme: 'ed25519',
    heartbeatMs: 250,
    downAfterMs: 2_000,
  };
  const num = (
    value: string | undefined,
    name: string,
    min: number,
    max: number,
  ): number | string => {
    const n = Number(value);
    if (value === undefined || value === '' || !Number.isFinite(n) || n < min || n > max)
      return `${name} must be a number in [${min}, ${max}]`;
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = args[i + 1];
    const take = (name: string, min: number, max: number): number | string => {
      i += 1;
      return num(value, name, min, max);
    };
    let n: number | string = 0;
    switch (arg) {
      case '--json':
        flags.json = true;
        continue;
      case '--scenario':
        i += 1;
        if (value !== 'all' && !scenarioNames.includes(value as ScenarioName))
          return `unknown --scenario ${value ?? ''}`;
        flags.scenario = value as ScenarioName | 'all';
        continue;
      case '--out':
        i += 1;
        if (value === undefined || value === '') return '--out needs a directory';
        flags.outDir = value;
        continue;
      case '--scheme':
        i += 1;
        if (!schemes.includes(value as Scheme)) return `unknown --scheme ${value ?? ''}`;
        flags.scheme = value as Scheme;
        continue;
      case '--duration':
        n = take('--duration', chaosLimits.durationSMin, chaosLimits.durationSMax);
        if (typeof n === 'number') flags.durationS = n;
        break;
      case '--seed':
        n = take('--seed', 0, 2 ** 32 - 1);
        if (typeof n === 'number') flags.seed = Math.floor(n);
        break;
      case '--rate':
        n = take('--rate', 0.1, chaosLimits.ratePerSMax);
        if (typeof n === 'number') flags.ratePerS = n;
        break;
      case '--heartbeat-ms':
        n = take('--heartbeat-ms', 50, 10_000);
        if (typeof n === 'number') flags.heartbeatMs = n;
        break;
      case '--down-after-ms':
        n = take('--down-after-ms', 100, 600_000);
        if (typeof n === 'number') flags.downAfterMs = n;
        break;
      default:
        return `unknown flag ${arg ?? ''}`;
    }
    if (typeof n === 'string') return n;
  }
  if (flags.scenario === undefined) return '--scenario is required';
  if (flags.durationS === undefined) return '--duration is required';
  if (flags.seed === undefined) return '--seed is required';
  if (flags.outDir === undefined) return '--out is required';
  if (flags.durationS * 1_000 < chaosLimits.warmupMs + chaosLimits.tailMs + 1_000)
    return `--duration must leave room for warm-up and heal (at least ${(chaosLimits.warmupMs + chaosLimits.tailMs + 1_000) / 1_000} s)`;
  return flags as ChaosFlags;
}

/** Runs the command; returns the exit code. */
export async function runChaosCommand(argv: string[], io: ChaosIo): Promise<number> {
  const flags = parseFlags(argv);
  if (typeof flags === 'string') {
    io.err(`${flags}\n${usage}`);
    return 2;
  }
  const scenarios: ScenarioName[] =
    flags.scenario === 'all' ? [...scenarioNames] : [flags.scenario];
  const results: ChaosRunResult[] = [];
  try {
    for (const scenario of scenarios) {
      io.err(`== ${scenario} (seed ${flags.seed}, ${flags.durationS} s, ${flags.ratePerS} req/s)`);
      const outDir = flags.scenario === 'all' ? join(flags.outDir, scenario) : flags.outDir;
      const result = await runScenario({
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
      const s = result.summary;
      if (flags.json) io.out(JSON.stringify(s));
      else
        io.out(
          `${scenario}: ${s.violations === 0 ? 'PASS' : `FAIL (${s.violations} violations)`} requests ${s.requests} ok ${s.ok} failed ${s.failed} availability ${s.availability ?? '—'} detection p50 ${s.detectionMsP50 ?? '—'} ms, fail-fast p50 ${s.failFastMsP50 ?? '—'} ms, recovery p50 ${s.recoveryMsP50 ?? '—'} ms, latency p50/p99 ${s.latencyMsP50 ?? '—'}/${s.latencyMsP99 ?? '—'} ms — ${join(outDir, 'report.html')}`,
        );
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
