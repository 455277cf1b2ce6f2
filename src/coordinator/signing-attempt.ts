/**
 * One signing attempt on the coordinator: sends sign-start to the chosen quorum, runs the
 * engine's aggregator role through as many rounds as the engine has (relaying what it sends
 * to each party), times every round, and reports exactly one outcome — signed, or failed with a
 * cause and the parties at fault. It never writes the session record: the session runner feeds
 * the outcome into the machine.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import type { Env, Log } from '../core/env.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { ProtocolRole, SignatureEngine } from '../protocol/engine.ts';
import type { AttemptFailureCause } from '../session/machine.ts';
import type { SessionRecord } from '../session/record.ts';
import { roundTimeoutMs, type TimeoutPolicy } from '../session/timeouts.ts';
import type { WalletRecord } from '../store/store.ts';
import type { Payload } from '../protocol/engine.ts';
import {
  buildProtocol,
  buildSignStart,
  validateProtocol,
  validateRefuse,
  type Envelope,
  type EnvelopeFields,
  type SignStartBody,
} from '../transport/wire.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { PartyRegistry } from './party-registry.ts';

/** What an attempt needs from its runner. */
export interface AttemptDeps {
  env: Env;
  registry: PartyRegistry;
  engine: SignatureEngine;
  wallet: WalletRecord;
  metrics: CoordinatorMetrics;
  timeoutPolicy: TimeoutPolicy;
  log: Log;
}

/** Where the attempt reports its one outcome. */
export interface AttemptOutcome {
  failed(
    cause: AttemptFailureCause,
    reason: string,
    parties: string[],
    evidence?: Record<string, unknown>,
    code?: ErrorCode,
  ): void;
  signed(signature: string, signers: string[]): void;
}

/** The attempt's identity in the session: its number, fencing token and quorum. */
export interface AttemptId {
  attempt: number;
  token: number;
  parties: string[];
}

/** One attempt in flight. */
export class SigningAttempt {
  private round = 1;
  private responded = new Set<string>();
  /** Each party's envelope of the current round (blame evidence). */
  private roundEnvelopes = new Map<string, Envelope>();
  private readonly aggregator: ProtocolRole<{ signature: string }>;
  private cancelRoundTimer: () => void = () => {};
  private closed = false;

  constructor(
    private readonly deps: AttemptDeps,
    private readonly record: SessionRecord,
    readonly id: AttemptId,
    private readonly outcome: AttemptOutcome,
  ) {
    this.aggregator = deps.engine.aggregator({
      publicPackage: deps.wallet.publicPackage,
      message: hexToBytes(record.messageHex),
      signers: id.parties,
    });
  }

  /** Sends sign-start to every party of the quorum and starts round 1's clock. */
  start(): void {
    this.aggregator.start();
    this.armRoundTimer();
    const { attempt, token, parties } = this.id;
    this.deps.log.debug({ attempt, token, parties }, 'attempt started');
    const body = signStartBody(this.record, parties, this.deps.env.nowMs());
    if (this.deps.engine.signingSealsPeerMessages === true) {
      // Sealing needs every signer's key; without one the attempt cannot run here.
      const boxKeys = this.deps.registry.boxKeysOf(parties);
      if (!boxKeys) return this.fail('disconnected', 'a signer has no proven box key', parties);
      body.boxKeys = boxKeys;
    }
    const start = buildSignStart(this.addressing(), body);
    const unreachable = parties.filter((partyId) => !this.send(partyId, start));
    if (unreachable.length > 0) this.fail('disconnected', 'party not connected', unreachable);
  }

  /** An envelope from a party for this session (any attempt: others are ignored). */
  onEnvelope(partyId: string, e: Envelope): void {
    const { attempt, token, parties } = this.id;
    if (this.closed || e.attempt !== attempt || e.token !== token || !parties.includes(partyId))
      return;
    if (e.kind === 'refuse') {
      this.onRefuse(partyId, e);
      return;
    }
    if (e.kind !== 'protocol' || e.round !== this.round) return;
    const payload = validateProtocol(e.body);
    if (!payload.ok) return;
    this.responded.add(partyId);
    this.roundEnvelopes.set(partyId, e);
    const step = this.aggregator.handle({
      from: partyId,
      to: 'coordinator',
      round: e.round,
      payload: payload.value,
    });
    if (step.kind === 'abort') {
      this.onAbort(step.abort.blamed, step.abort.reason, step.abort.evidence);
      return;
    }
    if (step.kind === 'done') {
      this.onAggregated(step.result.signature);
      return;
    }
    if (step.outgoing.length > 0) this.nextRound(step.outgoing);
  }

