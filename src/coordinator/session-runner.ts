/**
 * Drives one session: feeds events into the pure machine and carries out its effects (store
 * CAS, envelopes, timers). Events are handled strictly one at a time through a promise chain,
 * so effects of one transition finish before the next event is looked at.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import type { ProtocolRole, SignatureEngine } from '../protocol/engine.ts';
import {
  transition,
  type SessionEffect,
  type SessionEvent,
  type SessionState,
} from '../session/machine.ts';
import { roundTimeoutMs, type TimeoutPolicy } from '../session/timeouts.ts';
import type { Lease, Store, WalletRecord } from '../store/store.ts';
import type { SessionRecord } from '../session/record.ts';
import { isTerminal } from '../session/record.ts';
import type { Envelope } from '../transport/envelope.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { PartyRegistry } from './party-registry.ts';

/** What a runner needs from its coordinator. */
export interface RunnerDeps {
  env: Env;
  store: Store;
  registry: PartyRegistry;
  engine: SignatureEngine;
  wallet: WalletRecord;
  metrics: CoordinatorMetrics;
  timeoutPolicy: TimeoutPolicy;
  /** This replica's live store lease; undefined once lost (every write is guarded by it). */
  lease(): Lease | undefined;
  onFinished(runner: SessionRunner): void;
}

interface LiveAttempt {
  attempt: number;
  token: number;
  parties: string[];
  round: number;
  responded: Set<string>;
  aggregator: ProtocolRole<{ signature: string }>;
  shareEnvelopes: Map<string, Envelope>;
  cancelRoundTimer: () => void;
}

interface Waiter {
  resolve(record: SessionRecord): void;
  reject(error: QuorateError): void;
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
  private live: LiveAttempt | undefined;
  private chain: Promise<void> = Promise.resolve();
  private cancelDeadline: () => void = () => {};
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

  /** The wall-clock deadline of the session. */
  get deadlineMs(): number {
    return this.state.record.deadlineMs;
  }

  /** Arms the deadline timer and feeds the first event (`begin` or `recover`). */
  start(first: 'begin' | 'recover'): void {
    if (this.stopped) return;
    const { env } = this.deps;
    const remaining = this.state.record.deadlineMs - env.nowMs();
    this.cancelDeadline = env.setTimer(remaining, () =>
      this.dispatch({ type: 'deadline', nowMs: env.nowMs() }),
    );
    const candidates = this.deps.registry.candidates(this.deps.wallet.parties);
    this.dispatch({ type: first, nowMs: env.nowMs(), candidates });
  }

  /** Queues an event; transitions never interleave. */
  dispatch(event: SessionEvent): void {
    this.chain = this.chain
      .then(() => this.handle(event))
      .catch((error: unknown) => this.crash(error));
  }

  private async handle(event: SessionEvent): Promise<void> {
    if (this.stopped) return;
    const { state, effects } = transition(this.state, event);
    this.state = state;
    for (const effect of effects) {
      if (this.stopped) return;
      await this.apply(effect);
    }
  }

  private async apply(effect: SessionEffect): Promise<void> {
    const { store, registry } = this.deps;
    switch (effect.type) {
      case 'persist': {
        const lease = this.deps.lease();
        if (!lease) throw notOwnerError(this.sessionId, 'lease-lost');
        const stored = await store.casSession(
          this.sessionId,
          effect.expectedVersion,
          effect.record,
          { lease },
        );
        this.durable = stored.value;
        return;
      }
      case 'run-attempt':
        this.runAttempt(effect.attempt, effect.token, effect.parties);
        return;
      case 'discard-attempt':
        this.closeLive();
        for (const partyId of effect.parties) {
          registry.send(partyId, {
            kind: 'discard',
            sessionId: this.sessionId,
            attempt: effect.attempt,
            token: effect.token,
            round: 0,
            body: { reason: effect.reason },
          });
        }
        this.deps.metrics.attemptsTotal.inc({ outcome: effect.reason });
        return;
      case 'store-evidence':
        await store.putEvidence({
          sessionId: this.sessionId,
          attempt: effect.attempt,
          partyId: effect.partyId,
          reason: effect.reason,
          evidence: effect.evidence,
          recordedMs: this.deps.env.nowMs(),
        });
        return;
      case 'finished':
        this.finish(effect.status);
        return;
    }
  }

