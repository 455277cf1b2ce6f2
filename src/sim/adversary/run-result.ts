/**
 * The outcome of one adversarial seed, and of a campaign: the attacks attempted by kind, what the
 * checker found (check-adversary.ts), the keygens that were aborted and why. This is the shape
 * `quorate sim --adversary … --json` prints (docs/simulator.md, "Adversaries").
 */
import { checkAdversary } from '../../checker/check-adversary.ts';
import type {
  AdversaryCheckInput,
  AdversaryKeygen,
  AdversaryViolation,
} from '../../checker/adversary-types.ts';
import { checkOutcomes, type OutcomeCheckInput, type OutcomeViolation } from './check-outcomes.ts';
import type { Loot, TargetWallet } from './loot.ts';
import type { AttackCounts } from './rogue-signing.ts';
import type { AdversaryWorld } from './world.ts';

/** One seed's outcome. */
export interface AdversaryRun {
  seed: number;
  mode: 'coordinator' | 'parties';
  attacks: Record<string, number>;
  input: AdversaryCheckInput;
  /** Parties mode: what the real coordinator answered (check-outcomes.ts). */
  outcomes?: OutcomeCheckInput;
  violations: (AdversaryViolation | OutcomeViolation)[];
  /** Refusals honest parties sent, by code. */
  refusals: Record<string, number>;
}

/** Checks a finished run and gathers its outcome. */
export function finishRun(
  world: AdversaryWorld,
  run: {
    seed: number;
    mode: AdversaryRun['mode'];
    targets: readonly TargetWallet[];
    loot: Loot;
    counts: AttackCounts;
    keygens: AdversaryKeygen[];
    outcomes?: OutcomeCheckInput;
  },
): AdversaryRun {
  const { observations } = world;
  const thresholds = Object.fromEntries(run.targets.map((t) => [t.walletId, t.threshold]));
  const input: AdversaryCheckInput = {
    seed: run.seed,
    mode: run.mode,
    thresholds,
    releases: observations.releases,
    staleActions: observations.staleActions,
    activations: observations.activations,
    keygens: run.keygens,
    loot: run.loot.report,
    crashes: world.scheduler.crashes,
  };
  const outcomes = run.outcomes;
  const judged = outcomes === undefined ? [] : checkOutcomes(outcomes);
  return {
    seed: run.seed,
    mode: run.mode,
    attacks: { ...run.counts.byKind },
    input,
    ...(outcomes === undefined ? {} : { outcomes }),
    violations: [...checkAdversary(input), ...judged],
    refusals: { ...observations.refusals },
  };
}

/** A campaign's summary: the `--json` line. */
export interface AdversarySummary {
  mode: 'coordinator' | 'parties';
  seeds: number;
  attacks: Record<string, number>;
  attacksTotal: number;
  violations: { seed: number; invariant: string; message: string }[];
  /** Signing requests through the real coordinator by how they ended (`signed` or a code). */
  requests: Record<string, number>;
  /** Keygens run, and how many ended aborted (with the refusal codes seen). */
  keygens: number;
  keygensAborted: number;
  /** Shares honest parties released, and refusals they sent by code. */
  sharesReleased: number;
  refusals: Record<string, number>;
}

/** Folds seed outcomes into a summary. */
export function summarize(
  mode: AdversaryRun['mode'],
  runs: readonly AdversaryRun[],
): AdversarySummary {
  const attacks: Record<string, number> = {};
  const refusals: Record<string, number> = {};
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  };
  for (const r of runs) {
    add(attacks, r.attacks);
    add(refusals, r.refusals);
  }
  const keygens = runs.flatMap((r) => r.input.keygens);
  const requests: Record<string, number> = {};
  for (const q of runs.flatMap((r) => r.outcomes?.requests ?? [])) {
    const end = q.status === 'signed' ? 'signed' : (q.code ?? q.status);
    requests[end] = (requests[end] ?? 0) + 1;
  }
  const flat = (r: AdversaryRun, v: { invariant: string; message: string }) => ({
    seed: r.seed,
    invariant: v.invariant,
    message: v.message,
  });
  return {
    mode,
    seeds: runs.length,
    attacks,
    attacksTotal: Object.values(attacks).reduce((a, b) => a + b, 0),
    violations: runs.flatMap((r) => r.violations.map((v) => flat(r, v))),
    requests,
    keygens: keygens.length,
    keygensAborted: keygens.filter((k) => k.outcome === 'aborted').length,
    sharesReleased: runs.reduce((a, r) => a + r.input.releases.filter((x) => x.honest).length, 0),
    refusals,
  };
}
