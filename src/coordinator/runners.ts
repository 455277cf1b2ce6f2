/**
 * The session runners this replica drives, one per session it owns that is not terminal
 * (signing, or waiting for approvals): creating and launching them, routing party traffic to
 * them, waiting on them, and stopping them all when the replica stops or loses its lease.
 */
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { governedPhase } from '../session/governed.ts';
import { hedgeWidth } from '../session/hedge.ts';
import { initialState } from '../session/machine.ts';
import { isTerminal, type SessionRecord } from '../session/record.ts';
import type { TimeoutPolicy } from '../session/timeouts.ts';
import type { Scheme, SignatureEngine } from '../protocol/engine.ts';
import type { Lease, Store, Versioned, WalletRecord } from '../store/store.ts';
import type { Envelope } from '../transport/wire.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { PartyRegistry } from './party-registry.ts';
import { SessionRunner, type RunnerGovernance, type Submitted } from './session-runner.ts';

/** What the runners share. */
export interface RunnersDeps {
  env: Env;
  store: Store;
  registry: PartyRegistry;
  metrics: CoordinatorMetrics;
  timeoutPolicy: TimeoutPolicy;
  governance: RunnerGovernance;
  /** The protocol engine of each scheme. */
  engines: Record<Scheme, SignatureEngine>;
  /** This replica's live store lease, if any. */
  lease(): Lease | undefined;
  /** After a restart, how long to wait for parties to reconnect before signing. */
  recoveryGraceMs: number;
}

/** Every session runner of this replica. */
export class SessionRunners {
  private readonly runners = new Map<string, SessionRunner>();
  private readonly startedMono: number;

  constructor(private readonly deps: RunnersDeps) {
    this.startedMono = deps.env.monoMs();
  }

  /** The runner driving `sessionId`, if this replica drives it. */
  get(sessionId: string): SessionRunner | undefined {
    return this.runners.get(sessionId);
  }

  /** Every session this replica drives (signing, or waiting for approvals). */
  get size(): number {
    return this.runners.size;
  }

  /** Sessions being signed here (a session waiting for approvals holds no party). */
  get signing(): number {
    let n = 0;
    for (const r of this.runners.values()) if (!r.isApproving) n += 1;
    return n;
  }

  /**
   * Sessions of `walletId` being signed here now (a session waiting for approvals holds no
   * party). A lifecycle flip waits for them to end: they sign under the epoch they began in.
   */
  signingFor(walletId: string): number {
    let n = 0;
    for (const r of this.runners.values()) if (!r.isApproving && r.walletId === walletId) n += 1;
    return n;
  }

  /** A runner for a session this replica owns, at the stored version `s`. */
  create(wallet: WalletRecord, s: Versioned<SessionRecord>): SessionRunner {
    const { env, store, registry, metrics, timeoutPolicy, governance } = this.deps;
    const runner = new SessionRunner(
      {
        env,
        store,
        registry,
        engine: this.deps.engines[wallet.scheme],
        wallet,
        metrics,
        timeoutPolicy,
        governance,
        partiesSettled: (deadlineMs) => this.partiesSettled(wallet, deadlineMs),
        lease: () => this.deps.lease(),
        onFinished: (r) => {
          // A retry may have given the session a newer runner: only remove this one.
          if (this.runners.get(r.sessionId) === r) this.runners.delete(r.sessionId);
          metrics.sessionsActive.set(this.runners.size);
        },
      },
      initialState(s.value, s.version, {
        threshold: wallet.threshold,
        parties: wallet.parties,
        governed: wallet.tier !== undefined,
        // Hedged first round where the engine can fix its signer set after round 1.
        hedgeExtraParties:
          this.deps.engines[wallet.scheme].hedgesFirstRound === true
            ? hedgeWidth(wallet.parties.length, wallet.threshold)
            : 0,
      }),
    );
    this.runners.set(s.value.sessionId, runner);
    metrics.sessionsActive.set(this.runners.size);
    return runner;
  }

