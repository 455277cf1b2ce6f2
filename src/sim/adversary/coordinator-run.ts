/**
 * One seed of `quorate sim --adversary coordinator`: real parties (certified by the seed's
 * operator key, pinning the rogue's coordinator key, holding a plain and a governed wallet's
 * real shares) against the rogue coordinator, which runs a seeded mix of signing attacks and
 * one attacked key generation (a full DKG in a quarter of the seeds; key substitution, cheap
 * because refused at keygen-start, in the rest). At the end the adversary tries to profit
 * (loot.ts), and the checker judges what every party did (check-adversary.ts).
 */
import { seededRandom } from '../../core/seeded-random.ts';
import type { Scheme } from '../../protocol/engine.ts';
import type { AdversaryKeygen } from '../../checker/adversary-types.ts';
import { simGovernance, type SimGovernance } from '../governed-policy.ts';
import { walletKeys, type WalletKeys } from '../wallet-fixture.ts';
import { runEcdsaCoordinatorSeed } from './coordinator-ecdsa-run.ts';
import { judgeFor } from './judge.ts';
import { Loot, type TargetWallet } from './loot.ts';
import { PartyObservations } from './observer.ts';
import { RogueCoordinator } from './rogue-coordinator.ts';
import { keygenAttacks, RogueKeygen, type KeygenAttack } from './rogue-keygen.ts';
import { lifecycleAttacks, RogueLifecycle } from './rogue-lifecycle.ts';
import { AttackCounts, RogueSigning } from './rogue-signing.ts';
import { finishRun, type AdversaryRun } from './run-result.ts';
import { AdversaryWorld, type PartyStart } from './world.ts';

/** Signing attacks per seed (each a few FROST rounds). */
const attacksPerSeed = 2;

const schemesCheap: readonly Scheme[] = ['bip340', 'secp256k1', 'ed25519'];

const governances = new Map<string, SimGovernance>();

/**
 * The governed wallets' policy and approvers for a shape, built once per process (compiling
 * the rules costs ~20 ms) from a fixed stream: the adversary never holds the approvers' keys.
 */
export function governanceFor(parties: string[], threshold: number): SimGovernance {
  const label = `${threshold}/${parties.join(',')}`;
  const cached = governances.get(label);
  if (cached) return cached;
  const made = simGovernance(
    seededRandom(0, `adversary-governance/${label}`),
    parties,
    threshold,
    parties[0],
  );
  governances.set(label, made);
  return made;
}

/** The target facts of a fixture wallet. */
export function targetOf(keys: WalletKeys): TargetWallet {
  const commitments = keys.publicPackage['commitments'];
  const first: unknown = Array.isArray(commitments) ? commitments[0] : undefined;
  return {
    walletId: keys.walletId,
    scheme: keys.scheme,
    threshold: keys.threshold,
    parties: keys.parties,
    publicKey: keys.publicKey,
    groupCommitment: typeof first === 'string' ? first : '',
  };
}

/**
 * Share of seeds whose wallets are `ecdsa` (coordinator-ecdsa-run.ts), drawn from the seed's own
 * stream so every other seed is what it was before ecdsa was attacked.
 */
const ecdsaShare = 0.2;

/**
 * The world of a coordinator seed: the parties of `plain`, certified, pinning the rogue's key,
 * holding `plain`'s shares and `governed`'s (with its tier), each connected to the rogue and
 * running `engines(partyId)` besides the FROST ones.
 */
