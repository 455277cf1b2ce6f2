/**
 * Setting up the deployment of one seed: its topology, scheme and latency from the seed's plan
 * stream, whether it runs a governed wallet from its governance stream, the cluster, and the
 * wallets (installed from the cached fixture, or created by DKG through the real runtimes).
 */
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import { frostSchemes, type Scheme } from '../protocol/engine.ts';
import { SimCluster } from './cluster.ts';
import { simGovernance, type SimGovernance } from './governed-policy.ts';
import { HistoryRecorder } from './history-recorder.ts';
import { partyNemesisKinds, replicasFor, type NemesisKind } from './nemesis.ts';
import { SimNetwork } from './network.ts';
import { Scheduler } from './scheduler.ts';
import { seededRandom, type SeededRandom } from '../core/seeded-random.ts';
import { walletKeys, type WalletKeys } from './wallet-fixture.ts';

/** What a deployment is asked for; unset fields are drawn from the seed. */
export interface DeployOptions {
  seed: number;
  kind?: NemesisKind;
  scheme?: Scheme;
  /** Create the wallets by DKG through the real runtimes instead of the cached fixture. */
  dkg?: boolean;
  /** Run a governed wallet beside the plain one (default: drawn from the seed). */
  governed?: boolean;
  /** Run `ecdsa` wallets, or (false) the seed's FROST scheme (default: drawn from the seed). */
  ecdsa?: boolean;
  /**
   * A key-lifecycle run (lifecycle-workload.ts): a FROST wallet, no governed one, and a spare
   * party besides the wallet's that reshares swap in and out.
   */
  lifecycle?: boolean;
}

/** A wallet's public facts. */
export interface WalletInfo {
  walletId: string;
  publicKey: string;
  scheme: Scheme;
  threshold: number;
  parties: string[];
}

/** The governed side of a run: its policy and approvers, its wallet, its own random stream. */
export interface GovernedSetup {
  governance: SimGovernance;
  wallet: WalletInfo;
  rng: SeededRandom;
}

/** A deployment, started and connected, with its wallets. */
export interface Deployment {
  seed: number;
  kind: NemesisKind;
  scheme: Scheme;
  threshold: number;
  partyIds: string[];
  /** The seed's plan stream, positioned after the deployment's draws. */
  plan: SeededRandom;
  scheduler: Scheduler;
  network: SimNetwork;
  cluster: SimCluster;
  history: HistoryRecorder;
  wallet: WalletInfo;
  governed?: GovernedSetup;
  /** A lifecycle run's spare party (enrolled and connected, not of the wallet at first). */
  spare?: string;
}

/** Share of seeds that run a governed wallet (drawn from the seed's own governance stream). */
const governedShare = 0.3;
/**
 * Share of seeds whose wallets are `ecdsa` (drawn from the seed's own ecdsa stream). Small: an
 * ecdsa signature costs about 100–200 ms of real CPU where a FROST one costs a few, and the
 * campaign's time is mostly signing.
 */
const ecdsaShare = 0.03;
const connectMs = 500;

/**
 * Builds and starts the deployment of a seed. The plan stream's draws are those of runs before
 * governed wallets existed, and a run without one draws nothing else, so such a run is exactly
 * what it was.
 */
