/**
 * Drives one session: feeds events into the pure machine (src/session/machine.ts) and carries
 * out its effects — store CAS under the replica lease, signing attempts, timers, rule
 * evaluation. Events are handled strictly one at a time through a promise chain, so effects of
 * one transition finish before the next event is looked at. The runner is the only writer of
 * its session's record.
 */
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import type { SignatureEngine } from '../protocol/engine.ts';
import type { RulesVerdict } from '../session/governed.ts';
import {
  transition,
  type SessionEffect,
  type SessionEvent,
  type SessionState,
} from '../session/machine.ts';
import { isTerminal, type SessionRecord } from '../session/record.ts';
import type { TimeoutPolicy } from '../session/timeouts.ts';
import type { Lease, Store, WalletRecord } from '../store/store.ts';
import { buildDiscard, type Envelope } from '../transport/wire.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { PartyRegistry } from './party-registry.ts';
import { SigningAttempt } from './signing-attempt.ts';

/** Rule evaluation for governed sessions (src/coordinator/governance.ts). */
export interface RunnerGovernance {
  /** Evaluates the rules and approvals of a governed session that is not signing yet. */
  evaluate(record: SessionRecord, wallet: WalletRecord): Promise<RulesVerdict>;
  /** Runs `fn` after every earlier call for the same wallet (velocity stays exact). */
  serialize<T>(walletId: string, fn: () => Promise<T>): Promise<T>;
}

/** What a runner needs from its coordinator. */
export interface RunnerDeps {
  env: Env;
  store: Store;
  registry: PartyRegistry;
  engine: SignatureEngine;
  wallet: WalletRecord;
  metrics: CoordinatorMetrics;
  timeoutPolicy: TimeoutPolicy;
  governance: RunnerGovernance;
  /** Resolves once enough of the wallet's parties are back after a coordinator restart. */
  partiesSettled(deadlineMs: number): Promise<void>;
  /** This replica's live store lease; undefined once lost (every write is guarded by it). */
  lease(): Lease | undefined;
  onFinished(runner: SessionRunner): void;
}

interface Waiter {
  resolve(record: SessionRecord): void;
  reject(error: QuorateError): void;
}

/** What {@link SessionRunner.submit} reports. */
export interface Submitted {
  /** False if the machine ignored the event (e.g. an approval for a session not waiting). */
  accepted: boolean;
  record: SessionRecord;
}

/** The error in-flight requests get when this replica stops driving their session. */
export function notOwnerError(sessionId: string | undefined, reason: string): QuorateError {
  return new QuorateError(
    'QUORATE_E_NOT_OWNER',
    sessionId === undefined
      ? 'this coordinator replica holds no store lease and cannot open or join a session now; retry on any replica'
      : 'this coordinator replica lost its store lease and stopped driving the session; retry on any replica',
    sessionId === undefined ? { reason } : { sessionId, reason },
  );
}

/** One session's driver. */
export class SessionRunner {
  private state: SessionState;
  /**
   * The record as last written to the store. Only this is ever shown (API reads, waiters): the
   * machine's state runs ahead of the store while a persist is in flight, and a signature whose
   * write then fails must never leave this process (I1 across replicas: found by
   * `quorate sim --seed 19 --kind lease-expiry`).
   */
  private durable: SessionRecord;
  private attempt: SigningAttempt | undefined;
  private chain: Promise<void> = Promise.resolve();
  private cancelDeadline: () => void = () => {};
  private armedDeadlineMs: number | undefined;
  private cancelApprovalTimer: () => void = () => {};
  private readonly waiters = new Set<Waiter>();
  private stopped = false;
  private readonly log;
  private readonly startedMono: number;

  constructor(
    private readonly deps: RunnerDeps,
    state: SessionState,
  ) {
    this.state = state;
    this.durable = state.record;
    this.log = deps.env.log.child({ sessionId: state.record.sessionId });
    this.startedMono = deps.env.monoMs();
  }

  get sessionId(): string {
    return this.state.record.sessionId;
  }

  /** The session as stored (never a transition whose write has not succeeded). */
  get record(): SessionRecord {
    return this.durable;
  }

  /** True while the session waits for approvals (no attempt, no party involved). */
  get isApproving(): boolean {
    return this.durable.status === 'pending' && this.durable.pendingReason !== undefined;
  }

  /**
   * Arms the deadline timer and feeds the first event (`begin` or `recover`). Resolves once that
   * event's effects are done (for a governed session: its rules evaluated); rejects if they fail.
   */
  start(first: 'begin' | 'recover'): Promise<Submitted> {
    if (this.stopped) return Promise.resolve({ accepted: false, record: this.durable });
    this.armDeadline();
    return this.submit({
      type: first,
      nowMs: this.deps.env.nowMs(),
      candidates: this.candidates(),
    });
  }

  /** Queues an event; transitions never interleave. Errors stop the runner (see crash). */
  dispatch(event: SessionEvent): void {
    this.submit(event).catch(() => {});
  }

