/**
 * `quorate sim --seeds N [--seed S] [--kind K] [--combined] [--dkg] [--json] [--history]`: the
 * deterministic simulator (`--combined` adds an overlapping second fault of another kind).
 * Runs seeds S, S+1, …, S+N−1 (S defaults to 1), checks every history, and prints a summary;
 * each failing seed is printed with the command that replays it. Progress goes to stderr.
 * Exit code 0 if no invariant was violated, 1 otherwise, 2 on bad flags.
 */
import { realEnv } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import { kindLabel, runCampaign } from '../sim/campaign.ts';
import { nemesisKinds, type NemesisKind } from '../sim/nemesis.ts';
import { runSeed } from '../sim/run-seed.ts';
import { schemes, type Scheme } from '../protocol/engine.ts';
import {
  adversaryModes,
  runAdversaryCampaign,
  type AdversaryMode,
} from '../sim/adversary/adversary-campaign.ts';

/** Where the command writes. */
export interface SimIo {
  out(line: string): void;
  err(line: string): void;
}

interface SimFlags {
  seeds: number;
  seed: number;
  json: boolean;
  history: boolean;
  dkg: boolean;
  combined: boolean;
  lifecycle: boolean;
  kind?: NemesisKind;
  scheme?: Scheme;
  adversary?: AdversaryMode;
}

const usage =
  'usage: quorate sim --seeds N [--seed S] [--kind KIND] [--scheme SCHEME] [--combined] [--dkg]\n' +
  '                   [--lifecycle] [--json] [--history]\n' +
  '       quorate sim --adversary coordinator|parties --seeds N [--seed S] [--json]\n' +
  `  KIND: ${nemesisKinds.join(', ')}\n` +
  `  SCHEME: ${schemes.join(', ')} (default: drawn from the seed)`;

function parseFlags(argv: readonly string[]): SimFlags | string {
  const flags: SimFlags = {
    seeds: 0,
    seed: 1,
    json: false,
    history: false,
    dkg: false,
    combined: false,
    lifecycle: false,
  };
  let seedGiven = false;
  const int = (value: string | undefined, name: string, max: number): number | string => {
    if (value === undefined || !/^\d+$/.test(value)) return `${name} needs a non-negative integer`;
    const n = Number(value);
    return n > max ? `${name} must be at most ${max}` : n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') flags.json = true;
    else if (arg === '--history') flags.history = true;
    else if (arg === '--dkg') flags.dkg = true;
    else if (arg === '--combined') flags.combined = true;
    else if (arg === '--lifecycle') flags.lifecycle = true;
    else if (arg === '--seeds' || arg === '--seed') {
      const n = int(argv[++i], arg, arg === '--seeds' ? limits.simSeedsMax : 2 ** 32 - 1);
      if (typeof n === 'string') return n;
      if (arg === '--seeds') flags.seeds = n;
      else {
        flags.seed = n;
        seedGiven = true;
      }
    } else if (arg === '--adversary') {
      const mode = adversaryModes.find((m) => m === argv[i + 1]);
      if (!mode) return `unknown --adversary ${argv[i + 1] ?? ''}`;
      flags.adversary = mode;
      i += 1;
    } else if (arg === '--scheme') {
      const scheme = schemes.find((m) => m === argv[i + 1]);
      if (!scheme) return `unknown --scheme ${argv[i + 1] ?? ''}`;
      flags.scheme = scheme;
      i += 1;
    } else if (arg === '--kind') {
      const k = argv[++i];
      if (!nemesisKinds.includes(k as NemesisKind)) return `unknown --kind ${k ?? ''}`;
      flags.kind = k as NemesisKind;
    } else return `unknown flag ${arg ?? ''}`;
  }
  if (flags.seeds === 0) flags.seeds = seedGiven ? 1 : 0;
  if (flags.seeds < 1) return '--seeds N (N ≥ 1) or --seed S is required';
  if (flags.lifecycle && flags.scheme === 'ecdsa')
    return '--lifecycle runs FROST wallets (the ecdsa engine has no refresh or reshare)';
  if (flags.seed + flags.seeds - 1 > 2 ** 32 - 1) return 'seed range exceeds 2^32 - 1';
  return flags;
}