  private runAttempt(attempt: number, token: number, parties: string[]): void {
    const { engine, wallet, registry } = this.deps;
    const record = this.state.record;
    const message = hexToBytes(record.messageHex);
    const aggregator = engine.aggregator({
      publicPackage: wallet.publicPackage,
      message,
      signers: parties,
    });
    aggregator.start();
    this.live = {
      attempt,
      token,
      parties,
      round: 1,
      responded: new Set(),
      aggregator,
      shareEnvelopes: new Map(),
      cancelRoundTimer: () => {},
    };
    this.armRoundTimer();
    this.log.debug({ attempt, token, parties }, 'attempt started');
    const body = {
      walletId: record.walletId,
      intentKey: record.intentKey,
      messageHex: record.messageHex,
      messageHash: record.messageHash,
      signers: parties,
      deadlineMs: record.deadlineMs,
      // Parties time the session from their own clock: a skewed wall clock cannot expire it.
      remainingMs: Math.max(0, Math.round(record.deadlineMs - this.deps.env.nowMs())),
      // Governed sessions: each party re-evaluates its own copy of the rules (pinned by hash).
      ...(record.policy === undefined
        ? {}
        : {
            policy: {
              tier: record.policy.tier,
              policyHash: record.policy.policyHash,
              context: record.context ?? {},
              approvals: record.policy.approvals,
            },
          }),
    };
    const unreachable = parties.filter(
      (partyId) =>
        !registry.send(partyId, {
          kind: 'sign-start',
          sessionId: this.sessionId,
          attempt,
          token,
          round: 0,
          body,
        }),
    );
    if (unreachable.length > 0)
      this.failAttempt('disconnected', 'party not connected', unreachable);
  }

  private armRoundTimer(): void {
    const live = this.live;
    if (!live) return;
    live.cancelRoundTimer();
    const { env, registry, timeoutPolicy, metrics } = this.deps;
    const rtts = live.parties.map((p) => registry.rttPercentile(p, 99));
    const timeoutMs = roundTimeoutMs(
      timeoutPolicy,
      rtts,
      this.state.record.deadlineMs - env.nowMs(),
    );
    metrics.roundTimeoutMs.set(timeoutMs);
    const { attempt, round } = live;
    // Fixed when the round starts; traffic does not restart it.
    live.cancelRoundTimer = env.setTimer(timeoutMs, () => this.onRoundTimeout(attempt, round));
  }

  private onRoundTimeout(attempt: number, round: number): void {
    const live = this.live;
    if (!live || live.attempt !== attempt || live.round !== round) return;
    const missing = live.parties.filter((p) => !live.responded.has(p));
    for (const p of missing) this.deps.registry.markSuspect(p);
    this.log.warn({ attempt, round, missing }, 'round deadline missed');
    this.failAttempt('timeout', `round ${round} deadline missed`, missing);
  }

  private failAttempt(
    cause: 'timeout' | 'blame' | 'refused' | 'disconnected' | 'stale',
    reason: string,
    parties: string[],
    evidence?: Record<string, unknown>,
  ): void {
    const live = this.live;
    if (!live) return;
    const { env, registry, wallet } = this.deps;
    this.dispatch({
      type: 'attempt-failed',
      attempt: live.attempt,
      nowMs: env.nowMs(),
      cause,
      reason,
      parties,
      candidates: registry.candidates(wallet.parties),
      ...(evidence === undefined ? {} : { evidence }),
    });
  }

  /** An envelope from a party for this session. */
  onEnvelope(partyId: string, e: Envelope): void {
    const live = this.live;
    if (
      !live ||
      e.attempt !== live.attempt ||
      e.token !== live.token ||
      !live.parties.includes(partyId)
    )
      return;
    if (e.kind === 'refuse') {
      const body = e.body as { code?: string; reason?: string; hard?: boolean };
      this.failAttempt(
        body.hard === true ? 'refused' : 'stale',
        `${body.code ?? 'unknown'}: ${body.reason ?? ''}`,
        [partyId],
      );
      return;
    }
    if (e.kind !== 'protocol' || e.round !== live.round) return;
    live.responded.add(partyId);
    if (e.round === 2) live.shareEnvelopes.set(partyId, e);
    const step = live.aggregator.handle({
      from: partyId,
      to: 'coordinator',
      round: e.round,
      payload: e.body,
    });
    if (step.kind === 'abort') {
      for (const p of step.abort.blamed) this.deps.registry.markBlamed(p, step.abort.reason);
      const envelopes = Object.fromEntries(
        step.abort.blamed.map((p) => [p, live.shareEnvelopes.get(p) ?? null]),
      );
      this.failAttempt('blame', step.abort.reason, step.abort.blamed, {
        ...step.abort.evidence,
        envelopes,
      });
      return;
    }
    if (step.kind === 'done') {
      this.onAggregated(live, step.result.signature);
      return;
    }
    if (step.outgoing.length > 0) {
      live.round += 1;
      live.responded = new Set();
      this.armRoundTimer();
      for (const out of step.outgoing) {
        this.deps.registry.send(out.to, {
          kind: 'protocol',
          sessionId: this.sessionId,
          attempt: live.attempt,
          token: live.token,
          round: out.round,
          body: out.payload,
        });
      }
    }
  }

