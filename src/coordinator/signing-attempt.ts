/**
 * One signing attempt on the coordinator: sends sign-start to the chosen quorum, runs the
 * engine's aggregator role through as many rounds as the engine has (relaying what it sends
 * to each party), times every round, and reports exactly one outcome — signed, or failed with a
 * cause and the parties at fault. It never writes the session record: the session runner feeds
 * the outcome into the machine.
 *
 * Hedged first round (src/session/hedge.ts): sign-start goes to the quorum and a few extra
 * candidates; the signer set is the first that answer and satisfy the session's requirement,
 * and the others are told at once to discard their nonces. Until the set is fixed, losing a
 * candidate fails the attempt only if no set can be made without it.
 */
import { childPublic, parseDerivationPath } from '../protocol/ecdsa-derivation.ts';
import { hexToBytes } from '@noble/hashes/utils.js';
import { assert } from '../core/assert.ts';
import type { Env, Log } from '../core/env.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { AggregateResult, ProtocolRole, SignatureEngine } from '../protocol/engine.ts';
import type { AttemptFailureCause } from '../session/machine.ts';
import { chooseSigners } from '../session/hedge.ts';
import type { SessionRecord } from '../session/record.ts';
import { roundTimeoutMs, type TimeoutPolicy } from '../session/timeouts.ts';
import type { WalletRecord } from '../store/store.ts';
import type { Payload } from '../protocol/engine.ts';
import {
  buildDiscard,
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

/** Why an attempt failed, as the attempt reports it. */
export interface AttemptFailure {
  cause: AttemptFailureCause;
  reason: string;
  /** The parties at fault (slow, blamed, refusing or gone). */
  parties: string[];
  evidence?: Record<string, unknown>;
  code?: ErrorCode;
  /** The signer set the attempt had fixed (hedged first round), if it got that far. */
  signers?: string[];
  /**
   * Hedged round 1: candidates that refused hard while the others could still make a signer set.
   * The attempt went on without them; later attempts exclude them as they do a refusing party.
   */
  hardRefusals?: string[];
}

/** Where the attempt reports its one outcome. */
export interface AttemptOutcome {
  failed(failure: AttemptFailure): void;
  signed(signature: string, signers: string[], recoveryId?: number): void;
}

/** The attempt's identity in the session: its number, fencing token and quorum. */
export interface AttemptId {
  attempt: number;
  token: number;
  /** The quorum selection chose (its size is the number of signers). */
  parties: string[];
  /** Hedged first round: every party to ask, the quorum first. Absent: the quorum alone. */
  asked?: string[];
}

/** One attempt in flight. */
export class SigningAttempt {
  private round = 1;
  private responded = new Set<string>();
  /** Each party's envelope of the current round (blame evidence). */
  private roundEnvelopes = new Map<string, Envelope>();
  private readonly aggregator: ProtocolRole<AggregateResult>;
  private cancelRoundTimer: () => void = () => {};
  private closed = false;
  /** Every party asked for round 1 (the quorum, then any hedge candidates). */
  private readonly asked: string[];
  /** The signer set: the quorum when not hedged, else fixed once enough have answered. */
  private signers: string[] | undefined;
  /** Candidates lost (disconnected, unreachable, refusing) before the signer set was fixed. */
  private readonly gone = new Set<string>();
  /** Of those, the ones that refused hard (see {@link AttemptFailure.hardRefusals}). */
  private readonly hardRefusals: string[] = [];

  constructor(
    private readonly deps: AttemptDeps,
    private readonly record: SessionRecord,
    readonly id: AttemptId,
    private readonly outcome: AttemptOutcome,
  ) {
    this.asked = id.asked ?? id.parties;
    const hedged = this.asked.length > id.parties.length;
    assert(
      !hedged || deps.engine.hedgesFirstRound === true,
      'only an engine that can hedge is asked to',
    );
    this.signers = hedged ? undefined : id.parties;
    this.aggregator = deps.engine.aggregator({
      publicPackage: signingPackageOf(deps.wallet, record),
      message: hexToBytes(record.messageHex),
      signers: this.asked,
      ...(hedged ? { chooseSigners: (answered) => this.fixSigners(answered) } : {}),
    });
  }

  /** The signer set, once fixed. */
  get fixedSigners(): readonly string[] | undefined {
    return this.signers;
  }

  /** Hedged: the aggregator asks which answered parties sign; fixing the set is final. */
  private fixSigners(answered: readonly string[]): string[] | undefined {
    const chosen = this.choose(answered.filter((p) => !this.gone.has(p)));
    if (!chosen) return undefined;
    this.signers = chosen;
    return chosen;
  }

  private choose(answered: readonly string[]): string[] | undefined {
    const { threshold } = this.deps.wallet;
    return chooseSigners(this.record.policy, threshold, this.id.parties.length, answered);
  }

  /** Sends sign-start to every party asked and starts round 1's clock. */
  start(): void {
    this.aggregator.start();
    this.armRoundTimer();
    const { attempt, token, parties } = this.id;
    const asked = this.asked;
    this.deps.log.debug({ attempt, token, parties, asked }, 'attempt started');
    const body = signStartBody(this.record, asked, this.deps.env.nowMs());
    if (asked.length > parties.length) body.quorumSize = parties.length;
    // The epoch fence: parties sign only with this epoch's shares.
    if (this.deps.wallet.epoch !== undefined) body.epoch = this.deps.wallet.epoch;
    if (this.deps.engine.signingSealsPeerMessages === true) {
      // Sealing needs every signer's key; without one the attempt cannot run here.
      const boxKeys = this.deps.registry.boxKeysOf(asked);
      if (!boxKeys) return this.fail('disconnected', 'a signer has no proven box key', asked);
      body.boxKeys = boxKeys;
      // The operator's certificates of those keys: a party that pins an operator key seals to
      // no peer without one (src/party/signing.ts).
      const certificates = this.deps.registry.certificatesOf(asked);
      if (Object.keys(certificates).length > 0) body.certificates = certificates;
    }
    const start = buildSignStart(this.addressing(), body);
    const unreachable = asked.filter((partyId) => !this.send(partyId, start));
    if (unreachable.length > 0) this.lose(unreachable, 'party not connected');
  }

  /**
   * Candidates lost before they answered. Without hedging, or once the signer set is fixed,
   * the attempt needs every one of them; a hedged round 1 fails only once no signer set can
   * be made of the candidates left.
   */
  private lose(partyIds: string[], reason: string): void {
    if (this.signers !== undefined) {
      this.fail('disconnected', reason, partyIds);
      return;
    }
    for (const p of partyIds) this.gone.add(p);
    const left = this.asked.filter((p) => !this.gone.has(p));
    if (!this.choose(left)) this.fail('disconnected', reason, [...this.gone]);
  }

  /** An envelope from a party for this session (any attempt: others are ignored). */
  onEnvelope(partyId: string, e: Envelope): void {
    const { attempt, token } = this.id;
    if (this.closed || e.attempt !== attempt || e.token !== token || !this.asked.includes(partyId))
      return;
    // A candidate not chosen has nothing more to say in this attempt (its discard is sent).
    if (this.signers !== undefined && !this.signers.includes(partyId)) return;
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
      this.onAggregated(step.result);
      return;
    }
    if (step.outgoing.length > 0) this.nextRound(step.outgoing);
  }

  /**
   * A party refused. A hard refusal (its own rules, a conflicting intent) keeps it out of later
   * attempts; any other, or a refusal whose body does not validate, only ends this attempt.
   * Hedged round 1: a candidate that refuses is lost like one that disconnects, and the attempt
   * goes on while the others can still make a signer set (an extra candidate OVERLOADED, or on a
   * stale policy, need not abort a signing its quorum can finish).
   */
  private onRefuse(partyId: string, e: Envelope): void {
    const body = validateRefuse(e.body);
    const hard = body.ok && body.value.hard;
    if (this.signers === undefined) {
      this.gone.add(partyId);
      if (hard) this.hardRefusals.push(partyId);
      if (this.choose(this.asked.filter((p) => !this.gone.has(p)))) {
        this.deps.log.debug({ attempt: this.id.attempt, partyId, hard }, 'candidate refused');
        return;
      }
    }
    if (!body.ok) {
      this.fail('stale', `malformed refusal: ${body.reason}`, [partyId]);
      return;
    }
    const { code, reason } = body.value;
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
    // After the signers' messages: on a machine the parties share, the woken extra would take
    // a core from a signer before the signer's message had left.
    if (this.round === 2) this.discardUnchosen();
    if (unreachable.length > 0) this.fail('disconnected', 'party not connected', unreachable);
  }

  /**
   * Hedged: the signer set is fixed, so the candidates left out discard their nonces now, through
   * the same discard the session sends for an aborted attempt (I2, I6). A candidate that has not
   * answered yet holds one as soon as its sign-start arrives; this discard follows it.
   */
  private discardUnchosen(): void {
    const signers = this.signers;
    assert(signers !== undefined, 'round 2 runs with a fixed signer set');
    const unchosen = this.asked.filter((p) => !signers.includes(p));
    if (unchosen.length === 0) return;
    const discard = buildDiscard(this.addressing(), 'not chosen: the signer set is fixed');
    for (const p of unchosen) this.deps.registry.send(p, discard);
    this.deps.log.debug({ attempt: this.id.attempt, signers, unchosen }, 'signer set fixed');
  }

  private onAbort(blamed: string[], reason: string, evidence: Record<string, unknown>): void {
    for (const p of blamed) this.deps.registry.markBlamed(p, reason);
    const envelopes = Object.fromEntries(
      blamed.map((p) => [p, this.roundEnvelopes.get(p) ?? null]),
    );
    this.fail('blame', reason, blamed, { ...evidence, envelopes });
  }

  private onAggregated(result: AggregateResult): void {
    const { signature } = result;
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
    const signers = this.signers;
    assert(signers !== undefined, 'a signature comes from a fixed signer set');
    for (const p of signers) registry.recordSuccess(p);
    this.close();
    this.outcome.signed(signature, signers, result.recoveryId);
  }

  /**
   * A party's connection dropped: fail at once if the attempt still needs it. A party that has
   * answered the current round is needed again only if the engine sends it another round, and
   * a send to a party that is gone fails the attempt then.
   */
  onDisconnect(partyId: string): void {
    if (this.closed || !this.roundParties().includes(partyId) || this.responded.has(partyId))
      return;
    this.lose([partyId], 'party disconnected');
  }

  /** The parties the current round waits on: the signer set, or every candidate before it. */
  private roundParties(): readonly string[] {
    return this.signers ?? this.asked.filter((p) => !this.gone.has(p));
  }

  private armRoundTimer(): void {
    this.cancelRoundTimer();
    const { env, timeoutPolicy, metrics } = this.deps;
    const remainingMs = this.record.deadlineMs - env.nowMs();
    const deadline = (parties: readonly string[]): number =>
      roundTimeoutMs(timeoutPolicy, parties.map(this.rttOf), remainingMs);
    const deadlineWithoutSession = (parties: readonly string[]): number =>
      roundTimeoutMs(timeoutPolicy, parties.map(this.rttOf), Number.POSITIVE_INFINITY);
    // Hedged round 1 does not wait for every candidate, but never gives less time than the
    // quorum alone would get: a slow party the requirement needs keeps its own deadline (the
    // review found a required party with p99 600 ms cut to the 1 s floor, then marked suspect).
    const timeoutMs =
      this.signers === undefined
        ? Math.max(deadline(this.id.parties), deadline(this.fastestSignerSet() ?? []))
        : deadline(this.signers);
    metrics.roundTimeoutMs.set(timeoutMs);
    const round = this.round;
    // A round cut short by the session's own deadline says nothing about the parties: when it
    // passes, nobody is marked suspect (a wall clock that jumped ahead left no time at all, and
    // every healthy party of the attempt turned suspect until its next heartbeat: found by
    // `quorate sim --seed 1314`, clock-skew, once heartbeats were spread over the interval).
    const cutShort = timeoutMs < deadlineWithoutSession(this.signers ?? this.id.parties);
    // Fixed when the round starts; traffic does not restart it.
    this.cancelRoundTimer = env.setTimer(timeoutMs, () => this.onRoundTimeout(round, cutShort));
  }

  private readonly rttOf = (partyId: string): number | undefined =>
    this.deps.registry.rttPercentile(partyId, 99);

  /**
   * Hedged round 1: the signer set the chooser would accept soonest if every candidate left
   * answered at its RTT p99 (known RTTs ascending, unknown last), or undefined if none is left.
   */
  private fastestSignerSet(): string[] | undefined {
    const byRtt = this.roundParties()
      .map((p) => ({ p, rtt: this.rttOf(p) }))
      .sort((x, y) => byRttUnknownLast(x.rtt, y.rtt))
      .map((x) => x.p);
    for (let n = this.id.parties.length; n <= byRtt.length; n++) {
      const chosen = this.choose(byRtt.slice(0, n));
      if (chosen) return chosen;
    }
    return undefined;
  }

  /**
   * The parties a missed round is blamed on. Once the signer set is fixed, every signer that did
   * not answer. Hedged round 1: the quorum's missing members (the parties the attempt needed);
   * an extra candidate's silence is no fault, unless the quorum is complete (then it is what the
   * requirement waited for).
   */
  private missedBy(): string[] {
    const missing = this.roundParties().filter((p) => !this.responded.has(p));
    if (this.signers !== undefined) return missing;
    const needed = missing.filter((p) => this.id.parties.includes(p));
    return needed.length > 0 ? needed : missing;
  }

  private onRoundTimeout(round: number, cutShort: boolean): void {
    if (this.closed || this.round !== round) return;
    if (cutShort) {
      this.deps.log.warn({ attempt: this.id.attempt, round }, 'session deadline reached');
      this.fail('timeout', `round ${round} cut short by the session deadline`, []);
      return;
    }
    const missing = this.missedBy();
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
    const hedged = this.asked.length > this.id.parties.length;
    this.outcome.failed({
      cause,
      reason,
      parties,
      ...(evidence === undefined ? {} : { evidence }),
      ...(code === undefined ? {} : { code }),
      ...(hedged && this.signers !== undefined ? { signers: this.signers } : {}),
      ...(this.hardRefusals.length === 0 ? {} : { hardRefusals: [...this.hardRefusals] }),
    });
  }

  private addressing(): { sessionId: string; attempt: number; token: number } {
    const { attempt, token } = this.id;
    return { sessionId: this.record.sessionId, attempt, token };
  }

  /** Sends to a party of the attempt only: false (unreachable) otherwise. */
  private send(partyId: string, fields: EnvelopeFields): boolean {
    if (!this.asked.includes(partyId)) return false;
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
    ...(record.derivationPath === undefined ? {} : { derivationPath: record.derivationPath }),
    // A transaction: every party decodes it again, and signs only its digest.
    ...(record.transaction === undefined ? {} : { transaction: record.transaction }),
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

/**
 * The public package a session's signature is checked under: the wallet's, or for an ecdsa
 * session with a derivation path the child key's (derived from the wallet's chain code).
 */
export function signingPackageOf(wallet: WalletRecord, record: SessionRecord): Payload {
  if (record.derivationPath === undefined) return wallet.publicPackage;
  const chainCode = wallet.publicPackage['chainCode'];
  assert(typeof chainCode === 'string', 'a derived session is of a wallet with a chain code');
  const indices = parseDerivationPath(record.derivationPath);
  return childPublic(wallet.publicKey, chainCode, indices);
}

/** Known RTTs ascending, unknown ones last (an unknown RTT means the default round deadline). */
function byRttUnknownLast(a: number | undefined, b: number | undefined): number {
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  return a - b;
}