  /** Queues an event and resolves once its effects are done; rejects with what stopped them. */
  submit(event: SessionEvent): Promise<Submitted> {
    let accepted = false;
    const done = this.chain.then(async () => {
      accepted = await this.handle(event);
    });
    this.chain = done.catch((error: unknown) => this.crash(error));
    return done.then(() => ({ accepted, record: this.durable }));
  }

  /** The wallet this session signs for. */
  get walletId(): string {
    return this.deps.wallet.walletId;
  }

  /** The detector's view of the wallet's parties, now. */
  candidates(): ReturnType<PartyRegistry['candidates']> {
    return this.deps.registry.candidates(this.deps.wallet.parties);
  }

  private async handle(event: SessionEvent): Promise<boolean> {
    if (this.stopped) return false;
    const { state, effects } = transition(this.state, event);
    this.state = state;
    for (const effect of effects) {
      if (this.stopped) break;
      await this.apply(effect);
    }
    return effects.length > 0;
  }

  private async apply(effect: SessionEffect): Promise<void> {
    switch (effect.type) {
      case 'persist':
        return this.persist(effect.expectedVersion, effect.record);
      case 'run-attempt':
        this.runAttempt(effect);
        return;
      case 'discard-attempt':
        this.closeAttempt();
        this.sendDiscard(effect.parties, effect.attempt, effect.token, effect.reason);
        this.deps.metrics.attemptsTotal.inc({ outcome: effect.reason });
        return;
      case 'store-evidence':
        await this.deps.store.putEvidence({
          sessionId: this.sessionId,
          attempt: effect.attempt,
          partyId: effect.partyId,
          reason: effect.reason,
          evidence: effect.evidence,
          recordedMs: this.deps.env.nowMs(),
        });
        return;
      case 'evaluate-rules':
        return this.evaluateRules();
      case 'arm-approval-timer':
        this.armApprovalTimer(effect.atMs);
        return;
      case 'finished':
        this.finish(effect.status);
        return;
    }
  }

  private async persist(expectedVersion: number, record: SessionRecord): Promise<void> {
    const lease = this.deps.lease();
    if (!lease) throw notOwnerError(this.sessionId, 'lease-lost');
    const stored = await this.deps.store.casSession(this.sessionId, expectedVersion, record, {
      lease,
    });
    this.durable = stored.value;
    if (this.armedDeadlineMs !== stored.value.deadlineMs) this.armDeadline();
    // A request waiting on the session answers once it waits for approvals (nothing to wait for).
    if (this.isApproving) this.resolveWaiters();
  }

  /**
   * Evaluates the rules of a governed session, serialised per wallet so concurrent requests
   * cannot both pass a velocity limit, and feeds the verdict back before the wallet is released.
   * Signing starts only once the wallet's parties are back after a restart.
   */
  private async evaluateRules(): Promise<void> {
    const { governance, wallet, env } = this.deps;
    await governance.serialize(wallet.walletId, async () => {
      if (this.stopped) return;
      const verdict = await governance.evaluate(this.state.record, wallet);
      if (verdict.kind === 'allow' && verdict.satisfied)
        await this.deps.partiesSettled(env.nowMs() + verdict.policy.signingDeadlineMs);
      await this.handle({
        type: 'recheck',
        nowMs: env.nowMs(),
        verdict,
        candidates: this.candidates(),
      });
    });
  }

  private armDeadline(): void {
    this.cancelDeadline();
    const { env } = this.deps;
    const deadlineMs = this.state.record.deadlineMs;
    this.armedDeadlineMs = deadlineMs;
    this.cancelDeadline = env.setTimer(deadlineMs - env.nowMs(), () =>
      this.dispatch({ type: 'deadline', nowMs: env.nowMs(), atMs: deadlineMs }),
    );
  }

  private armApprovalTimer(atMs: number): void {
    this.cancelApprovalTimer();
    const { env } = this.deps;
    this.cancelApprovalTimer = env.setTimer(Math.max(0, atMs - env.nowMs()), () =>
      this.dispatch({ type: 'approval-deadline', nowMs: env.nowMs(), atMs }),
    );
  }

  private runAttempt(effect: Extract<SessionEffect, { type: 'run-attempt' }>): void {
    const { attempt, token, parties, asked } = effect;
    const { env, registry, engine, wallet, metrics, timeoutPolicy } = this.deps;
    const deps = { env, registry, engine, wallet, metrics, timeoutPolicy, log: this.log };
    const live = new SigningAttempt(
      deps,
      this.state.record,
      { attempt, token, parties, ...(asked === undefined ? {} : { asked }) },
      {
        failed: (failure) =>
          this.dispatch({
            type: 'attempt-failed',
            attempt,
            nowMs: env.nowMs(),
            ...failure,
            candidates: this.candidates(),
          }),
        signed: (signature, signers, recoveryId) =>
          this.dispatch({
            type: 'attempt-signed',
            attempt,
            nowMs: env.nowMs(),
            signature,
            signers,
            ...(recoveryId === undefined ? {} : { recoveryId }),
          }),
      },
    );
    this.attempt = live;
    live.start();
  }