  private onAggregated(live: LiveAttempt, signature: string): void {
    const { engine, wallet, env, registry } = this.deps;
    // I4: never hand out a signature that does not verify under the wallet key.
    const ok = engine.verify(
      hexToBytes(signature),
      hexToBytes(this.state.record.messageHex),
      hexToBytes(wallet.publicKey),
    );
    if (!ok) {
      this.failAttempt('blame', 'aggregated signature does not verify', [], { signature });
      return;
    }
    for (const p of live.parties) registry.recordSuccess(p);
    live.cancelRoundTimer();
    this.dispatch({
      type: 'attempt-signed',
      attempt: live.attempt,
      nowMs: env.nowMs(),
      signature,
      signers: live.parties,
    });
  }

  /** A party's connection dropped: fail the attempt at once if it was in the quorum. */
  onDisconnect(partyId: string): void {
    const live = this.live;
    if (!live?.parties.includes(partyId)) return;
    // A party that already delivered its share in the last round is no longer needed.
    if (live.round === 2 && live.responded.has(partyId)) return;
    this.failAttempt('disconnected', 'party disconnected', [partyId]);
  }

  private closeLive(): void {
    if (!this.live) return;
    this.live.cancelRoundTimer();
    this.live.aggregator.wipe();
    this.live = undefined;
  }

  private finish(status: 'signed' | 'failed'): void {
    const { metrics, env } = this.deps;
    this.closeLive();
    this.cancelDeadline();
    const code = this.state.record.error?.code ?? '';
    metrics.sessionsTotal.inc({ outcome: status, code });
    metrics.sessionSeconds.observe((env.monoMs() - this.startedMono) / 1000);
    this.log.info(
      { status, code, attempts: this.state.record.attempts.length },
      'session finished',
    );
    this.resendDiscards();
    this.stopped = true;
    for (const w of this.waiters) w.resolve(this.durable);
    this.waiters.clear();
    this.deps.onFinished(this);
  }

  /**
   * This replica lost its lease: stop driving at once (no more envelopes, no more writes) and
   * fail every waiting request explicitly. The session stays non-terminal in the store for the
   * replica that takes it over.
   */
  abandon(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeLive();
    this.cancelDeadline();
    const error = notOwnerError(this.sessionId, reason);
    for (const w of this.waiters) w.reject(error);
    this.waiters.clear();
    this.deps.onFinished(this);
  }

  /**
   * The discard sent when an attempt aborted may have been lost (partition, loss): repeat it,
   * with the session's latest token, to every party of an aborted attempt, so state does not
   * linger until the party's local TTL (I6; found by `quorate sim --seed 456`).
   */
  private resendDiscards(): void {
    const attempts = this.state.record.attempts;
    const last = attempts[attempts.length - 1];
    if (!last) return;
    const parties = new Set(
      attempts.filter((a) => a.outcome === 'aborted').flatMap((a) => a.parties),
    );
    for (const partyId of parties) {
      this.deps.registry.send(partyId, {
        kind: 'discard',
        sessionId: this.sessionId,
        attempt: last.attempt,
        token: last.token,
        round: 0,
        body: { reason: 'session finished' },
      });
    }
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
    this.closeLive();
    this.cancelDeadline();
    this.stopped = true;
    void this.deps.store.getSession(this.sessionId).then(
      (s) => {
        if (s) {
          this.state = { ...this.state, record: s.value, version: s.version };
          this.durable = s.value;
        }
        for (const w of this.waiters) w.resolve(this.durable);
        this.waiters.clear();
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
   * Resolves with the record once terminal, or the current one after `waitMs`; rejects with
   * `QUORATE_E_NOT_OWNER` if this replica abandons the session first.
   */
  wait(waitMs: number): Promise<SessionRecord> {
    if (isTerminal(this.durable.status) || this.stopped) return Promise.resolve(this.durable);
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
