/**
 * One `ecdsa` seed of `quorate sim --adversary coordinator`: real parties, each with its own
 * DKLs23 engine instance (seeded by its node's Env), holding a plain and a governed wallet's
 * real shares (the committed fixture key sets), against the rogue coordinator running a seeded
 * mix of the ecdsa signing attacks (rogue-ecdsa.ts). At the end the rogue combines every set of
 * round-3 broadcasts it holds into signatures (A1), and the checker judges what every party did
 * (check-adversary.ts). Key generation attacks run on the FROST seeds; the ecdsa key generation
 * shares their trust checks (keygen-start, certificates), which those seeds exercise.
 */
import type { SeededRandom } from '../../core/seeded-random.ts';
import { dkls23Instance } from '../../party/dkls23-instance.ts';
import { ecdsaPartyEngine } from '../../protocol/ecdsa.ts';
import type { Payload } from '../../protocol/engine.ts';
import { walletKeys } from '../wallet-fixture.ts';
import { governanceFor, rogueWorld, targetOf } from './coordinator-run.ts';
import { Loot } from './loot.ts';
import { RogueEcdsaSigning } from './rogue-ecdsa.ts';
import { AttackCounts } from './rogue-signing.ts';
import { finishRun, type AdversaryRun } from './run-result.ts';

/** Signing attacks per ecdsa seed (each up to four engine phases per signer). */
const attacksPerSeed = 3;

/** Runs one ecdsa seed against a malicious coordinator; `rng` is the seed's plan stream. */
export async function runEcdsaCoordinatorSeed(
  seed: number,
  rng: SeededRandom,
): Promise<AdversaryRun> {
  const n = rng.chance(0.2) ? 5 : 3;
  const threshold = n === 5 ? 3 : 2;
  const parties = Array.from({ length: n }, (_, i) => `p${i + 1}`);
  const governance = governanceFor(parties, threshold);
  const plain = walletKeys('ecdsa', threshold, parties, 'adversary');
  const governed = walletKeys('ecdsa', threshold, parties, 'adversary-governed');
  const { world, rogue } = await rogueWorld(seed, governance, plain, governed, (w, p) => {
    const env = w.party(p).node.env();
    return { ecdsa: ecdsaPartyEngine(dkls23Instance((k) => env.randomBytes(k))) };
  });
  const counts = new AttackCounts();
  const targets = [targetOf(plain), targetOf(governed)];
  const packages = new Map<string, Payload>(
    [plain, governed].map((k) => [k.walletId, k.publicPackage]),
  );
  const [target, governedTarget] = targets;
  if (!target || !governedTarget) throw new Error('two target wallets');
  const loot = new Loot();
  const signing = new RogueEcdsaSigning(world, rogue, counts, loot, rng, target, packages, {
    wallet: governedTarget,
    governance,
  });
  const names = Object.keys(signing.catalogue);
  for (let i = 0; i < attacksPerSeed; i++) {
    const name = names[rng.int(0, names.length - 1)] ?? 'ecdsa-honest';
    await signing.catalogue[name]?.();
  }
  signing.combineReleases(targets);
  return finishRun(world, { seed, mode: 'coordinator', targets, loot, counts, keygens: [] });
}
