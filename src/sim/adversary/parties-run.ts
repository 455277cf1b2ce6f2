/**
 * One seed of `quorate sim --adversary parties`: t−1 malicious parties (real runtimes with the
 * adversary's engine and link, rogue-parties.ts) among honest ones, all enrolled with one-time
 * tokens at Quorate's REAL coordinator (real-coordinator.ts), which creates wallets by DKG and
 * signs through its own admission, quorum selection and session machine.
 *
 * A quarter of the seeds let the malicious parties attack a wallet creation (bad DKG shares,
 * silence, wrong confirmations): it must fail with a code and activate nothing inconsistent.
 * About a quarter create the signing wallet by DKG with the malicious parties playing along
 * (they keep every DKG share sealed to them); the rest use a fixture wallet. Then two requests
 * are signed through the coordinator with a signing attack on (bad commitments or shares,
 * replays): the spare honest parties sit on slower paths, so the coordinator's latency ranking
 * puts the malicious parties in the first quorum. Cheaters must be blamed and excluded, and the
 * request signed by an honest quorum when one exists, else failed with a code
 * (check-outcomes.ts). At the end the malicious parties pool their key shares and the DKG shares
 * they opened, and try to rebuild the group secret and sign alone.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { seededRandom, type SeededRandom } from '../../core/seeded-random.ts';
import type { Scheme } from '../../protocol/engine.ts';
import { engines, frostSchemeOf } from '../../protocol/frost.ts';
import { coordinatorEngines } from '../../protocol/engines.ts';
import { runEcdsaPartiesSeed } from './parties-ecdsa-run.ts';
import { attackRefresh } from './parties-lifecycle.ts';
import { KeyShares } from '../../party/key-shares.ts';
import type { SessionRecord } from '../../session/record.ts';
import type { AdversaryKeygen } from '../../checker/adversary-types.ts';
import { cleanFault } from '../network.ts';
import { walletKeys } from '../wallet-fixture.ts';
import type { KeygenOutcome, SigningOutcome } from './check-outcomes.ts';
import { targetOf } from './coordinator-run.ts';
import { judgeFor } from './judge.ts';
import { Loot, type TargetWallet } from './loot.ts';
import { PartyObservations } from './observer.ts';
import { RealCoordinator, type Outcome } from './real-coordinator.ts';
import {
  maliciousEngine,
  maliciousLink,
  partyKeygenAttacks,
  partySigningAttacks,
  type AttackPlan,
  type PartyAttack,
} from './rogue-parties.ts';
import { AttackCounts } from './rogue-signing.ts';
import { finishRun, type AdversaryRun } from './run-result.ts';
import { AdversaryWorld } from './world.ts';

const schemesCheap: readonly Scheme[] = ['bip340', 'secp256k1'];

/** Signing requests per seed. */
export const requestsPerSeed = 2;

/**
 * Each request's session deadline (ms): long enough for several attempts after a blame, short
 * enough that a request no honest quorum can sign fails soon (every attempt costs real time).
 */
const requestDeadlineMs = 2_500;

/**
 * Virtual time for every party to enrol and for the coordinator's detector to measure each
 * link's round trip (heartbeats every second) before the first request.
 */
export const warmUpMs = 2_500;

/** Extra one-way delay on the spare honest parties' paths (their RTT ranks them last). */
export const spareDelayMs = 20;

/** What one seed does, drawn from its plan stream. */
interface SeedPlan {
  scheme: Scheme;
  threshold: number;
  parties: string[];
  malicious: string[];
  victim: string;
  keygenAttack: PartyAttack | undefined;
  dkgWallet: boolean;
  signingAttack: PartyAttack;
}

