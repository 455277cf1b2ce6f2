/**
 * Runs many adversarial seeds of one mode and folds them into the summary that
 * `quorate sim --adversary coordinator|parties --json` prints.
 */
import { runCoordinatorSeed } from './coordinator-run.ts';
import { runPartiesSeed } from './parties-run.ts';
import { summarize, type AdversaryRun, type AdversarySummary } from './run-result.ts';

/** The adversaries the simulator knows. */
export const adversaryModes = ['coordinator', 'parties'] as const;
export type AdversaryMode = (typeof adversaryModes)[number];

/** Runs one seed of `mode`. */
export function runAdversarySeed(mode: AdversaryMode, seed: number): Promise<AdversaryRun> {
  return mode === 'coordinator' ? runCoordinatorSeed(seed) : runPartiesSeed(seed);
}

/** Runs `seeds` in order, calling `progress` after each. */
export async function runAdversaryCampaign(
  mode: AdversaryMode,
  seeds: readonly number[],
  progress: (done: number, run: AdversaryRun) => void = () => {},
): Promise<AdversarySummary> {
  const runs: AdversaryRun[] = [];
  for (const [i, seed] of seeds.entries()) {
    const run = await runAdversarySeed(mode, seed);
    // Keep only what the summary reads: a long campaign must not hold every history.
    runs.push({ ...run, input: { ...run.input, activations: [], loot: emptyLoot } });
    progress(i + 1, run);
  }
  return summarize(mode, runs);
}

const emptyLoot = { openedShares: [], reconstructions: [], forgeries: [] };
