/**
 * The coordinator runtime: wires the party registry, session runners, keygen runners and the
 * store. Stateless apart from the store: on start it recovers every non-terminal session by
 * opening a new attempt with a higher fencing token (or failing it if its deadline passed).
 */
import { sha256Hex } from '../core/encoding.ts';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { limits } from '../core/limits.ts';
import type { Scheme } from '../protocol/engine.ts';
import { engines } from '../protocol/frost.ts';
import { initialState } from '../session/machine.ts';
import { reopenForRetry, retryDecision } from '../session/retry.ts';
import { defaultTimeoutPolicy, type TimeoutPolicy } from '../session/timeouts.ts';
import type { Lease, Store, Versioned, WalletRecord } from '../store/store.ts';
import type { SessionRecord, SigningContext } from '../session/record.ts';
import { isTerminal } from '../session/record.ts';
import type { Envelope } from '../transport/envelope.ts';
import type { IdentityKeys } from '../transport/identity.ts';
import type { Link } from '../transport/link.ts';
import { KeygenRunner } from './keygen-runner.ts';
import { CoordinatorMetrics } from './metrics.ts';
import { PartyRegistry, defaultDetectorOptions, type DetectorOptions } from './party-registry.ts';
import { SessionRunner, notOwnerError } from './session-runner.ts';
import { ReplicaLease } from './replica-lease.ts';
import { approvalSubject, evaluateSession, governingPolicy, shareTypesOf } from './governance.ts';
import { checkApprovals, type LoadedPolicy, type RuleDecision } from '../policy/rules/index.ts';
import type { SessionPolicy } from '../session/session-policy.ts';
import { hexToBytes } from '@noble/hashes/utils.js';

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
}

/** A signing request after validation at the boundary. */
export interface SignRequest {
  messageHex: string;
  intentKey: string;
  /** Client context (amount, asset, destination); `initiator` is taken from the field below. */
  context?: SigningContext;
  deadlineMs?: number;
  /** The authenticated API principal (the API sets it); recorded as `context.initiator`. */
  initiator?: string;
}

/** An approval as posted by an approver. */
export interface ApprovalRequest {
  approverId: string;
  signature: string;
}

/** The coordinator. */
export class Coordinator {
  readonly metrics = new CoordinatorMetrics();
  readonly registry: PartyRegistry;
  private readonly runners = new Map<string, SessionRunner>();
  private readonly keygens = new Map<string, KeygenRunner>();
  private readonly env: Env;
  private readonly store: Store;
  private readonly timeoutPolicy: TimeoutPolicy;
  private stopSweep: () => void = () => {};
  private readonly walletChains = new Map<string, Promise<void>>();
  /** Approval-deadline timers by session (cancelled on stop). */
  private readonly approvalTimers = new Map<string, () => void>();
  private startedMono = 0;
  private readonly log;
  /** Ownership: every session this replica drives is owned by this lease in the store. */
  private readonly replica: ReplicaLease;
  /** Sessions between creation (or approval) and their runner: the scan must not drive them. */
  private readonly admitting = new Set<string>();
  /** Leases of earlier incarnations of this replica, revoked once each. */
  private readonly revokedOwn = new Set<string>();
  private stopScan: () => void = () => {};
  private scanning = false;
  private stopped = false;