export async function rogueWorld(
  seed: number,
  governance: SimGovernance,
  plain: WalletKeys,
  governed: WalletKeys,
  engines?: (world: AdversaryWorld, partyId: string) => PartyStart['engines'],
): Promise<{ world: AdversaryWorld; rogue: RogueCoordinator; observations: PartyObservations }> {
  let nowMs = () => 0;
  const governedIds = new Set([governed.walletId]);
  const observations = new PartyObservations(judgeFor(governance, governedIds, () => nowMs()));
  const world = new AdversaryWorld(seed, plain.parties, [], observations);
  nowMs = () => world.coordinatorNode.env().nowMs();
  const rogue = new RogueCoordinator(world.coordinatorNode.env(), world.coordinatorIdentity);
  for (const share of plain.shares.values()) world.installShare(share);
  for (const share of governed.shares.values())
    world.installShare({ ...share, tier: governance.tier });
  for (const p of plain.parties) {
    // The parties hold an ungoverned and a governed wallet: their operators allow both, so the
    // key generations the rogue attacks (tier-less) reach the trust checks.
    const own = engines?.(world, p);
    world.startParty(p, {
      coordinatorKey: rogue.coordinatorKey,
      policy: governance.policy,
      allowUngoverned: true,
      ...(own === undefined ? {} : { engines: own }),
    });
    rogue.accept(p, world.connect(p));
  }
  await world.run(50);
  return { world, rogue, observations };
}

/** Runs one seed against a malicious coordinator. */
export async function runCoordinatorSeed(seed: number): Promise<AdversaryRun> {
  const rng = seededRandom(seed, 'adversary-plan');
  if (seededRandom(seed, 'adversary-ecdsa').chance(ecdsaShare))
    return runEcdsaCoordinatorSeed(seed, rng);
  const n = rng.chance(0.5) ? 3 : 4;
  const threshold = n - 1;
  const scheme = schemesCheap[rng.int(0, schemesCheap.length - 1)] ?? 'bip340';
  const parties = Array.from({ length: n }, (_, i) => `p${i + 1}`);
  const governance = governanceFor(parties, threshold);
  const plain = walletKeys(scheme, threshold, parties, 'adversary');
  const governed = walletKeys(scheme, threshold, parties, 'adversary-governed');
  const { world, rogue, observations } = await rogueWorld(seed, governance, plain, governed);
  const loot = new Loot();
  const counts = new AttackCounts();
  const targets = [targetOf(plain), targetOf(governed)];
  for (const keys of [plain, governed]) loot.publicPackage(keys.walletId, keys.publicPackage);
  const signing = new RogueSigning(world, rogue, loot, counts, rng, targets[0] as TargetWallet, {
    wallet: targets[1] as TargetWallet,
    governance,
  });
  const names = Object.keys(signing.catalogue);
  for (let i = 0; i < attacksPerSeed; i++) {
    const name = names[rng.int(0, names.length - 1)] ?? 'honest-signing';
    await signing.catalogue[name]?.();
  }
  const keygen = new RogueKeygen(world, rogue, loot, counts, observations, rng);
  // A full DKG costs 50–400 ms of curve arithmetic: one seed in five runs one (3 parties).
  const fullDkg = n === 3 && scheme !== 'ed25519' && rng.chance(0.4);
  const attack: KeygenAttack = fullDkg
    ? ((['honest-dkg', 'dkg-equivocation', 'confirmation-tamper'] as const)[rng.int(0, 2)] ??
      'honest-dkg')
    : (keygenAttacks[rng.int(1, 4)] ?? 'key-substitution-no-cert');
  const keygens: AdversaryKeygen[] = [await keygen.run(attack, scheme, threshold, parties)];
  // One lifecycle attack on the plain wallet, drawn from its own stream (the rest is unchanged).
  const lifecycleRng = seededRandom(seed, 'adversary-lifecycle');
  const lifecycle = new RogueLifecycle(
    world,
    rogue,
    counts,
    lifecycleRng,
    targets[0] as TargetWallet,
    plain.publicPackage,
  );
  await lifecycle.run(
    lifecycleAttacks[lifecycleRng.int(0, lifecycleAttacks.length - 1)] ?? 'erase-without-evidence',
  );
  loot.exploit(targets);
  const run = finishRun(world, { seed, mode: 'coordinator', targets, loot, counts, keygens });
  run.violations.push(...lifecycle.violations);
  return run;
}
