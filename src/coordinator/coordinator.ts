/**
 * The coordinator runtime: wires the party registry, the session runners, ownership (store
 * lease and takeover), admission, approvals, governance and wallet creation. Stateless apart
 * from the store: on start it takes back every session its earlier incarnation owned and every
 * session whose owner is gone, and drives each by a new attempt with a higher fencing token (or
 * fails it if its deadline passed).
 */

import { prepareSignRequest } from './transactions.ts';
import type { Env } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';
import type { Scheme, SignatureEngine } from '../protocol/engine.ts';
import { coordinatorEngines } from '../protocol/engines.ts';
import type { SessionRecord } from '../session/record.ts';
import type { SessionApproval } from '../session/session-policy.ts';
import { defaultTimeoutPolicy, type TimeoutPolicy } from '../session/timeouts.ts';
import type {
  Lease,
  Page,
  SessionPageQuery,
  Store,
  Versioned,
  WalletPageQuery,
  OperationRecord,
  WalletRecord,
} from '../store/store.ts';
import type { IdentityKeys } from '../transport/identity.ts';
import type { Link } from '../transport/link.ts';
import { Admission, type SignRequest } from './admission.ts';
import { Approvals } from './approvals.ts';
import { Governance } from './governance.ts';
import { CoordinatorMetrics } from './metrics.ts';
import { Ownership } from './ownership.ts';
import { PartyRegistry, defaultDetectorOptions, type DetectorOptions } from './party-registry.ts';
import { ReplicaLease } from './replica-lease.ts';
import { SessionRunners } from './runners.ts';
import { Lifecycle, type LifecycleRequest } from './lifecycle.ts';
import { Wallets, type CreateWalletRequest } from './wallets.ts';

export type { SignRequest } from './admission.ts';

/** Coordinator configuration. */
export interface CoordinatorOptions {
  env: Env;
  store: Store;
  identity: IdentityKeys;
  partySecret?: string;
  detector?: DetectorOptions;
  timeoutPolicy?: TimeoutPolicy;
  /** After a restart, how long to wait for parties to reconnect before re-driving sessions. */
  recoveryGraceMs?: number;
  /** Signing-time rules (policy file with a `rules:` section), if this deployment uses them. */
  policy?: LoadedPolicy;
  /** How long a governed session may wait for approvals (default limits.approvalDeadlineMsDefault). */
  approvalDeadlineMs?: number;
  /**
   * This replica's identity as a session owner: stable across restarts of the same replica
   * (so a restarted replica takes its own sessions back at once), distinct between replicas.
   * Default `coordinator` (one coordinator on its own store).
   */
  ownerId?: string;
  /** Store lease ttl (default limits.coordinatorLeaseTtlMsDefault); renewed every ttl/3. */
  leaseTtlMs?: number;
  /** How often to look for sessions whose owner's lease expired (default limits.coordinatorLeaseScanMsDefault). */
  scanIntervalMs?: number;
  /**
   * The operator key parties are certified under (docs/security.md): with it, a hello whose
   * certificate does not verify under this key is refused at enrolment (defence in depth; each
   * party checks its peers' certificates itself at key generation).
   */
  operatorKey?: Uint8Array;
  /** Protocol engines by scheme (default: the FROST engines); a party must run the same ones. */
  engines?: Partial<Record<Scheme, SignatureEngine>>;
}

/** An approval as posted by an approver. */
export type ApprovalRequest = SessionApproval;

/** The coordinator. */
export class Coordinator {
  readonly metrics = new CoordinatorMetrics();
  readonly registry: PartyRegistry;
  private readonly env: Env;
  private readonly store: Store;
  private readonly log;
  /** Ownership: every session this replica drives is owned by this lease in the store. */
  private readonly replica: ReplicaLease;
  private readonly runners: SessionRunners;
  private readonly ownership: Ownership;
  private readonly admission: Admission;
  private readonly approvals: Approvals;
  private readonly wallets: Wallets;
  private readonly lifecycle: Lifecycle;
  /** Sessions between creation (or a claim) and their runner: the scan must not drive them. */
  private readonly admitting = new Set<string>();
  private stopSweep: () => void = () => {};
  private stopped = false;