  /**
   * Creates and starts a runner. A governed session that is not signing yet starts at once
   * (its rules are evaluated first; signing waits for the parties inside); one about to sign
   * waits for the wallet's parties after a restart first.
   */
  launch(
    wallet: WalletRecord,
    s: Versioned<SessionRecord>,
    first: 'begin' | 'recover',
  ): Promise<Submitted> {
    const runner = this.create(wallet, s);
    if (governedPhase(s.value, wallet.tier !== undefined) !== 'none') return runner.start(first);
    return this.partiesSettled(wallet, s.value.deadlineMs).then(() => runner.start(first));
  }

  /**
   * Resolves at once in steady state. Just after this coordinator started, parties may not
   * have reconnected yet: wait until t of the wallet's parties are alive, bounded by the grace
   * period and by half of it before the deadline, so "quorum unavailable" is not declared
   * merely because the coordinator itself was down (I5).
   */
  partiesSettled(wallet: WalletRecord, deadlineMs: number): Promise<void> {
    const { env, registry, recoveryGraceMs } = this.deps;
    return new Promise((resolve) => {
      const poll = () => {
        const alive = registry.candidates(wallet.parties).filter((c) => c.state === 'alive').length;
        const sinceStartMs = env.monoMs() - this.startedMono;
        const leftMs = deadlineMs - env.nowMs();
        if (
          alive >= wallet.threshold ||
          sinceStartMs >= recoveryGraceMs ||
          leftMs < recoveryGraceMs / 2
        )
          resolve();
        else env.setTimer(limits.pollIntervalMs * 2, poll);
      };
      poll();
    });
  }

  /** Routes a party's envelope to the session it is for. */
  onEnvelope(partyId: string, e: Envelope): void {
    this.runners.get(e.sessionId)?.onEnvelope(partyId, e);
  }

  /** A party disconnected: every attempt that still needs it fails at once. */
  onDisconnect(partyId: string): void {
    for (const r of [...this.runners.values()]) r.onDisconnect(partyId);
  }

  /** Stops driving every session (their waiting requests get `QUORATE_E_NOT_OWNER`). */
  abandonAll(reason: string): number {
    const driven = [...this.runners.values()];
    for (const r of driven) r.abandon(reason);
    return driven.length;
  }

  /** Counts runners holding state past their deadline plus the cleanup bound (a metric). */
  countStale(nowMs: number): number {
    let stale = 0;
    for (const r of this.runners.values())
      if (r.isStale(nowMs, limits.abortCleanupMsMax)) stale += 1;
    return stale;
  }

  /**
   * Waits up to `waitMs` for the session to be terminal; returns its latest record. A session
   * this replica drives is awaited on its runner (which fails the wait with
   * `QUORATE_E_NOT_OWNER` if this replica loses its lease); one driven elsewhere (another
   * replica, or taken over from this one) is polled in the store, bounded.
   */
  async waitFor(sessionId: string, waitMs: number): Promise<SessionRecord> {
    const { env } = this.deps;
    const until = env.monoMs() + waitMs;
    const left = () => Math.max(0, until - env.monoMs());
    const stepsMax = Math.ceil(waitMs / limits.pollIntervalMs) + 2;
    let record = await this.read(sessionId);
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
      if (!driven) await new Promise<void>((r) => env.setTimer(limits.pollIntervalMs, r));
      record = await this.read(sessionId);
      if (isTerminal(record.status) || (record.retry?.count ?? 0) !== tryNo) return record;
    }
    return record;
  }

  /** The session as this replica knows it: its runner's record, else the store's. */
  async read(sessionId: string): Promise<SessionRecord> {
    const runner = this.runners.get(sessionId);
    if (runner) return runner.record;
    const s = await this.deps.store.getSession(sessionId);
    if (!s) throw new QuorateError('QUORATE_E_SESSION_NOT_FOUND', 'no such session', { sessionId });
    return s.value;
  }
}