function drawPlan(rng: SeededRandom): SeedPlan {
  const keygenAttacked = rng.chance(1 / 4);
  const dkgWallet = rng.chance(1 / 4);
  // Key generations cost curve arithmetic for every party: those seeds keep n = 3.
  const n = keygenAttacked || dkgWallet || rng.chance(0.5) ? 3 : 4;
  const threshold = n - 1;
  const scheme = schemesCheap[rng.int(0, schemesCheap.length - 1)] ?? 'bip340';
  const parties = Array.from({ length: n }, (_, i) => `p${i + 1}`);
  const pick = (list: readonly PartyAttack[]) =>
    list[rng.int(0, list.length - 1)] ?? 'bad-commitment';
  const keygenAttack = keygenAttacked ? pick(partyKeygenAttacks) : undefined;
  return {
    scheme,
    threshold,
    parties,
    malicious: parties.slice(n - (threshold - 1)),
    victim: parties[0] ?? 'p1',
    keygenAttack,
    dkgWallet,
    signingAttack: pick(partySigningAttacks),
  };
}

/**
 * Share of seeds whose wallet is `ecdsa` (parties-ecdsa-run.ts), drawn from the seed's own
 * stream so every other seed is what it was before ecdsa was attacked (the seeds tests read
 * closely, 1, 8, 10 and 12, stay FROST).
 */
const ecdsaShare = 0.2;

/** Runs one seed: t−1 malicious parties against the real coordinator and honest parties. */
export async function runPartiesSeed(seed: number): Promise<AdversaryRun> {
  const rng = seededRandom(seed, 'adversary-parties-plan');
  if (seededRandom(seed, 'adversary-parties-engine').chance(ecdsaShare))
    return runEcdsaPartiesSeed(seed, rng);
  const plan = drawPlan(rng);
  const observations = new PartyObservations(judgeFor(undefined, new Set(), () => 0));
  const world = new AdversaryWorld(seed, plan.parties, plan.malicious, observations);
  const real = new RealCoordinator(world);
  const loot = new Loot();
  const counts = new AttackCounts();
  const attacks: AttackPlan = { attack: undefined, cheated: new Set() };
  const fixture = plan.dkgWallet
    ? undefined
    : walletKeys(plan.scheme, plan.threshold, plan.parties, 'adversary');
  if (fixture) {
    for (const share of fixture.shares.values()) world.installShare(share);
    await real.installWallet(fixture);
  }
  await startParties(world, real, plan, { attacks, loot, counts });
  const keygens: { record: AdversaryKeygen; outcome: KeygenOutcome }[] = [];
  if (plan.keygenAttack) {
    attacks.attack = plan.keygenAttack;
    keygens.push(await createWallet(real, plan, counts, plan.keygenAttack));
  }
  let target = fixture && targetOf(fixture);
  if (plan.dkgWallet) {
    attacks.attack = undefined;
    const created = await createWallet(real, plan, counts, '');
    keygens.push(created);
    target = created.wallet;
  }
  const requests: SigningOutcome[] = [];
  if (target) {
    attacks.attack = plan.signingAttack;
    for (let i = 0; i < requestsPerSeed; i++)
      requests.push(await signOnce(real, target, bytesToHex(rng.bytes(32)), `intent-${seed}-${i}`));
    attacks.attack = undefined;
    pool(world, plan, loot, counts, target);
  }
  // Half the seeds then refresh the wallet with a dealer attack on, from their own stream.
  const lifecycleRng = seededRandom(seed, 'adversary-parties-lifecycle');
  const lifecycle =
    target && lifecycleRng.chance(0.5)
      ? await attackRefresh(
          world,
          real,
          { attacks, counts, malicious: plan.malicious },
          target,
          lifecycleRng,
        )
      : [];
  const run = finishRun(world, {
    seed,
    mode: 'parties',
    targets: target ? [target] : [],
    loot,
    counts,
    keygens: keygens.map((k) => k.record),
    outcomes: {
      malicious: plan.malicious,
      signingAttack: plan.signingAttack,
      cheated: [...attacks.cheated].sort(),
      requests,
      keygens: keygens.map((k) => k.outcome),
    },
  });
  run.violations.push(...lifecycle);
  return run;
}

/**
 * Starts every party (malicious ones with the adversary's engine and link tap), each enrolling
 * with its own token; slows the spare honest parties' paths; lets the detector warm up.
 */
