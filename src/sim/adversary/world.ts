/**
 * The simulated world of one adversarial seed: the simulator's virtual clock, hosts and network
 * (scheduler.ts, sim-env.ts, network.ts), an operator key drawn from the seed that certifies
 * every party (the trust anchor parties pin), and the REAL party runtimes over memory journals,
 * each connected through an {@link ObservedLink} so the harness records what every party
 * received and released without touching party code. Who sits on the other end of each link
 * (a malicious coordinator, or the real one) is the caller's business.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { seededRandom, type SeededRandom } from '../../core/seeded-random.ts';
import type { LoadedPolicy } from '../../policy/rules/index.ts';
import type { KeyShare, PartyEngine, Scheme } from '../../protocol/engine.ts';
import { KeyShares } from '../../party/key-shares.ts';
import { PartyRuntime, type SecretSealer } from '../../party/runtime.ts';
import { issueCertificate, type PartyCertificate } from '../../transport/certificate.ts';
import { generateIdentity, type IdentityKeys } from '../../transport/identity.ts';
import type { Link } from '../../transport/link.ts';
import { simSealer } from '../cluster.ts';
import { SimNetwork } from '../network.ts';
import { Scheduler } from '../scheduler.ts';
import { SimNode } from '../sim-env.ts';
import { ObservedJournal, ObservedLink, type PartyObservations } from './observer.ts';

/** One party host of an adversarial run. */
export interface WorldParty {
  partyId: string;
  node: SimNode;
  identity: IdentityKeys;
  journal: ObservedJournal;
  sealer: SecretSealer;
  certificate: PartyCertificate;
  /** False for the adversary's own parties (parties mode). */
  honest: boolean;
  runtime: PartyRuntime | undefined;
}

/** How a party process is started. */
export interface PartyStart {
  /** The coordinator key the party pins (64 hex); without it, the first one seen (TOFU). */
  coordinatorKey?: string;
  partySecret?: string;
  /** A one-time enrolment token the coordinator issued for this party id. */
  enrolToken?: string;
  policy?: LoadedPolicy;
  /** With a policy, also take part in key generations without a tier. */
  allowUngoverned?: boolean;
  engines?: Partial<Record<Scheme, PartyEngine>>;
}

/** The hosts, network, operator and parties of one adversarial seed. */
export class AdversaryWorld {
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork;
  readonly setup: SeededRandom;
  readonly operator: { secret: Uint8Array; publicKey: Uint8Array };
  readonly coordinatorNode: SimNode;
  readonly coordinatorIdentity: IdentityKeys;
  readonly parties = new Map<string, WorldParty>();
  readonly observations: PartyObservations;

  constructor(
    readonly seed: number,
    partyIds: readonly string[],
    malicious: readonly string[],
    observations: PartyObservations,
  ) {
    this.observations = observations;
    this.setup = seededRandom(seed, 'adversary-setup');
    this.network = new SimNetwork(this.scheduler, seededRandom(seed, 'network'), 1, 5);
    const secret = this.setup.bytes(32);
    this.operator = { secret, publicKey: ed25519.getPublicKey(secret) };
    this.coordinatorNode = this.makeNode('coordinator');
    this.coordinatorIdentity = generateIdentity(this.setup.bytes(64));
    for (const partyId of partyIds) {
      const node = this.makeNode(partyId);
      const identity = generateIdentity(this.setup.bytes(64));
      const honest = !malicious.includes(partyId);
      const sealer = simSealer(this.setup.bytes(32), (n) => node.env().randomBytes(n));
      const journal = new ObservedJournal(node.env().nowMs(), (walletId, sealed) =>
        observations.stored(partyId, honest, walletId, sealer, sealed),
      );
      const subject = {
        partyId,
        identityKey: bytesToHex(identity.signPublic),
        boxKey: bytesToHex(identity.boxPublic),
      };
      const certificate = issueCertificate(secret, this.operator.publicKey, subject, 0);
      const party = { partyId, node, identity, journal, sealer, certificate, honest };
      this.parties.set(partyId, { ...party, runtime: undefined });
    }
  }

  private makeNode(name: string): SimNode {
    return new SimNode(
      name,
      this.scheduler,
      seededRandom(this.seed, `node/${name}`),
      this.setup.int(0, 100_000),
    );
  }

  /** The party of `partyId` (a programmer error if unknown). */
  party(partyId: string): WorldParty {
    const party = this.parties.get(partyId);
    if (!party) throw new Error(`unknown party ${partyId}`);
    return party;
  }

  /** Puts a pre-generated share into a party's journal, sealed, as key generation would. */
  installShare(share: KeyShare): void {
    const party = this.party(share.partyId);
    new KeyShares(party.journal, party.sealer).put(share);
  }

  /** Starts the real runtime of `partyId`, pinning the operator key and its certificate. */
  startParty(partyId: string, start: PartyStart): PartyRuntime {
    const party = this.party(partyId);
    const runtime = new PartyRuntime({
      partyId,
      env: party.node.env(),
      journal: party.journal,
      sealer: party.sealer,
      identity: party.identity,
      ...(start.coordinatorKey === undefined ? {} : { coordinatorKey: start.coordinatorKey }),
      trust: { operatorKey: this.operator.publicKey, certificate: party.certificate },
      ...(start.partySecret === undefined ? {} : { partySecret: start.partySecret }),
      ...(start.enrolToken === undefined ? {} : { enrolToken: start.enrolToken }),
      ...(start.policy === undefined ? {} : { policy: start.policy }),
      ...(start.allowUngoverned === true ? { allowUngoverned: true } : {}),
      ...(start.engines === undefined ? {} : { engines: start.engines }),
    });
    party.runtime = runtime;
    return runtime;
  }

  /**
   * Opens a connection from `partyId` to the coordinator host (`coordinatorNode`, by default
   * the world's own): the party's end goes to its runtime through an observed link, the
   * coordinator's end is returned.
   */
  connect(
    partyId: string,
    tap?: (link: Link) => Link,
    coordinatorNode = this.coordinatorNode,
  ): Link {
    const party = this.party(partyId);
    const conn = this.network.connect(partyId, party.node.incarnation, coordinatorNode.incarnation);
    const observed = new ObservedLink(conn.partyEnd, partyId, party.honest, this.observations);
    party.runtime?.attach(tap ? tap(observed) : observed);
    return conn.coordinatorEnd;
  }

  /** Runs the virtual clock `ms` further. */
  async run(ms: number): Promise<void> {
    await this.scheduler.runUntil(this.scheduler.nowMs + ms);
  }
}