  /**
   * A party refused. A hard refusal (its own rules, a conflicting intent) keeps it out of later
   * attempts; any other, or a refusal whose body does not validate, only ends this attempt.
   */
  private onRefuse(partyId: string, e: Envelope): void {
    const body = validateRefuse(e.body);
    if (!body.ok) {
      this.fail('stale', `malformed refusal: ${body.reason}`, [partyId]);
      return;
    }
    const { code, reason, hard } = body.value;
    this.fail(hard ? 'refused' : 'stale', `${code}: ${reason}`, [partyId], undefined, code);
  }

  /** The aggregator moved on: relay what it sends, and time the next round. */
  private nextRound(outgoing: { to: string; round: number; payload: Payload }[]): void {
    this.round += 1;
    this.responded = new Set();
    this.roundEnvelopes = new Map();
    this.armRoundTimer();
    const unreachable = outgoing
      .filter((out) => !this.send(out.to, buildProtocol(this.addressing(), out.round, out.payload)))
      .map((out) => out.to);
    if (unreachable.length > 0) this.fail('disconnected', 'party not connected', unreachable);
  }

  private onAbort(blamed: string[], reason: string, evidence: Record<string, unknown>): void {
    for (const p of blamed) this.deps.registry.markBlamed(p, reason);
    const envelopes = Object.fromEntries(
      blamed.map((p) => [p, this.roundEnvelopes.get(p) ?? null]),
    );
    this.fail('blame', reason, blamed, { ...evidence, envelopes });
  }

  private onAggregated(signature: string): void {
    const { engine, wallet, registry } = this.deps;
    // I4: never hand out a signature that does not verify under the wallet key. An engine
    // whose aggregator verified it already is not asked twice (the profile of `npm run bench
    // -- signing` showed the second check as a tenth of the coordinator's time).
    const ok =
      engine.aggregateVerifies === true ||
      engine.verify(
        hexToBytes(signature),
        hexToBytes(this.record.messageHex),
        hexToBytes(wallet.publicKey),
      );
    if (!ok) {
      this.fail('blame', 'aggregated signature does not verify', [], { signature });
      return;
    }
    for (const p of this.id.parties) registry.recordSuccess(p);
    this.close();
    this.outcome.signed(signature, this.id.parties);
  }

  /**
   * A party's connection dropped: fail at once if the attempt still needs it. A party that has
   * answered the current round is needed again only if the engine sends it another round, and
   * a send to a party that is gone fails the attempt then.
   */
  onDisconnect(partyId: string): void {
    if (this.closed || !this.id.parties.includes(partyId) || this.responded.has(partyId)) return;
    this.fail('disconnected', 'party disconnected', [partyId]);
  }

  private armRoundTimer(): void {
    this.cancelRoundTimer();
    const { env, registry, timeoutPolicy, metrics } = this.deps;
    const rtts = this.id.parties.map((p) => registry.rttPercentile(p, 99));
    const timeoutMs = roundTimeoutMs(timeoutPolicy, rtts, this.record.deadlineMs - env.nowMs());
    metrics.roundTimeoutMs.set(timeoutMs);
    const round = this.round;
    // Fixed when the round starts; traffic does not restart it.
    this.cancelRoundTimer = env.setTimer(timeoutMs, () => this.onRoundTimeout(round));
  }

  private onRoundTimeout(round: number): void {
    if (this.closed || this.round !== round) return;
    const missing = this.id.parties.filter((p) => !this.responded.has(p));
    for (const p of missing) this.deps.registry.markSuspect(p);
    this.deps.log.warn({ attempt: this.id.attempt, round, missing }, 'round deadline missed');
    this.fail('timeout', `round ${round} deadline missed`, missing);
  }

  private fail(
    cause: AttemptFailureCause,
    reason: string,
    parties: string[],
    evidence?: Record<string, unknown>,
    code?: ErrorCode,
  ): void {
    if (this.closed) return;
    this.close();
    this.outcome.failed(cause, reason, parties, evidence, code);
  }

  private addressing(): { sessionId: string; attempt: number; token: number } {
    const { attempt, token } = this.id;
    return { sessionId: this.record.sessionId, attempt, token };
  }

  /** Sends to a party of the quorum only: false (unreachable, so the attempt fails) otherwise. */
  private send(partyId: string, fields: EnvelopeFields): boolean {
    if (!this.id.parties.includes(partyId)) return false;
    return this.deps.registry.send(partyId, fields);
  }

  /** Stops the round clock and wipes the aggregator; no outcome is reported after this. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelRoundTimer();
    this.aggregator.wipe();
  }
}

/** The sign-start body: what each party checks against its own journal and rules. */
function signStartBody(record: SessionRecord, signers: string[], nowMs: number): SignStartBody {
  return {
    walletId: record.walletId,
    intentKey: record.intentKey,
    messageHex: record.messageHex,
    messageHash: record.messageHash,
    signers,
    deadlineMs: record.deadlineMs,
    // Parties time the session from their own clock: a skewed wall clock cannot expire it.
    remainingMs: Math.max(0, Math.round(record.deadlineMs - nowMs)),
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
}