export async function deploy(options: DeployOptions): Promise<Deployment> {
  const { seed } = options;
  const plan = seededRandom(seed, 'plan');
  const kind = options.kind ?? plan.pick(partyNemesisKinds);
  const n = kind === 'bridge' || plan.chance(0.2) ? 5 : 3;
  const threshold = n === 5 ? 3 : 2;
  // The FROST schemes, in the order every recorded seed picked from; a share of the seeds runs
  // ecdsa instead, by a draw of its own stream, so the other seeds are what they always were.
  const frostScheme = plan.pick(frostSchemes);
  const drawnEcdsa = seededRandom(seed, 'ecdsa').chance(ecdsaShare);
  const lifecycle = options.lifecycle === true;
  const ecdsa = !lifecycle && (options.ecdsa ?? drawnEcdsa);
  const scheme: Scheme = options.scheme ?? (ecdsa ? 'ecdsa' : frostScheme);
  const partyIds = Array.from({ length: n }, (_, i) => `p${i + 1}`);
  const scheduler = new Scheduler();
  const network = new SimNetwork(scheduler, seededRandom(seed, 'network'), 1, plan.int(1, 20));
  // Drawn even when the caller decides, so a forced governed run is the seed's own.
  const rng = seededRandom(seed, 'governance');
  const drawn = rng.chance(governedShare);
  const governance =
    !lifecycle && (options.governed ?? drawn) ? simGovernance(rng, partyIds, threshold) : undefined;
  const spare = lifecycle ? `p${n + 1}` : undefined;
  const cluster = new SimCluster(
    scheduler,
    network,
    seed,
    spare === undefined ? partyIds : [...partyIds, spare],
    replicasFor(kind),
    governance && { policy: governance.policy, approvalDeadlineMs: limits.simApprovalWindowMs },
    scheme === 'ecdsa',
    lifecycle,
  );
  const history = new HistoryRecorder(scheduler);
  const dkg = options.dkg === true;
  const fixture = dkg ? undefined : walletKeys(scheme, threshold, partyIds);
  const governedFixture =
    dkg || !governance ? undefined : walletKeys(scheme, threshold, partyIds, 'governed');
  if (fixture) await installWallet(cluster, fixture);
  if (governedFixture && governance) await installWallet(cluster, governedFixture, governance.tier);
  for (let i = 0; i < cluster.coordinatorNodes.length; i++) cluster.startCoordinator(i);
  for (const p of cluster.parties.keys()) cluster.startParty(p);
  await scheduler.runUntil(connectMs);
  const create = (tier?: string) =>
    createWalletByDkg(cluster, scheduler, { scheme, threshold, parties: partyIds, tier });
  const wallet = fixture ?? (await create());
  const governed = governance && {
    governance,
    wallet: governedFixture ?? (await create(governance.tier)),
    rng,
  };
  const deployment = { seed, kind, scheme, threshold, partyIds, plan, scheduler, network };
  return {
    ...deployment,
    cluster,
    history,
    wallet,
    ...(governed ? { governed } : {}),
    ...(spare === undefined ? {} : { spare }),
  };
}

/** Writes a fixture wallet into the store and each party's share into its journal. */
async function installWallet(cluster: SimCluster, keys: WalletKeys, tier?: string): Promise<void> {
  await cluster.store.createWallet({
    walletId: keys.walletId,
    scheme: keys.scheme,
    threshold: keys.threshold,
    parties: keys.parties,
    publicKey: keys.publicKey,
    publicPackage: keys.publicPackage,
    createdMs: 0,
    ...(tier === undefined ? {} : { tier }),
  });
  for (const [partyId, share] of keys.shares) {
    const party = cluster.mustParty(partyId);
    const label = `share:${keys.walletId}`;
    // A governed wallet's tier is recorded with each share, as key generation does.
    const sealed = JSON.stringify(tier === undefined ? share : { ...share, tier });
    party.journal.putSealedShare(keys.walletId, party.sealer.seal(label, utf8ToBytes(sealed)));
  }
}

async function createWalletByDkg(
  cluster: SimCluster,
  scheduler: Scheduler,
  args: { scheme: Scheme; threshold: number; parties: string[]; tier: string | undefined },
): Promise<WalletInfo> {
  const coordinator = cluster.coordinator;
  assert(coordinator !== undefined, 'coordinator running');
  const { tier, ...request } = args;
  let created: WalletInfo | undefined;
  let failure: unknown;
  void coordinator.createWallet({ ...request, ...(tier === undefined ? {} : { tier }) }).then(
    (w) => {
      created = w;
    },
    (error: unknown) => {
      failure = error;
    },
  );
  const deadlineMs =
    args.scheme === 'ecdsa' ? limits.ecdsaKeygenDeadlineMs : limits.keygenDeadlineMs;
  await scheduler.runUntil(
    scheduler.nowMs + deadlineMs,
    () => created !== undefined || failure !== undefined,
  );
  if (!created) throw new Error(`DKG failed in simulation: ${String(failure)}`);
  return created;
}
