/**
 * One seed of `quorate sim --adversary parties`: t−1 malicious parties (real runtimes with the
 * adversary's engine and link, rogue-parties.ts) among honest ones, driven by a faithful
 * coordinator (the rogue's wire end running only the honest flows). A third of the seeds run a
 * real DKG attacked by the malicious parties; every seed signs twice on a fixture wallet with a
 * malicious signer in the quorum. At the end the malicious parties pool their own key shares and
 * every DKG share they opened, and try to rebuild the group secret and sign alone.
 */
import { seededRandom } from '../../core/seeded-random.ts';
import type { Scheme } from '../../protocol/engine.ts';
import { engines } from '../../protocol/frost.ts';
import { KeyShares } from '../../party/key-shares.ts';
import type { AdversaryKeygen } from '../../checker/adversary-types.ts';
import { walletKeys } from '../wallet-fixture.ts';
import { targetOf } from './coordinator-run.ts';
import { judgeFor } from './judge.ts';
import { Loot } from './loot.ts';
import { PartyObservations } from './observer.ts';
import { RogueCoordinator } from './rogue-coordinator.ts';
import { RogueKeygen } from './rogue-keygen.ts';
import {
  maliciousEngine,
  maliciousLink,
  partyKeygenAttacks,
  partySigningAttacks,
  type PartyAttack,
} from './rogue-parties.ts';
import { AttackCounts, RogueSigning } from './rogue-signing.ts';
import { finishRun, type AdversaryRun } from './run-result.ts';
import { AdversaryWorld } from './world.ts';

const schemesCheap: readonly Scheme[] = ['bip340', 'secp256k1'];

/** Runs one seed against t−1 malicious parties. */
export async function runPartiesSeed(seed: number): Promise<AdversaryRun> {
  const rng = seededRandom(seed, 'adversary-parties-plan');
  const dkg = rng.chance(1 / 3);
  const n = dkg || rng.chance(0.5) ? 3 : 4;
  const threshold = n - 1;
  const scheme = schemesCheap[rng.int(0, schemesCheap.length - 1)] ?? 'bip340';
  const parties = Array.from({ length: n }, (_, i) => `p${i + 1}`);
  const malicious = parties.slice(n - (threshold - 1));
  const victim = parties[0] ?? 'p1';
  const pick = (list: readonly PartyAttack[]) =>
    list[rng.int(0, list.length - 1)] ?? 'bad-commitment';
  const attack = dkg ? pick(partyKeygenAttacks) : pick(partySigningAttacks);
  const observations = new PartyObservations(judgeFor(undefined, new Set(), () => 0));
  const world = new AdversaryWorld(seed, parties, malicious, observations);
  const coordinator = new RogueCoordinator(world.coordinatorNode.env(), world.coordinatorIdentity);
  const loot = new Loot();
  const counts = new AttackCounts();
  const plain = walletKeys(scheme, threshold, parties, 'adversary');
  for (const share of plain.shares.values()) world.installShare(share);
  for (const p of parties) {
    const bad = malicious.includes(p);
    const engine = maliciousEngine(engines[scheme], attack, victim, loot, counts);
    world.startParty(p, {
      coordinatorKey: coordinator.coordinatorKey,
      ...(bad ? { engines: { [scheme]: engine } } : {}),
    });
    const identity = world.party(p).identity;
    const tap = bad
      ? (link: Parameters<typeof maliciousLink>[0]) => maliciousLink(link, attack, identity, counts)
      : undefined;
    coordinator.accept(p, world.connect(p, tap));
  }
  await world.run(50);
  const target = targetOf(plain);
  loot.publicPackage(plain.walletId, plain.publicPackage);
  const keygens: AdversaryKeygen[] = [];
  if (dkg) {
    const keygen = new RogueKeygen(world, coordinator, loot, new AttackCounts(), observations, rng);
    const result = await keygen.run('honest-dkg', scheme, threshold, parties);
    keygens.push({ ...result, attacks: [attack] });
  }
  const signing = new RogueSigning(
    world,
    coordinator,
    loot,
    new AttackCounts(),
    rng,
    target,
    undefined,
  );
  for (let i = 0; i < 2; i++) await signing.signWith([...malicious, victim]);
  for (const p of malicious) {
    const share = new KeyShares(world.party(p).journal, world.party(p).sealer).get(plain.walletId);
    const { identifier, signingShare } = share.secretPackage;
    if (typeof identifier === 'string' && typeof signingShare === 'string')
      loot.ownShare(plain.walletId, {
        identifier,
        signingShare: Uint8Array.from(Buffer.from(signingShare, 'hex')),
      });
  }
  counts.add('pool-and-reconstruct');
  loot.exploit([target]);
  return finishRun(world, { seed, mode: 'parties', targets: [target], loot, counts, keygens });
}