/** Entry point wired into `src/cli/main.ts`. */
export async function runSimCommand(argv: string[], io: SimIo): Promise<number> {
  const flags = parseFlags(argv);
  if (typeof flags === 'string') {
    io.err(`${flags}\n${usage}`);
    return 2;
  }
  if (flags.adversary) return runAdversaryCommand(flags, flags.adversary, io);
  const options = {
    ...(flags.kind ? { kind: flags.kind } : {}),
    ...(flags.scheme ? { scheme: flags.scheme } : {}),
    ...(flags.dkg ? { dkg: true } : {}),
    ...(flags.combined ? { combined: true } : {}),
    ...(flags.lifecycle ? { lifecycle: true } : {}),
  };
  if (flags.history) {
    for (let s = flags.seed; s < flags.seed + flags.seeds; s++) {
      const result = await runSeed({ ...options, seed: s });
      for (const e of result.history) io.out(JSON.stringify({ seed: s, ...e }));
    }
  }
  const seeds = Array.from({ length: flags.seeds }, (_, i) => flags.seed + i);
  // The progress line's elapsed time is real time, read through the Env like any clock.
  const env = realEnv({ logLevel: 'silent' });
  const startedMs = env.monoMs();
  const summary = await runCampaign(seeds, options, (done, result) => {
    for (const v of result.report.violations)
      io.err(`seed ${result.seed} (${kindLabel(result)}): ${v.invariant} ${v.message}`);
    if (done % 100 === 0 || done === seeds.length)
      io.err(
        `sim: ${done}/${seeds.length} seeds, ${((env.monoMs() - startedMs) / 1000).toFixed(1)} s`,
      );
  });
  const replay = (seed: number) =>
    `quorate sim --seed ${seed}${flags.kind ? ` --kind ${flags.kind}` : ''}` +
    `${flags.combined ? ' --combined' : ''}${flags.dkg ? ' --dkg' : ''}`;
  if (flags.json) {
    io.out(
      JSON.stringify({
        seeds: summary.seeds,
        sessions: summary.sessions,
        violations: summary.violations,
        availability: summary.availability,
        detectionMsP50: summary.detectionMsP50,
        failFastMsP50: summary.failFastMsP50,
        recoveryMsP50: summary.recoveryMsP50,
        retriesAfterFailure: summary.retriesAfterFailure,
        signedAfterRetry: summary.signedAfterRetry,
        governedSeeds: summary.governedSeeds,
        governed: summary.governed,
      }),
    );
  } else {
    io.out(
      `${summary.seeds} seeds, ${summary.sessions} sessions, ${summary.violations} violations; ` +
        `availability ${(summary.availability * 100).toFixed(3)} % over ${summary.sloRequests} requests ` +
        `with at most n−t faulty parties; detection p50 ${summary.detectionMsP50} ms, ` +
        `fail-fast p50 ${summary.failFastMsP50} ms, recovery p50 ${summary.recoveryMsP50} ms; ` +
        `${summary.retriesAfterFailure} retries of failed intents, ${summary.signedAfterRetry} signed; ` +
        `governed: ${summary.governedSeeds} seeds, ${summary.governed.signed} signed, ` +
        `${summary.governed.denied} denied, ${summary.governed.timedOut} approval timeouts, ` +
        `${summary.governed.approvalsRejected} approvals refused`,
    );
  }
  for (const f of summary.failures)
    io.err(`FAILED seed ${f.seed} (${f.kind}); replay: ${replay(f.seed)}`);
  return summary.violations > 0 ? 1 : 0;
}

/**
 * `--adversary MODE`: real parties against a malicious coordinator or t−1 malicious parties
 * (src/sim/adversary). Prints the summary (one JSON line with `--json`); exit 1 on any
 * violation of A1, A2, A3 or I2.
 */
async function runAdversaryCommand(
  flags: SimFlags,
  mode: AdversaryMode,
  io: SimIo,
): Promise<number> {
  const seeds = Array.from({ length: flags.seeds }, (_, i) => flags.seed + i);
  const env = realEnv({ logLevel: 'silent' });
  const startedMs = env.monoMs();
  const summary = await runAdversaryCampaign(mode, seeds, (done, run) => {
    for (const v of run.violations)
      io.err(`seed ${run.seed} (adversary ${mode}): ${v.invariant} ${v.message}`);
    if (done % 100 === 0 || done === seeds.length)
      io.err(
        `sim: ${done}/${seeds.length} seeds, ${((env.monoMs() - startedMs) / 1000).toFixed(1)} s`,
      );
  });
  if (flags.json) io.out(JSON.stringify(summary));
  else
    io.out(
      `adversary ${mode}: ${summary.seeds} seeds, ${summary.attacksTotal} attacks ` +
        `(${Object.keys(summary.attacks).length} kinds), ${summary.violations.length} violations; ` +
        `${summary.keygens} keygens, ${summary.keygensAborted} aborted; ` +
        `${summary.sharesReleased} shares released by honest parties`,
    );
  for (const v of summary.violations)
    io.err(`FAILED seed ${v.seed}; replay: quorate sim --adversary ${mode} --seed ${v.seed}`);
  return summary.violations.length > 0 ? 1 : 0;
}