async function startParties(
  world: AdversaryWorld,
  real: RealCoordinator,
  plan: SeedPlan,
  adversary: { attacks: AttackPlan; loot: Loot; counts: AttackCounts },
): Promise<void> {
  const { attacks, loot, counts } = adversary;
  await world.run(50);
  for (const p of plan.parties) {
    const bad = plan.malicious.includes(p);
    const engine = maliciousEngine(
      engines[frostSchemeOf(plan.scheme)],
      attacks,
      plan.victim,
      loot,
      counts,
    );
    world.startParty(p, {
      enrolToken: await real.invite(p),
      ...(bad ? { engines: { [plan.scheme]: engine } } : {}),
    });
    const identity = world.party(p).identity;
    const tap = bad
      ? (link: Parameters<typeof maliciousLink>[0]) =>
          maliciousLink(link, attacks, identity, counts)
      : undefined;
    if (!bad && p !== plan.victim)
      world.network.setFault(p, 'up', { ...cleanFault(), delayMs: spareDelayMs });
    real.connect(p, tap);
  }
  await world.run(warmUpMs);
}

/** One wallet creation through the coordinator, with the malicious parties' `attack` on. */
async function createWallet(
  real: RealCoordinator,
  plan: SeedPlan,
  counts: AttackCounts,
  attack: PartyAttack | '',
): Promise<{ record: AdversaryKeygen; outcome: KeygenOutcome; wallet?: TargetWallet }> {
  const before = attack === '' ? 0 : (counts.byKind[attack] ?? 0);
  const { scheme, threshold, parties } = plan;
  const created = await real.createWallet({ scheme, threshold, parties });
  const attempted = attack !== '' && (counts.byKind[attack] ?? 0) > before;
  const outcome: KeygenOutcome = {
    attack,
    attempted,
    created: created.ok,
    ...(created.ok ? {} : { code: created.code }),
  };
  const record: AdversaryKeygen = {
    walletId: created.ok ? created.value.walletId : '',
    attacks: attack === '' ? [] : [attack],
    outcome: created.ok ? 'active' : 'aborted',
    note: created.ok ? '' : `${created.code}: ${created.message}`,
  };
  if (!created.ok) return { record, outcome };
  // A created wallet's record has every public fact a fixture has; it holds no shares.
  return { record, outcome, wallet: targetOf({ ...created.value, shares: new Map() }) };
}

/** One signing request through the coordinator, and how it ended. */
export async function signOnce(
  real: RealCoordinator,
  wallet: TargetWallet,
  messageHex: string,
  intentKey: string,
): Promise<SigningOutcome> {
  const answer: Outcome<SessionRecord> = await real.sign(wallet.walletId, {
    messageHex,
    intentKey,
    deadlineMs: requestDeadlineMs,
  });
  const { walletId, threshold, parties } = wallet;
  const base = { walletId, threshold, parties };
  if (!answer.ok)
    return {
      ...base,
      sessionId: '',
      status: 'refused',
      code: answer.code,
      signers: [],
      excluded: [],
      signatureVerifies: false,
    };
  const s = answer.value;
  return {
    ...base,
    sessionId: s.sessionId,
    status: s.status,
    ...(s.error ? { code: s.error.code } : {}),
    signers: s.signers ?? [],
    excluded: s.excluded,
    signatureVerifies: verifies(wallet, messageHex, s.signature),
  };
}

function verifies(wallet: TargetWallet, messageHex: string, signature: string | undefined) {
  if (signature === undefined) return false;
  try {
    return coordinatorEngines[wallet.scheme].verify(
      hexToBytes(signature),
      hexToBytes(messageHex),
      hexToBytes(wallet.publicKey),
    );
  } catch {
    return false;
  }
}

/** The malicious parties pool their own key shares of `target` and try to rebuild and forge. */
function pool(
  world: AdversaryWorld,
  plan: SeedPlan,
  loot: Loot,
  counts: AttackCounts,
  target: TargetWallet,
): void {
  for (const p of plan.malicious) {
    const party = world.party(p);
    const share = new KeyShares(party.journal, party.sealer).get(target.walletId);
    const { identifier, signingShare } = share.secretPackage;
    if (typeof identifier === 'string' && typeof signingShare === 'string')
      loot.ownShare(target.walletId, { identifier, signingShare: hexToBytes(signingShare) });
  }
  counts.add('pool-and-reconstruct');
  loot.exploit([target]);
}
