/**
 * The simulated deployment: one host per coordinator replica (one, or two in replica runs) and
 * n party hosts, all running the REAL runtimes (`Coordinator`, `PartyRuntime`) over the
 * simulated network, a `MemoryStore` (the durable store: it outlives coordinator crashes) and
 * one `MemoryJournal` per party (the durable journal: it outlives party crashes). In a governed
 * run every coordinator and every party loads the same policy. A crash ends the process
 * incarnation: timers stop, links vanish (peers get a FIN), in-flight store calls never resume;
 * memory is lost.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { Coordinator } from '../coordinator/coordinator.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { MemoryJournal } from '../party/journal-memory.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';
import { dkls23Instance } from '../party/dkls23-instance.ts';
import { PartyRuntime, type PartyTrust, type SecretSealer } from '../party/runtime.ts';
import { ecdsaPartyEngine } from '../protocol/ecdsa.ts';
import { MemoryStore } from '../store/memory.ts';
import type { Store } from '../store/store.ts';
import { issueCertificate } from '../transport/certificate.ts';
import { generateIdentity, type IdentityKeys } from '../transport/identity.ts';
import type { SimNetwork } from './network.ts';
import type { Scheduler } from './scheduler.ts';
import { seededRandom, type SeededRandom } from '../core/seeded-random.ts';
import { Keystore } from '../store/keystore.ts';
import { SimNode, simEpochMs, type Incarnation } from './sim-env.ts';

/** The keystore's AES-256-GCM sealing over a per-party key (no scrypt in the simulator). */
export function simSealer(key: Uint8Array, randomBytes: (n: number) => Uint8Array): SecretSealer {
  return Keystore.fromKey(key, randomBytes);
}

/**
 * A store view for one process: once the process is dead its calls never settle; while its
 * path to the store is cut (`cut()`), calls fail at once as an unreachable etcd would after
 * its request timeout.
 */
