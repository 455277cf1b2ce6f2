/**
 * One `ecdsa` seed of `quorate sim --adversary parties`: t−1 malicious signers (real runtimes
 * whose DKLs23 engine the adversary wraps) among honest ones, all enrolled at Quorate's REAL
 * coordinator, on a fixture wallet (2-of-3 or 3-of-5). Two requests are signed with one attack
 * on; the spare honest parties sit on slower paths, so the coordinator's ranking puts the
 * malicious signers in the first quorum. The checks are the FROST seeds' (check-outcomes.ts):
 * every request ends with a code or a verifying signature, no honest party is ever excluded,
 * a cheater whose cheat the coordinator can verify is excluded, and when the honest parties are
 * a quorum the request is signed.
 *
 * Attacks (`rogue-ecdsa-parties.ts`): a round-3 broadcast whose `u` is no scalar (verifiable by
 * the coordinator: it must blame the sender), one whose `w` is a valid scalar but wrong (the
 * signature then fails at every honest signer, which names nobody), a round-1 box to the victim
 * whose content is altered before sealing (the victim's decoding or engine refuses), silence
 * after round 1, and replayed envelopes.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { SeededRandom } from '../../core/seeded-random.ts';
import { dkls23Instance } from '../../party/dkls23-instance.ts';
import { ecdsaPartyEngine } from '../../protocol/ecdsa.ts';
import { cleanFault } from '../network.ts';
import { walletKeys } from '../wallet-fixture.ts';
import { targetOf } from './coordinator-run.ts';
import { judgeFor } from './judge.ts';
import { Loot } from './loot.ts';
import { PartyObservations } from './observer.ts';
import { requestsPerSeed, signOnce, spareDelayMs, warmUpMs } from './parties-run.ts';
import { RealCoordinator } from './real-coordinator.ts';
import { maliciousLink, type AttackPlan } from './rogue-parties.ts';
import { ecdsaPartyAttacks, maliciousEcdsaEngine } from './rogue-ecdsa-parties.ts';
import { AttackCounts } from './rogue-signing.ts';
import { finishRun, type AdversaryRun } from './run-result.ts';
import { AdversaryWorld } from './world.ts';

/** Runs one ecdsa seed of the parties mode; `rng` is the seed's plan stream. */
export async function runEcdsaPartiesSeed(seed: number, rng: SeededRandom): Promise<AdversaryRun> {
  const n = rng.chance(0.2) ? 5 : 3;
  const threshold = n === 5 ? 3 : 2;
  const parties = Array.from({ length: n }, (_, i) => `p${i + 1}`);
  const malicious = parties.slice(n - (threshold - 1));
  const victim = parties[0] ?? 'p1';
  const attack = ecdsaPartyAttacks[rng.int(0, ecdsaPartyAttacks.length - 1)] ?? 'ecdsa-bad-u';
  const observations = new PartyObservations(judgeFor(undefined, new Set(), () => 0));
  const world = new AdversaryWorld(seed, parties, malicious, observations);
  const real = new RealCoordinator(world);
  const counts = new AttackCounts();
  const plan: AttackPlan = { attack: undefined, cheated: new Set() };
  const fixture = walletKeys('ecdsa', threshold, parties, 'adversary');
  for (const share of fixture.shares.values()) world.installShare(share);
  await real.installWallet(fixture);
  await world.run(50);
  const current = { attack: undefined as (typeof ecdsaPartyAttacks)[number] | undefined };
  for (const p of parties) {
    const bad = malicious.includes(p);
    const env = world.party(p).node.env();
    const honestEngine = ecdsaPartyEngine(dkls23Instance((k) => env.randomBytes(k)));
    const engine = bad
      ? maliciousEcdsaEngine(honestEngine, current, plan, victim, counts)
      : honestEngine;
    world.startParty(p, { enrolToken: await real.invite(p), engines: { ecdsa: engine } });
    const identity = world.party(p).identity;
    const tap = bad
      ? (link: Parameters<typeof maliciousLink>[0]) => maliciousLink(link, plan, identity, counts)
      : undefined;
    if (!bad && p !== victim)
      world.network.setFault(p, 'up', { ...cleanFault(), delayMs: spareDelayMs });
    real.connect(p, tap);
  }
  await world.run(warmUpMs);
  const target = targetOf(fixture);
  current.attack = attack;
  // The link's replay attack is the FROST one's; the engine's attacks are ecdsa's own.
  plan.attack = attack === 'ecdsa-replay' ? 'replay-old-envelope' : undefined;
  const requests = [];
  for (let i = 0; i < requestsPerSeed; i++)
    requests.push(await signOnce(real, target, bytesToHex(rng.bytes(32)), `intent-${seed}-${i}`));
  current.attack = undefined;
  plan.attack = undefined;
  return finishRun(world, {
    seed,
    mode: 'parties',
    targets: [target],
    loot: new Loot(),
    counts,
    keygens: [],
    outcomes: {
      malicious,
      signingAttack: attack,
      cheated: [...plan.cheated].sort(),
      requests,
      keygens: [],
    },
  });
}