  constructor(options: CoordinatorOptions) {
    const { env, store } = options;
    this.env = env;
    this.store = store;
    this.log = env.log.child({ component: 'coordinator' });
    this.registry = this.makeRegistry(options);
    this.replica = this.makeReplicaLease(options);
    const lease = () => (this.stopped ? undefined : this.replica.current);
    const engines = { ...coordinatorEngines, ...options.engines };
    const governance = new Governance({
      env,
      store,
      registry: this.registry,
      policy: options.policy,
      approvalWindowMs: options.approvalDeadlineMs ?? limits.approvalDeadlineMsDefault,
    });
    this.runners = new SessionRunners({
      env,
      store,
      registry: this.registry,
      metrics: this.metrics,
      timeoutPolicy: options.timeoutPolicy ?? defaultTimeoutPolicy,
      governance,
      engines,
      lease,
      recoveryGraceMs: options.recoveryGraceMs ?? 3_000,
    });
    const shared = { env, store, runners: this.runners, log: this.log, admitting: this.admitting };
    this.ownership = new Ownership({
      ...shared,
      replica: this.replica,
      metrics: this.metrics,
      scanIntervalMs: options.scanIntervalMs ?? limits.coordinatorLeaseScanMsDefault,
    });
    this.admission = new Admission({ ...shared, metrics: this.metrics, lease });
    this.approvals = new Approvals({ ...shared, governance, lease, nowMs: () => env.nowMs() });
    this.wallets = new Wallets({
      env,
      store,
      registry: this.registry,
      metrics: this.metrics,
      log: this.log,
      policy: options.policy,
      engines,
    });
    this.lifecycle = new Lifecycle({
      env,
      store,
      registry: this.registry,
      log: this.log,
      engines,
      wallets: this.wallets,
      signingFor: (walletId) => this.runners.signingFor(walletId),
      ownerId: this.replica.ownerId,
      metrics: this.metrics,
    });
  }

  private makeRegistry(options: CoordinatorOptions): PartyRegistry {
    return new PartyRegistry(
      options.env,
      options.store,
      options.identity,
      options.partySecret,
      options.detector ?? defaultDetectorOptions,
      {
        onEnvelope: (partyId, e) => {
          this.runners.onEnvelope(partyId, e);
          this.wallets.onEnvelope(partyId, e);
          this.lifecycle.onEnvelope(partyId, e);
        },
        onDisconnect: (partyId) => {
          this.runners.onDisconnect(partyId);
          this.wallets.onDisconnect(partyId);
          this.lifecycle.onDisconnect(partyId);
        },
        onStateChange: (partyId, state) => this.metrics.setPartyState(partyId, state),
      },
      {
        metrics: this.metrics,
        ...(options.operatorKey === undefined ? {} : { operatorKey: options.operatorKey }),
      },
    );
  }

  private makeReplicaLease(options: CoordinatorOptions): ReplicaLease {
    return new ReplicaLease(
      options.env,
      options.store,
      options.ownerId ?? 'coordinator',
      options.leaseTtlMs ?? limits.coordinatorLeaseTtlMsDefault,
      {
        onLost: (lost, reason) => this.onLeaseLost(lost, reason),
        onAcquired: (_lease, previous) => {
          // Our former sessions are no longer driven by anyone: free them for a claim now.
          if (previous) void this.ownership.revokeOwn(previous);
        },
      },
    );
  }

  /** This replica's owner id in the store. */
  get ownerId(): string {
    return this.replica.ownerId;
  }

  /** The live store lease, if this replica holds one (tests and metrics). */
  get lease(): Lease | undefined {
    return this.replica.current;
  }

  /**
   * Starts heartbeats, acquires this replica's store lease, takes over every session whose
   * owner is gone (its own earlier incarnations included: recovered at once), and keeps
   * scanning for sessions whose owner's lease expires.
   */
  async start(): Promise<void> {
    await this.registry.start();
    await this.replica.start();
    await this.ownership.start();
    await this.lifecycle.resume();
    const sweep = () => {
      this.metrics.staleSessionState.set(this.runners.countStale(this.env.nowMs()));
      this.stopSweep = this.env.setTimer(1_000, sweep);
    };
    sweep();
  }