  constructor(private readonly options: CoordinatorOptions) {
    this.env = options.env;
    this.store = options.store;
    this.timeoutPolicy = options.timeoutPolicy ?? defaultTimeoutPolicy;
    this.log = options.env.log.child({ component: 'coordinator' });
    this.registry = new PartyRegistry(
      options.env,
      options.store,
      options.identity,
      options.partySecret,
      options.detector ?? defaultDetectorOptions,
      {
        onEnvelope: (partyId, e) => this.route(partyId, e),
        onDisconnect: (partyId) => {
          for (const r of [...this.runners.values()]) r.onDisconnect(partyId);
          for (const k of [...this.keygens.values()]) k.onDisconnect(partyId);
        },
        onStateChange: (partyId, state) => this.metrics.setPartyState(partyId, state),
      },
    );
    this.replica = new ReplicaLease(
      options.env,
      options.store,
      options.ownerId ?? 'coordinator',
      options.leaseTtlMs ?? limits.coordinatorLeaseTtlMsDefault,
      {
        onLost: (lease, reason) => this.onLeaseLost(lease, reason),
        onAcquired: (_lease, previous) => {
          // Our former sessions are no longer driven by anyone: free them for a claim now.
          if (previous) void this.revokeOwn(previous);
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
    this.startedMono = this.env.monoMs();
    await this.registry.start();
    await this.replica.start();
    await this.scan();
    const scanMs = this.options.scanIntervalMs ?? limits.coordinatorLeaseScanMsDefault;
    const scanLoop = () => {
      if (this.stopped) return;
      this.scan().catch((e: unknown) =>
        this.log.warn({ error: String(e) }, 'takeover scan failed'),
      );
      this.stopScan = this.env.setTimer(scanMs, scanLoop);
    };
    this.stopScan = this.env.setTimer(scanMs, scanLoop);
    const sweep = () => {
      this.sweepStale();
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
    this.stopScan();
    for (const cancel of this.approvalTimers.values()) cancel();
    this.approvalTimers.clear();
    for (const r of [...this.runners.values()]) r.abandon('replica stopping');
    await this.replica.stop();
    this.registry.stop();
  }

  /** The lease is gone: stop every session now; the store fences any late write anyway. */
  private onLeaseLost(lease: Lease, reason: string): void {
    const driven = [...this.runners.values()];
    this.log.error(
      { leaseId: lease.leaseId, reason, sessions: driven.length },
      'lost the store lease: failing in-flight requests, sessions go to another replica',
    );
    this.metrics.leaseLostTotal.inc();
    for (const r of driven) r.abandon(`lease-lost: ${reason}`);
    for (const cancel of this.approvalTimers.values()) cancel();
    this.approvalTimers.clear();
  }

  private async revokeOwn(lease: { leaseId: string; ownerId: string }): Promise<void> {
    if (this.revokedOwn.has(lease.leaseId)) return;
    this.revokedOwn.add(lease.leaseId);
    await this.store
      .revokeLease({ leaseId: lease.leaseId, ownerId: lease.ownerId, ttlMs: 0 })
      .catch(() => this.revokedOwn.delete(lease.leaseId));
  }

  /**
   * One takeover pass: claims every active session whose owner holds no live lease (or is an
   * earlier incarnation of this replica), and drives sessions this replica owns but does not
   * run (e.g. approved on another replica). One claim per foreign lease is refused at most
   * per pass: its other sessions are skipped until the next pass.
   */
  private async scan(): Promise<void> {
    if (this.scanning || this.stopped) return;
    this.scanning = true;
    try {
      const active = await this.store.listActiveSessions(limits.sessionsActiveMax);
      const liveForeign = new Set<string>();
      for (const s of active) {
        const lease = this.replica.current;
        if (!lease || this.stopped) return;
        const id = s.value.sessionId;
        if (this.runners.has(id) || this.admitting.has(id)) continue;
        const owner = s.value.owner;
        if (owner?.leaseId === lease.leaseId) {
          await this.recover(s);
          continue;
        }
        if (owner && liveForeign.has(owner.leaseId)) continue;
        if (owner?.ownerId === this.replica.ownerId) await this.revokeOwn(owner);
        const claim = await this.store.claimSession(id, s.version, lease);
        if (claim.claimed) {
          if (this.runners.has(id) || this.admitting.has(id)) continue;
          this.log.info(
            { sessionId: id, previousOwner: owner ?? null, version: claim.session.version },
            'session taken over',
          );
          this.metrics.takeoversTotal.inc();
          await this.recover(claim.session);
        } else if (claim.reason === 'owned' && owner) liveForeign.add(owner.leaseId);
        else if (claim.reason === 'lease-expired') return;
      }
    } finally {
      this.scanning = false;
    }
  }

  /** Hands a new party connection to the registry (handshake first). */
  acceptLink(link: Link): void {
    this.registry.accept(link);
  }

  private route(partyId: string, e: Envelope): void {
    this.runners.get(e.sessionId)?.onEnvelope(partyId, e);
    this.keygens.get(e.sessionId)?.onEnvelope(partyId, e);
  }

  private async recover(s: Versioned<SessionRecord>): Promise<void> {
    const wallet = await this.store.getWallet(s.value.walletId);
    if (!wallet) return;
    if (wallet.tier !== undefined && s.value.policy === undefined) {
      // Opened (or reopened) but its rules were never evaluated: a crash came in between. Never
      // sign it without them: evaluate them now.
      const { messageHex, intentKey } = s.value;
      this.admitting.add(s.value.sessionId);
      try {
        await this.admitGoverned(wallet, s, { messageHex, intentKey });
      } finally {
        this.admitting.delete(s.value.sessionId);
      }
      return;
    }
    if (s.value.status === 'pending' && s.value.pendingReason !== undefined) {
      // Still waiting for approvals: nothing to drive yet.
      if (!this.approvalTimers.has(s.value.sessionId)) this.armApprovalTimer(s.value);
      return;
    }
    if (this.runners.has(s.value.sessionId)) return;
    const runner = this.makeRunner(wallet, s);
    this.whenPartiesSettled(wallet, s.value.deadlineMs, () => runner.start('recover'));
  }

  /**
   * Runs `start` at once in steady state. Just after this coordinator started, parties may not
   * have reconnected yet: wait until t of the wallet's parties are alive, bounded by the grace
   * period and by half of it before the deadline, so "quorum unavailable" is not declared
   * merely because the coordinator itself was down (I5).
   */
  private whenPartiesSettled(wallet: WalletRecord, deadlineMs: number, start: () => void): void {
    const graceMs = this.options.recoveryGraceMs ?? 3_000;
    const poll = () => {
      const alive = this.registry
        .candidates(wallet.parties)
        .filter((c) => c.state === 'alive').length;
      const sinceStartMs = this.env.monoMs() - this.startedMono;
      const leftMs = deadlineMs - this.env.nowMs();
      if (alive >= wallet.threshold || sinceStartMs >= graceMs || leftMs < graceMs / 2) start();
      else this.env.setTimer(limits.pollIntervalMs * 2, poll);
    };
    poll();
  }

  private makeRunner(wallet: WalletRecord, s: Versioned<SessionRecord>): SessionRunner {
    const runner = new SessionRunner(
      {
        env: this.env,
        store: this.store,
        registry: this.registry,
        engine: engines[wallet.scheme],
        wallet,
        metrics: this.metrics,
        timeoutPolicy: this.timeoutPolicy,
        lease: () => this.replica.current,
        onFinished: (r) => {
          // A retry may have given the session a newer runner: only remove this one.
          if (this.runners.get(r.sessionId) === r) this.runners.delete(r.sessionId);
          this.metrics.sessionsActive.set(this.runners.size);
        },
      },
      initialState(s.value, s.version, { threshold: wallet.threshold, parties: wallet.parties }),
    );
    this.runners.set(s.value.sessionId, runner);
    this.metrics.sessionsActive.set(this.runners.size);
    return runner;
  }

  private sweepStale(): void {
    const now = this.env.nowMs();
    let stale = 0;
    for (const r of this.runners.values()) if (r.isStale(now, limits.abortCleanupMsMax)) stale += 1;
    this.metrics.staleSessionState.set(stale);
  }

  /** Creates a wallet by DKG among all its parties. */
  async createWallet(args: {
    scheme: Scheme;
    threshold: number;
    parties: string[];
    tier?: string;
  }): Promise<WalletRecord> {
    const { scheme, threshold, parties, tier } = args;
    if (tier !== undefined) this.checkTier(tier, threshold, parties);
    if (new Set(parties).size !== parties.length) {
      throw new QuorateError('QUORATE_E_DUPLICATE_PARTY', 'a party id appears twice', { parties });
    }
    if (threshold < 1 || threshold > parties.length) {
      throw new QuorateError(
        'QUORATE_E_INVALID_THRESHOLD',
        `threshold must be between 1 and ${parties.length}`,
        { threshold, n: parties.length },
      );
    }
    const boxKeys: Record<string, string> = {};
    const unknown: string[] = [];
    for (const p of parties) {
      const rec = await this.store.getParty(p);
      if (rec) boxKeys[p] = rec.boxKey;
      else unknown.push(p);
    }
    if (unknown.length > 0)
      throw new QuorateError(
        'QUORATE_E_UNKNOWN_PARTY',
        'parties not enrolled with this coordinator',
        { unknown },
      );
    const down = this.registry.candidates(parties).filter((c) => c.state !== 'alive');
    if (down.length > 0) {
      throw new QuorateError(
        'QUORATE_E_QUORUM_UNAVAILABLE',
        'key generation needs every party alive',
        {
          down: down.map((c) => ({
            partyId: c.partyId,
            state: c.state,
            sinceMs: c.sinceMs ?? null,
          })),
        },
      );
    }
    if (this.keygens.size >= limits.keygensActiveMax)
      throw new QuorateError('QUORATE_E_OVERLOADED', 'too many key generations in flight');
    const walletId = newId(this.env, 'w');
    const runner = new KeygenRunner(
      this.env,
      this.registry,
      engines[scheme],
      {
        keygenId: newId(this.env, 'k'),
        walletId,
        scheme,
        threshold,
        parties,
        boxKeys,
        ...(tier === undefined ? {} : { tier }),
      },
      (r) => this.keygens.delete(r.args.keygenId),
    );
    this.keygens.set(runner.args.keygenId, runner);
    runner.start();
    let result;
    try {
      result = await runner.result;
      this.metrics.keygensTotal.inc({ outcome: 'ok' });
    } catch (error) {
      this.metrics.keygensTotal.inc({ outcome: 'failed' });
      throw error;
    }
    const wallet: WalletRecord = {
      walletId,
      scheme,
      threshold,
      parties,
      publicKey: result.publicKey,
      publicPackage: result.publicPackage,
      createdMs: this.env.nowMs(),
      ...(tier === undefined ? {} : { tier }),
    };
    await this.store.createWallet(wallet);
    this.log.info({ walletId, scheme, threshold, parties }, 'wallet created');
    return wallet;
  }

  async getWallet(walletId: string): Promise<WalletRecord> {
    const wallet = await this.store.getWallet(walletId);
    if (!wallet)
      throw new QuorateError('QUORATE_E_WALLET_NOT_FOUND', 'no such wallet', { walletId });
    return wallet;
  }

  /**
   * Opens (or joins, for the same intent and message) a signing session. Same intentKey with a
   * different message → `QUORATE_E_INTENT_CONFLICT`, nothing signed.
   */
  async sign(walletId: string, request: SignRequest): Promise<SessionRecord> {
    const wallet = await this.getWallet(walletId);
    const messageHash = sha256Hex(hexToBytes(request.messageHex));
    if (this.runners.size >= limits.sessionsActiveMax)
      throw new QuorateError('QUORATE_E_OVERLOADED', 'too many active sessions');
    const now = this.env.nowMs();
    const record: SessionRecord = {
      sessionId: newId(this.env, 's'),
      walletId,
      intentKey: request.intentKey,
      messageHex: request.messageHex,
      messageHash,
      status: 'pending',
      createdMs: now,
      deadlineMs: now + (request.deadlineMs ?? limits.sessionDeadlineMsDefault),
      attempts: [],
      excluded: [],
      slow: [],
      ...signingContextOf(request),
    };
    const lease = this.replica.current;
    // No session was created, so the error names none (a client polling an id that never
    // existed would wait for nothing); the same intentKey retried elsewhere joins or opens it.
    if (!lease || this.stopped) throw notOwnerError(undefined, 'no live store lease');
    this.admitting.add(record.sessionId);
    try {
      return await this.admit(wallet, record, request, lease);
    } finally {
      this.admitting.delete(record.sessionId);
    }
  }

  private async admit(
    wallet: WalletRecord,
    record: SessionRecord,
    request: SignRequest,
    lease: Lease,
  ): Promise<SessionRecord> {
    const walletId = wallet.walletId;
    const messageHash = record.messageHash;
    const created = await this.store.createSession(record, { lease });
    if (!created.created) {
      const existing = created.session.value;
      if (existing.messageHash !== messageHash) {
        throw new QuorateError(
          'QUORATE_E_INTENT_CONFLICT',
          'intentKey is already bound to a different message',
          {
            walletId,
            intentKey: request.intentKey,
            existingSessionId: existing.sessionId,
          },
        );
      }
      return this.askAgain(wallet, created.session, request, lease);
    }
    if (wallet.tier !== undefined) return this.admitGoverned(wallet, created.session, request);
    const runner = this.makeRunner(wallet, created.session);
    this.whenPartiesSettled(wallet, record.deadlineMs, () => runner.start('begin'));
    return created.session.value;
  }

  /**
   * The intent already has a session with this message: join it, or, if it failed with a
   * retryable code, claim it for this replica and reopen it for a new try (docs/retries.md).
   * A concurrent retry on another replica moves the version: re-read and decide again, bounded.
   */
  private async askAgain(
    wallet: WalletRecord,
    found: Versioned<SessionRecord>,
    request: SignRequest,
    lease: Lease,
  ): Promise<SessionRecord> {
    let current = found;
    for (let i = 0; i < limits.reopenTriesMax; i++) {
      const decision = retryDecision(current.value);
      if (decision.kind === 'join' || decision.kind === 'final') return current.value;
      const sessionId = current.value.sessionId;
      if (decision.kind === 'exhausted') {
        throw new QuorateError(
          'QUORATE_E_ATTEMPTS_EXHAUSTED',
          'this intent failed after using its whole attempt budget; sign under a new intentKey',
          { sessionId, attempts: decision.attempts, attemptsMax: limits.attemptsPerIntentMax },
        );
      }
      const claim = await this.store.claimSession(sessionId, current.version, lease);
      if (claim.claimed) {
        // A replica racing to reopen the same session may claim it between our claim and our
        // reopening write: that write is then stale, and we look again.
        const reopened = await this.reopen(wallet, claim.session, request, lease).catch(
          (error: unknown) => {
            if (error instanceof QuorateError && error.code === 'QUORATE_E_STALE_TOKEN')
              return undefined;
            throw error;
          },
        );
        if (reopened) return reopened;
        const again = await this.store.getSession(sessionId);
        if (!again) break;
        current = again;
        continue;
      }
      if (claim.reason === 'lease-expired') throw notOwnerError(undefined, 'no live store lease');
      if (!claim.session) break;
      current = claim.session;
    }
    return current.value;
  }

  /**
   * A new try of a failed session, under this replica's lease: the reopened record is written
   * first, then signing starts as for a new session. A governed session goes through the rules
   * again (time and velocity may have moved); its approvals were given for this very request.
   */
  private async reopen(
    wallet: WalletRecord,
    claimed: Versioned<SessionRecord>,
    request: SignRequest,
    lease: Lease,
  ): Promise<SessionRecord> {
    const sessionId = claimed.value.sessionId;
    const now = this.env.nowMs();
    const signingMs =
      request.deadlineMs ??
      claimed.value.policy?.signingDeadlineMs ??
      limits.sessionDeadlineMsDefault;
    const next = reopenForRetry(claimed.value, now, now + signingMs);
    this.metrics.intentRetriesTotal.inc();
    this.log.info(
      { sessionId, retry: next.retry, previous: claimed.value.error?.code },
      'failed intent asked again: new try',
    );
    this.admitting.add(sessionId);
    try {
      if (wallet.tier !== undefined && next.policy !== undefined) {
        // The rules are evaluated again; should they now ask for approvals, the new try gets a
        // fresh approval window, and it signs within the retry's own deadline if it has one.
        const approvalMs = this.options.approvalDeadlineMs ?? limits.approvalDeadlineMsDefault;
        const governed: SessionRecord = {
          ...next,
          policy: {
            ...next.policy,
            approvalDeadlineMs: now + approvalMs,
            signingDeadlineMs: signingMs,
          },
        };
        const record = await this.perWallet(wallet.walletId, () =>
          this.executeApproved(claimed, governed),
        );
        if (record.pendingReason !== undefined) this.armApprovalTimer(record);
        return record;
      }
      const v = await this.store.casSession(sessionId, claimed.version, next, { lease });
      if (wallet.tier !== undefined) return await this.admitGoverned(wallet, v, request);
      this.startSigning(wallet, v);
      return v.value;
    } finally {
      this.admitting.delete(sessionId);
    }
  }

  /** Tier checks at wallet creation: the tier exists and matches threshold and shares. */
  private checkTier(tier: string, threshold: number, parties: string[]): void {
    const t = this.options.policy?.rules.tiers.get(tier);
    if (!t) {
      throw new QuorateError('QUORATE_E_POLICY_INVALID', `no policy tier ${tier} is loaded`, {
        path: 'policy',
        problem: 'unknown tier',
      });
    }
    if (t.threshold !== threshold || [...t.shares].sort().join() !== [...parties].sort().join()) {
      throw new QuorateError(
        'QUORATE_E_POLICY_INVALID',
        `tier ${tier} is ${t.threshold}-of-[${t.shares.join(', ')}]`,
        {
          path: 'policy',
          problem: 'threshold and parties must match the tier',
        },
      );
    }
  }

  /**
   * Signing-time rules for a new governed session: evaluate (deny → the session fails with
   * POLICY_DENIED, durably, so the same intent gets the same answer); allow → record the
   * requirement, then wait for approvals or start signing. Serialised per wallet so concurrent
   * requests cannot both pass a velocity limit on this coordinator.
   */
  private admitGoverned(
    wallet: WalletRecord,
    created: Versioned<SessionRecord>,
    request: SignRequest,
  ): Promise<SessionRecord> {
    return this.perWallet(wallet.walletId, async () => {
      let session = created;
      let policy: LoadedPolicy;
      try {
        policy = governingPolicy(this.options.policy, this.registry, wallet);
      } catch (error) {
        return this.failSession(session, error as QuorateError);
      }
      const now = this.env.nowMs();
      const decision = await evaluateSession(policy, this.store, wallet, session.value, now);
      if (decision.effect === 'deny')
        return this.failSession(session, denial(decision, policy.policyHash));
      const signingDeadlineMs = request.deadlineMs ?? limits.sessionDeadlineMsDefault;
      const needsApproval = decision.requirement.approvals.length > 0;
      const approvalDeadlineMs =
        now + (this.options.approvalDeadlineMs ?? limits.approvalDeadlineMsDefault);
      const next: SessionRecord = {
        ...session.value,
        policy: {
          tier: wallet.tier as string,
          policyHash: policy.policyHash,
          ruleIds: [...decision.ruleIds],
          requirement: decision.requirement,
          shareTypes: shareTypesOf(policy),
          approvals: [],
          signingDeadlineMs,
          ...(needsApproval ? { approvalDeadlineMs } : {}),
        },
        ...(needsApproval
          ? {
              pendingReason: pendingReasonOf(
                decision.requirement.approvals.map((g) => ({
                  k: g.k,
                  approvedBy: [] as string[],
                  missing: g.k,
                  ruleIds: g.ruleIds,
                })),
              ),
              deadlineMs: approvalDeadlineMs + signingDeadlineMs,
            }
          : { deadlineMs: now + signingDeadlineMs }),
      };
      session = await this.store.casSession(session.value.sessionId, session.version, next);
      if (needsApproval) this.armApprovalTimer(session.value);
      else this.startSigning(wallet, session);
      return session.value;
    });
  }

  private startSigning(wallet: WalletRecord, session: Versioned<SessionRecord>): void {
    const runner = this.makeRunner(wallet, session);
    this.whenPartiesSettled(wallet, session.value.deadlineMs, () => runner.start('begin'));
  }

  private async failSession(
    session: Versioned<SessionRecord>,
    error: QuorateError,
  ): Promise<SessionRecord> {
    const failed: SessionRecord = {
      ...session.value,
      status: 'failed',
      error: {
        code: error.code,
        message: error.message,
        detail: { sessionId: session.value.sessionId, ...error.detail },
      },
    };
    delete failed.pendingReason;
    const v = await this.store.casSession(session.value.sessionId, session.version, failed);
    this.metrics.sessionsTotal.inc({ outcome: 'failed', code: error.code });
    return v.value;
  }

  private armApprovalTimer(record: SessionRecord): void {
    const at = record.policy?.approvalDeadlineMs;
    if (at === undefined) return;
    this.approvalTimers.get(record.sessionId)?.();
    const cancel = this.env.setTimer(Math.max(0, at - this.env.nowMs()), () => {
      this.approvalTimers.delete(record.sessionId);
      void this.perWallet(record.walletId, async () => {
        const s = await this.store.getSession(record.sessionId);
        // A timer of an earlier try (reopened since, with its own deadline) fails nothing.
        const current = s?.value.policy?.approvalDeadlineMs === at;
        if (!s || !current || s.value.status !== 'pending' || s.value.pendingReason === undefined)
          return s?.value;
        const error = new QuorateError(
          'QUORATE_E_APPROVAL_TIMEOUT',
          'required approvals did not arrive in time',
          {
            approvalDeadlineMs: at,
          },
        );
        return this.failSession(s, error);
      }).catch((e: unknown) => this.log.error({ error: String(e) }, 'approval timeout failed'));
    });
    this.approvalTimers.set(record.sessionId, cancel);
  }

  /**
   * Records an approval (Ed25519 over the session's canonical request). When every approval group
   * is satisfied, the rules are checked again at execution time, then signing starts.
   */
  async approve(sessionId: string, approval: ApprovalRequest): Promise<SessionRecord> {
    const first = await this.store.getSession(sessionId);
    if (!first)
      throw new QuorateError('QUORATE_E_SESSION_NOT_FOUND', 'no such session', { sessionId });
    return this.perWallet(first.value.walletId, async () => {
      this.admitting.add(sessionId);
      try {
        return await this.approveLocked(sessionId, approval);
      } finally {
        this.admitting.delete(sessionId);
      }
    });
  }

  private async approveLocked(
    sessionId: string,
    approval: ApprovalRequest,
  ): Promise<SessionRecord> {
    {
      const s = (await this.store.getSession(sessionId)) as Versioned<SessionRecord>;
      const policyState = s.value.policy;
      if (!policyState || s.value.status !== 'pending' || s.value.pendingReason === undefined) {
        throw new QuorateError(
          'QUORATE_E_APPROVAL_REJECTED',
          'this session is not waiting for approvals',
          { sessionId, status: s.value.status },
        );
      }
      if (policyState.approvals.length >= limits.approvalsPerSessionMax) {
        throw new QuorateError(
          'QUORATE_E_APPROVAL_REJECTED',
          'too many approvals for one session',
          { sessionId },
        );
      }
      const subject = approvalSubject(s.value, policyState.policyHash);
      const approvals = [
        ...policyState.approvals.filter((a) => a.approverId !== approval.approverId),
        approval,
      ];
      const status = checkApprovals(policyState.requirement.approvals, subject, approvals);
      const problem = status.rejected.find((r) => r.approverId === approval.approverId);
      if (problem) {
        throw new QuorateError(
          'QUORATE_E_APPROVAL_REJECTED',
          `approval rejected: ${problem.problem}`,
          { sessionId, approverId: approval.approverId },
        );
      }
      const updated: SessionRecord = { ...s.value, policy: { ...policyState, approvals } };
      if (!status.satisfied) {
        updated.pendingReason = pendingReasonOf(status.groups);
        return (await this.store.casSession(sessionId, s.version, updated)).value;
      }
      return this.executeApproved(s, updated);
    }
  }

  /** All approvals are in: re-check the rules now (time, velocity), then sign or deny. */
  private async executeApproved(
    s: Versioned<SessionRecord>,
    updated: SessionRecord,
  ): Promise<SessionRecord> {
    const wallet = await this.getWallet(updated.walletId);
    let policy: LoadedPolicy;
    try {
      policy = governingPolicy(this.options.policy, this.registry, wallet);
    } catch (error) {
      return this.failSession(s, error as QuorateError);
    }
    const policyState = updated.policy as SessionPolicy;
    const now = this.env.nowMs();
    const decision = await evaluateSession(policy, this.store, wallet, updated, now);
    if (decision.effect === 'deny') {
      return this.failSession(
        s,
        denial(decision, policy.policyHash, 'rules re-checked at execution'),
      );
    }
    const subject = approvalSubject(updated, policy.policyHash);
    const recheck = checkApprovals(decision.requirement.approvals, subject, policyState.approvals);
    const next: SessionRecord = {
      ...updated,
      policy: {
        ...policyState,
        policyHash: policy.policyHash,
        ruleIds: [...decision.ruleIds],
        requirement: decision.requirement,
      },
      deadlineMs: now + policyState.signingDeadlineMs,
    };
    if (!recheck.satisfied) {
      next.pendingReason = pendingReasonOf(recheck.groups);
      const approvalDeadlineMs = policyState.approvalDeadlineMs ?? now;
      next.deadlineMs = Math.max(now, approvalDeadlineMs) + policyState.signingDeadlineMs;
      return (await this.store.casSession(s.value.sessionId, s.version, next)).value;
    }
    delete next.pendingReason;
    const v = await this.store.casSession(s.value.sessionId, s.version, next);
    // Only the owner drives it; another replica's approval leaves it to the owner's next scan.
    if (v.value.owner?.leaseId === this.replica.current?.leaseId) this.startSigning(wallet, v);
    return v.value;
  }

  /** Runs `fn` after every earlier call for the same wallet (bounded by the active-session limit). */
  private perWallet<T>(walletId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.walletChains.get(walletId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.walletChains.set(walletId, tail);
    void tail.then(() => {
      if (this.walletChains.get(walletId) === tail) this.walletChains.delete(walletId);
    });
    return run;
  }

  /**
   * Waits up to `waitMs` for the session to be terminal; returns its latest record. A session
   * this replica drives is awaited on its runner (which fails the wait with
   * `QUORATE_E_NOT_OWNER` if this replica loses its lease); one driven elsewhere (another
   * replica, or taken over from this one) is polled in the store, bounded.
   */
  async waitForSession(sessionId: string, waitMs: number): Promise<SessionRecord> {
    const until = this.env.monoMs() + waitMs;
    const left = () => Math.max(0, until - this.env.monoMs());
    const stepsMax = Math.ceil(waitMs / limits.pollIntervalMs) + 2;
    let record = await this.getSession(sessionId);
    // The try this wait is for: should it fail and another request reopen the session, the wait
    // ends with the new try's record instead of running on into that try's deadline.
    const tryNo = record.retry?.count ?? 0;
    for (let i = 0; i < stepsMax; i++) {
      const runner = this.runners.get(sessionId);
      const driven = runner !== undefined && !runner.isStopped;
      if (driven) record = await runner.wait(left());
      // Waiting for approvals is not something a short HTTP wait can change: answer now.
      if (isTerminal(record.status) || left() <= 0 || record.pendingReason !== undefined)
        return record;
      if (!driven) await new Promise<void>((r) => this.env.setTimer(limits.pollIntervalMs, r));
      record = await this.getSession(sessionId);
      if (isTerminal(record.status) || (record.retry?.count ?? 0) !== tryNo) return record;
    }
    return record;
  }

  async getSession(sessionId: string): Promise<SessionRecord> {
    const runner = this.runners.get(sessionId);
    if (runner) return runner.record;
    const s = await this.store.getSession(sessionId);
    if (!s) throw new QuorateError('QUORATE_E_SESSION_NOT_FOUND', 'no such session', { sessionId });
    return s.value;
  }

  /** Snapshot of every known party's liveness. */
  parties(): ReturnType<PartyRegistry['snapshot']> {
    return this.registry.snapshot();
  }
}

/** The POLICY_DENIED error for a deny decision. */
function denial(
  decision: Extract<RuleDecision, { effect: 'deny' }>,
  policyHash: string,
  when = 'rules checked at request',
): QuorateError {
  return new QuorateError('QUORATE_E_POLICY_DENIED', decision.reason, {
    cause: decision.cause,
    ...(decision.ruleId === undefined ? {} : { ruleId: decision.ruleId }),
    policyHash,
    when,
  });
}

/** Human-readable "waiting for approvals" reason. */
function pendingReasonOf(
  groups: readonly {
    k: number;
    approvedBy: readonly string[];
    missing: number;
    ruleIds: readonly string[];
  }[],
): string {
  const parts = groups
    .filter((g) => g.missing > 0)
    .map((g) => `${g.missing} more of ${g.k} approvals for rule ${g.ruleIds.join('+')}`);
  return `awaiting approvals: ${parts.join('; ')}`;
}

/**
 * The session's context: the client's fields plus the authenticated initiator. A client
 * `initiator` never survives (the API schema rejects it; this drops it for in-process callers).
 */
function signingContextOf(request: SignRequest): { context?: SigningContext } {
  const { initiator: _claimed, ...client } = request.context ?? {};
  const context: SigningContext = {
    ...client,
    ...(request.initiator === undefined ? {} : { initiator: request.initiator }),
  };
  return Object.keys(context).length === 0 ? {} : { context };
}