  /** An envelope from a party for this session. */
  onEnvelope(partyId: string, e: Envelope): void {
    this.attempt?.onEnvelope(partyId, e);
  }

  /** A party's connection dropped: the attempt fails at once if it still needs that party. */
  onDisconnect(partyId: string): void {
    this.attempt?.onDisconnect(partyId);
  }

  private closeAttempt(): void {
    this.attempt?.close();
    this.attempt = undefined;
  }

  private sendDiscard(
    parties: Iterable<string>,
    attempt: number,
    token: number,
    reason: string,
  ): void {
    const discard = buildDiscard({ sessionId: this.sessionId, attempt, token }, reason);
    for (const partyId of parties) this.deps.registry.send(partyId, discard);
  }

  private stopTimers(): void {
    this.closeAttempt();
    this.cancelDeadline();
    this.cancelApprovalTimer();
  }

  private finish(status: 'signed' | 'failed'): void {
    const { metrics, env } = this.deps;
    this.stopTimers();
    const code = this.state.record.error?.code ?? '';
    metrics.sessionsTotal.inc({ outcome: status, code });
    metrics.sessionSeconds.observe((env.monoMs() - this.startedMono) / 1000);
    this.log.info(
      { status, code, attempts: this.state.record.attempts.length },
      'session finished',
    );
    this.resendDiscards();
    this.stopped = true;
    this.resolveWaiters();
    this.deps.onFinished(this);
  }

  private resolveWaiters(): void {
    for (const w of this.waiters) w.resolve(this.durable);
    this.waiters.clear();
  }

  /**
   * This replica lost its lease: stop driving at once (no more envelopes, no more writes) and
   * fail every waiting request explicitly. The session stays non-terminal in the store for the
   * replica that takes it over.
   */
  abandon(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTimers();
    const error = notOwnerError(this.sessionId, reason);
    for (const w of this.waiters) w.reject(error);
    this.waiters.clear();
    this.deps.onFinished(this);
  }

  /**
   * The discard sent when an attempt aborted may have been lost (partition, loss): repeat it,
   * with the session's latest token, to every party of an aborted attempt, so state does not
   * linger until the party's local TTL (I6; found by `quorate sim --seed 456`). The same for
   * the candidates a hedged attempt asked and did not choose.
   */
  private resendDiscards(): void {
    const attempts = this.state.record.attempts;
    const last = attempts[attempts.length - 1];
    if (!last) return;
    const parties = new Set(
      attempts.flatMap((a) =>
        a.outcome === 'aborted'
          ? (a.asked ?? a.parties)
          : (a.asked ?? []).filter((p) => !a.parties.includes(p)),
      ),
    );
    if (parties.size === 0) return;
    this.sendDiscard(parties, last.attempt, last.token, 'session finished');
  }

  private crash(error: unknown): void {
    if (error instanceof QuorateError && error.code === 'QUORATE_E_NOT_OWNER') {
      const reason = error.detail['reason'];
      this.abandon(typeof reason === 'string' ? reason : 'lease-lost');
      return;
    }
    // A stale CAS means another owner moved the session on: stop driving it. Waiters get the
    // stored record; the coordinator keeps polling the store for them until the new owner ends it.
    const stale = error instanceof QuorateError && error.code === 'QUORATE_E_STALE_TOKEN';
    this.log.error(
      { error: String(error) },
      stale ? 'lost session ownership' : 'session runner failed',
    );
    this.stopTimers();
    this.stopped = true;
    void this.deps.store.getSession(this.sessionId).then(
      (s) => {
        if (s) {
          this.state = { ...this.state, record: s.value, version: s.version };
          this.durable = s.value;
        }
        this.resolveWaiters();
        this.deps.onFinished(this);
      },
      (readError: unknown) => {
        // The store is unreachable: what happened to the session is unknown here. Say so.
        const failure =
          readError instanceof QuorateError
            ? readError
            : new QuorateError('QUORATE_E_STORE_UNAVAILABLE', String(readError), {
                sessionId: this.sessionId,
              });
        for (const w of this.waiters) w.reject(failure);
        this.waiters.clear();
        this.deps.onFinished(this);
      },
    );
  }

  /** True once this runner no longer drives the session (finished, stale or abandoned). */
  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Resolves with the record once terminal or waiting for approvals, or the current one after
   * `waitMs`; rejects with `QUORATE_E_NOT_OWNER` if this replica abandons the session first.
   */
  wait(waitMs: number): Promise<SessionRecord> {
    if (isTerminal(this.durable.status) || this.stopped || this.isApproving)
      return Promise.resolve(this.durable);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (record) => {
          cancel();
          resolve(record);
        },
        reject: (error) => {
          cancel();
          reject(error);
        },
      };
      const cancel = this.deps.env.setTimer(waitMs, () => {
        this.waiters.delete(waiter);
        resolve(this.durable);
      });
      this.waiters.add(waiter);
    });
  }

  /** True if this runner holds attempt state past deadline + cleanup bound (stale metric). */
  isStale(nowMs: number, boundMs: number): boolean {
    return nowMs > this.state.record.deadlineMs + boundMs;
  }
}