  /**
   * Stops driving sessions (their waiting requests get `QUORATE_E_NOT_OWNER`) and revokes the
   * lease, so another replica takes them over at its next scan instead of after a ttl.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSweep();
    this.lifecycle.stop();
    this.ownership.stop();
    this.runners.abandonAll('replica stopping');
    await this.replica.stop();
    this.registry.stop();
  }

  /** The lease is gone: stop every session now; the store fences any late write anyway. */
  private onLeaseLost(lease: Lease, reason: string): void {
    const sessions = this.runners.abandonAll(`lease-lost: ${reason}`);
    this.log.error(
      { leaseId: lease.leaseId, reason, sessions },
      'lost the store lease: failing in-flight requests, sessions go to another replica',
    );
    this.metrics.leaseLostTotal.inc();
  }

  /** Hands a new party connection to the registry (handshake first). */
  acceptLink(link: Link): void {
    this.registry.accept(link);
  }

  /** Creates a wallet by DKG among all its parties. */
  createWallet(request: CreateWalletRequest): Promise<WalletRecord> {
    return this.wallets.create(request);
  }

  /** The wallet, or `QUORATE_E_WALLET_NOT_FOUND`. */
  getWallet(walletId: string): Promise<WalletRecord> {
    return this.wallets.get(walletId);
  }

  /**
   * Opens (or joins, for the same intent and message) a signing session. Same intentKey with a
   * different message → `QUORATE_E_INTENT_CONFLICT`, nothing signed.
   */
  async sign(walletId: string, asked: SignRequest): Promise<SessionRecord> {
    // During a lifecycle flip the request waits for it, then signs under the new epoch.
    await this.lifecycle.gate(walletId);
    const wallet = await this.wallets.get(walletId);
    const request = await prepareSignRequest(this.store, wallet, asked);
    return this.admission.sign(wallet, request);
  }

  /**
   * Records an approval (Ed25519 over the session's canonical request). When every approval
   * group is satisfied, the rules are checked again at execution time, then signing starts.
   */
  approve(sessionId: string, approval: ApprovalRequest): Promise<SessionRecord> {
    return this.approvals.approve(sessionId, approval);
  }

  /** Waits up to `waitMs` for the session to be terminal (or to wait for approvals). */
  waitForSession(sessionId: string, waitMs: number): Promise<SessionRecord> {
    return this.runners.waitFor(sessionId, waitMs);
  }

  /** The session as this replica knows it (`QUORATE_E_SESSION_NOT_FOUND` if unknown). */
  getSession(sessionId: string): Promise<SessionRecord> {
    return this.runners.read(sessionId);
  }

  /** Starts a refresh or reshare of the wallet (`202 {operationId}`; docs/key-lifecycle.md). */
  startOperation(walletId: string, request: LifecycleRequest): Promise<OperationRecord> {
    return this.lifecycle.start(walletId, request);
  }

  /** Sets (0: clears) a wallet's scheduled refresh interval in days. */
  setRefreshSchedule(walletId: string, refreshEveryDays: number): Promise<WalletRecord> {
    return this.lifecycle.setRefreshSchedule(walletId, refreshEveryDays);
  }

  /** A lifecycle operation's record and wallet, or `QUORATE_E_OPERATION_NOT_FOUND`. */
  getOperation(operationId: string): Promise<{ walletId: string; op: OperationRecord }> {
    return this.lifecycle.get(operationId);
  }

  /** One page of wallets by id (cursor pagination, bounded by `limits.storePageSizeMax`). */
  listWallets(query: WalletPageQuery): Promise<Page<WalletRecord>> {
    return this.store.listWalletsPage(query);
  }

  /** One page of sessions, newest first, as stored (cursor pagination, bounded). */
  listSessions(query: SessionPageQuery): Promise<Page<Versioned<SessionRecord>>> {
    return this.store.listSessionsPage(query);
  }

  /** Snapshot of every known party's liveness. */
  parties(): ReturnType<PartyRegistry['snapshot']> {
    return this.registry.snapshot();
  }
}