function fencedStore(store: Store, incarnation: Incarnation, cut: () => boolean): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        if (!incarnation.alive) return new Promise(() => {});
        if (cut()) {
          return Promise.reject(
            new QuorateError('QUORATE_E_STORE_UNAVAILABLE', 'store unreachable (simulated cut)'),
          );
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** One party host. */
export interface SimParty {
  partyId: string;
  node: SimNode;
  identity: IdentityKeys;
  journal: MemoryJournal;
  sealer: SecretSealer;
  runtime: PartyRuntime | undefined;
}

/** Signing-time rules of a governed run: the coordinator and every party load `policy`. */
export interface SimClusterGovernance {
  policy: LoadedPolicy;
  /** The coordinator's approval window (ms). */
  approvalDeadlineMs: number;
}

/** The whole deployment of one run. */
export class SimCluster {
  /** The durable store; leases are judged on the global virtual clock (not a skewed node's). */
  readonly store: MemoryStore;
  /** Replica 0's host (the only one unless the run has replicas). */
  readonly coordinatorNode: SimNode;
  /** Every coordinator replica's host, by index; all share the store and the party paths. */
  readonly coordinatorNodes: SimNode[];
  /** The running coordinator of each replica (undefined while crashed). */
  readonly coordinators: (Coordinator | undefined)[];
  /** Replicas whose path to the store is cut (lease-expiry nemesis). */
  readonly storeCut: boolean[];
  readonly parties = new Map<string, SimParty>();
  private readonly coordinatorIdentity: IdentityKeys;
  private readonly partySecret: string;
  private readonly crashListeners: ((index: number) => void)[] = [];
  /** The operator's keys of an anchored run (it signs certificates and reshare authorizations). */
  readonly operator: IdentityKeys | undefined;

  constructor(
    private readonly scheduler: Scheduler,
    readonly network: SimNetwork,
    private readonly seed: number,
    partyIds: readonly string[],
    /** Coordinator replicas sharing the store (default 1). */
    replicas = 1,
    /** Present in a governed run: the policy every process loads. */
    private readonly governance?: SimClusterGovernance,
    /**
     * Parties run the `ecdsa` engine: each party process gets a fresh engine instance whose
     * generator its node's Env seeds (a restarted process: a new instance, as a real one).
     * Off in FROST runs, whose parties would otherwise draw the instance's seed from their Env.
     */
    private readonly ecdsa = false,
    /**
     * Anchored parties (lifecycle runs): an operator key from the seed's own stream certifies
     * every party, each party pins it and the coordinator checks the certificates.
     */
    anchored = false,
  ) {
    this.operator = anchored
      ? generateIdentity(seededRandom(seed, 'operator').bytes(64))
      : undefined;
    this.store = new MemoryStore({ clock: { nowMs: () => simEpochMs + scheduler.nowMs } });
    const setup = seededRandom(seed, 'cluster-setup');
    this.partySecret = bytesToHex(setup.bytes(16));
    this.coordinatorNode = this.makeNode('coordinator', setup);
    this.coordinatorIdentity = generateIdentity(setup.bytes(64));
    for (const partyId of partyIds) {
      const node = this.makeNode(partyId, setup);
      this.parties.set(partyId, {
        partyId,
        node,
        identity: generateIdentity(setup.bytes(64)),
        journal: new MemoryJournal(node.env().nowMs()),
        sealer: simSealer(setup.bytes(32), (n) => node.env().randomBytes(n)),
        runtime: undefined,
      });
    }
    // Extra replicas draw from the setup stream after the parties, so runs with one replica
    // are exactly what they were before replicas existed.
    this.coordinatorNodes = [this.coordinatorNode];
    for (let i = 1; i < replicas; i++)
      this.coordinatorNodes.push(this.makeNode(`coordinator-${i + 1}`, setup));
    this.coordinators = this.coordinatorNodes.map(() => undefined);
    this.storeCut = this.coordinatorNodes.map(() => false);
  }

  /** The replica a client reaches: the first one running (any replica answers the API). */
  get coordinator(): Coordinator | undefined {
    return this.coordinators.find((c) => c !== undefined);
  }

  /** The `tryNo`-th running replica, round robin: a retrying client tries the next one. */
  coordinatorFor(tryNo: number): { coordinator: Coordinator; index: number } | undefined {
    const up = this.coordinators.flatMap((c, index) => (c ? [{ coordinator: c, index }] : []));
    return up[tryNo % Math.max(1, up.length)];
  }

  private makeNode(name: string, setup: SeededRandom): SimNode {
    return new SimNode(
      name,
      this.scheduler,
      seededRandom(this.seed, `node/${name}`),
      setup.int(0, 100_000),
    );
  }

  /** Called when a coordinator process dies (clients see their connections reset). */
  onCoordinatorCrash(listener: (index: number) => void): void {
    this.crashListeners.push(listener);
  }

  private replicaNode(index: number): SimNode {
    const node = this.coordinatorNodes[index];
    if (!node) throw new Error(`no coordinator replica ${index}`);
    return node;
  }

  /**
   * Starts replica `index` on its host (first start or restart). Every replica presents the
   * one coordinator identity; its owner id is its host name, stable across restarts.
   */
  startCoordinator(index = 0): void {
    const node = this.replicaNode(index);
    const coordinator = new Coordinator({
      env: node.env(),
      store: fencedStore(this.store, node.incarnation, () => this.storeCut[index] === true),
      identity: this.coordinatorIdentity,
      partySecret: this.partySecret,
      ownerId: node.name,
      ...(this.operator === undefined ? {} : { operatorKey: this.operator.signPublic }),
      ...(this.governance
        ? {
            policy: this.governance.policy,
            approvalDeadlineMs: this.governance.approvalDeadlineMs,
          }
        : {}),
    });
    this.coordinators[index] = coordinator;
    void coordinator.start();
  }

  crashCoordinator(index = 0): void {
    const node = this.replicaNode(index);
    if (!node.up) return;
    node.crash();
    this.network.killEndsOf(node.incarnation);
    this.coordinators[index] = undefined;
    for (const l of this.crashListeners) l(index);
  }

  restartCoordinator(index = 0): void {
    const node = this.replicaNode(index);
    if (node.up) return;
    node.restart();
    this.startCoordinator(index);
  }

  /** Cuts (or restores) replica `index`'s path to the store. */
  setStoreCut(index: number, cut: boolean): void {
    this.storeCut[index] = cut;
  }

  /** Starts a party process: a new runtime over the durable journal, dialing out. */
  startParty(partyId: string): void {
    const party = this.mustParty(partyId);
    const env = party.node.env();
    const runtime = new PartyRuntime({
      partyId,
      env,
      journal: party.journal,
      sealer: party.sealer,
      identity: party.identity,
      partySecret: this.partySecret,
      ...(this.operator === undefined ? {} : { trust: this.trustOf(party, this.operator) }),
      // A governed deployment also runs an ungoverned wallet on the same parties.
      ...(this.governance ? { policy: this.governance.policy, allowUngoverned: true } : {}),
      ...(this.ecdsa
        ? { engines: { ecdsa: ecdsaPartyEngine(dkls23Instance((n) => env.randomBytes(n))) } }
        : {}),
    });
    party.runtime = runtime;
    // One dialer per replica, for the life of this party process (each reconnects on its own).
    for (let i = 0; i < this.coordinatorNodes.length; i++)
      new SimDialer(this, party, party.node.incarnation, i).start();
  }

  /** A party's pinned operator key and its certificate (issued at time 0 of the run). */
  private trustOf(party: SimParty, operator: IdentityKeys): PartyTrust {
    const subject = {
      partyId: party.partyId,
      identityKey: bytesToHex(party.identity.signPublic),
      boxKey: bytesToHex(party.identity.boxPublic),
    };
    const certificate = issueCertificate(operator.signSecret, operator.signPublic, subject, 0);
    return { operatorKey: operator.signPublic, certificate };
  }

  crashParty(partyId: string): void {
    const party = this.mustParty(partyId);
    if (!party.node.up) return;
    party.node.crash();
    this.network.killEndsOf(party.node.incarnation);
    party.runtime = undefined;
    party.journal.close();
  }

  restartParty(partyId: string): void {
    const party = this.mustParty(partyId);
    if (party.node.up) return;
    party.node.restart();
    party.journal.reopen(party.node.env().nowMs());
    this.startParty(partyId);
  }

  mustParty(partyId: string): SimParty {
    const party = this.parties.get(partyId);
    if (!party) throw new Error(`unknown party ${partyId}`);
    return party;
  }
}

/**
 * The simulator's counterpart of `ReconnectingClient`: same capped exponential backoff with
 * jitter from the party's rng; a dial succeeds after one round trip if the path is open both
 * ways and the coordinator process is up, is refused after one round trip if the coordinator
 * is down, and times out after `handshakeMsMax` if the path is blocked.
 */
class SimDialer {
  private attempt = 0;
  private readonly env;

  constructor(
    private readonly cluster: SimCluster,
    private readonly party: SimParty,
    private readonly incarnation: Incarnation,
    private readonly replica: number,
  ) {
    this.env = party.node.env();
  }

  start(): void {
    this.dial();
  }

  private dial(): void {
    if (!this.incarnation.alive) return;
    const net = this.cluster.network;
    const id = this.party.partyId;
    const open = net.pathOpen(id, 'up') && net.pathOpen(id, 'down');
    if (!open) {
      this.env.setTimer(limits.handshakeMsMax, () => this.scheduleReconnect());
      return;
    }
    this.env.setTimer(net.handshakeRttMs(), () => this.complete());
  }

  private complete(): void {
    const { cluster, party } = this;
    const coordinator = cluster.coordinators[this.replica];
    const net = cluster.network;
    const open = net.pathOpen(party.partyId, 'up') && net.pathOpen(party.partyId, 'down');
    if (!coordinator || !open || !party.runtime) {
      this.scheduleReconnect();
      return;
    }
    const replicaNode = cluster.coordinatorNodes[this.replica] as SimNode;
    const conn = net.connect(party.partyId, this.incarnation, replicaNode.incarnation);
    // As ReconnectingClient: the backoff starts over only once a connection stayed open
    // partyReconnectStableMs, never on every open (issue 12 finding 7).
    const cancelStable = this.env.setTimer(limits.partyReconnectStableMs, () => {
      if (conn.partyEnd.isOpen) this.attempt = 0;
    });
    conn.partyEnd.onClose(() => {
      cancelStable();
      this.scheduleReconnect();
    });
    coordinator.acceptLink(conn.coordinatorEnd);
    party.runtime.attach(conn.partyEnd);
  }

  private scheduleReconnect(): void {
    if (!this.incarnation.alive) return;
    const base = Math.min(
      limits.reconnectDelayMsMax,
      limits.reconnectDelayMsMin * 2 ** Math.min(this.attempt, 10),
    );
    const jitter = ((this.env.randomBytes(1)[0] ?? 0) / 255) * base * 0.5;
    this.attempt += 1;
    this.env.setTimer(base / 2 + jitter, () => this.dial());
  }
}
