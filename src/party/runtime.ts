/**
 * The party runtime: one key share per wallet, a durable journal, and the protocol engine for
 * its own share. It authenticates the coordinator (key pinned on first contact), checks every
 * envelope, enforces its own intent locks and fencing tokens, and removes each nonce from the
 * ledger before the signature share leaves the process.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson, sha256Hex } from '../core/encoding.ts';
import type { CancelTimer, Env } from '../core/env.ts';
import { QuorateError, type ErrorCode } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { KeyShare, Payload, ProtocolRole, ProtocolStep, Scheme } from '../protocol/engine.ts';
import { coordinatorRole, schemes } from '../protocol/engine.ts';
import { engines } from '../protocol/frost.ts';
import { EnvelopeGuard, EnvelopeSender, type Envelope } from '../transport/envelope.ts';
import {
  createSealer,
  signDetached,
  verifyDetached,
  type IdentityKeys,
} from '../transport/identity.ts';
import {
  helloDomain,
  welcomeDomain,
  type ChallengeFrame,
  type Link,
  type WelcomeFrame,
} from '../transport/link.ts';
import type { PartyJournal } from './journal.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';
import {
  checkPartyPolicy,
  parsePolicyBlock,
  recordSigned,
  type PolicyCheckInput,
} from './party-policy.ts';

/** Seals/opens secrets at rest (the Keystore, or a test double). */
export interface SecretSealer {
  seal(label: string, plaintext: Uint8Array): string;
  open(label: string, sealed: string): Uint8Array;
}

/** Party configuration. */
export interface PartyOptions {
  partyId: string;
  env: Env;
  journal: PartyJournal;
  sealer: SecretSealer;
  identity: IdentityKeys;
  /** Shared enrolment secret for first contact. */
  partySecret?: string;
  /** Test-only fault hook: delay before handling round 2 of signing (ms). */
  testDelaySignMs?: number;
  /** Test-only fault hook: send a corrupted signature share (a cheating party, for blame). */
  testCorruptShare?: boolean;
  /** This party's own copy of the policy (signing-time rules), pinned by its hash. */
  policy?: LoadedPolicy;
}

interface SignState {
  kind: 'sign';
  /** Policy inputs kept for the re-check before the share is released. */
  policyInput: PolicyCheckInput;
  /** The connection (coordinator replica) that drives this attempt. */
  via: Connection | undefined;
  sessionId: string;
  attempt: number;
  token: number;
  walletId: string;
  intentKey: string;
  messageHash: string;
  role: ProtocolRole<{ commitment: string }>;
  commitment: string;
  cancelTtl: () => void;
}

interface KeygenState {
  kind: 'keygen';
  via: Connection | undefined;
  /** Policy tier the new wallet is bound to (checked against this party's own policy). */
  tier: string | undefined;
  sessionId: string;
  walletId: string;
  role: ProtocolRole<KeyShare>;
  cancelTtl: () => void;
}

interface Connection {
  link: Link;
  guard: EnvelopeGuard;
  sender: EnvelopeSender;
  /** Monotonic time of the last verified envelope from the coordinator on this connection. */
  lastHeardMono: number;
  cancelWatchdog: CancelTimer;
}

/** A refusal sent back to the coordinator. `hard` means: do not ask this party again. */
class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hard: boolean,
  ) {
    super(message);
  }
}

/** Journal meta key under which the coordinator's identity key is pinned. */
export const coordinatorKeyMeta = 'coordinator-identity-key';

/** The party state machine driver. */
export class PartyRuntime {
  /** Live coordinator connections (one per coordinator replica). */
  private readonly conns = new Set<Connection>();
  /** Which connection each accepted envelope arrived on: answers go back the same way. */
  private readonly origin = new WeakMap<Envelope, Connection>();
  private readonly sessions = new Map<string, SignState | KeygenState>();
  private readonly shares = new Map<string, KeyShare>();
  private readonly log;

  constructor(private readonly options: PartyOptions) {
    this.log = options.env.log.child({ partyId: options.partyId });
  }

  /** Number of in-memory sessions (nonces or DKG secrets held). */
  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Hooks a freshly opened link to the coordinator; runs the handshake, then serves it. */
  attach(link: Link): void {
    let phase: 'challenge' | 'welcome' | 'ready' = 'challenge';
    let challenge: ChallengeFrame | undefined;
    let conn: Connection | undefined;
    link.onClose(() => {
      if (!conn) return;
      conn.cancelWatchdog();
      this.conns.delete(conn);
      // The coordinator fails any attempt whose party disconnects, and a restarted coordinator
      // never resumes one, so nothing held for this connection can be used again: release it
      // now rather than at the local TTL (I6; found by `quorate sim --seed 706`).
      for (const [id, state] of [...this.sessions]) {
        if (state.via === conn) this.drop(id, 'connection to coordinator lost');
      }
    });
    link.onFrame((frame) => {
      const f = frame as { t?: unknown };
      if (phase === 'challenge' && f.t === 'challenge') {
        challenge = frame as ChallengeFrame;
        this.sendHello(link, challenge);
        phase = 'welcome';
      } else if (phase === 'welcome' && f.t === 'welcome' && challenge) {
        conn = this.acceptWelcome(link, challenge, frame as WelcomeFrame);
        if (conn) phase = 'ready';
      } else if (phase === 'ready' && f.t === 'env' && conn) {
        this.onEnvelope(conn, (frame as { e: unknown }).e);
      } else if (f.t === 'reject') {
        this.log.error({ frame }, 'coordinator rejected enrolment');
        link.close('rejected');
      } else {
        link.close('unexpected frame');
      }
    });
  }

  private sendHello(link: Link, challenge: ChallengeFrame): void {
    const { identity, partyId, partySecret } = this.options;
    const bound = utf8ToBytes(
      canonicalJson({
        conn: challenge.conn,
        nonce: challenge.nonce,
        partyId,
        identityKey: bytesToHex(identity.signPublic),
        boxKey: bytesToHex(identity.boxPublic),
      }),
    );
    link.send({
      t: 'hello',
      partyId,
      identityKey: bytesToHex(identity.signPublic),
      boxKey: bytesToHex(identity.boxPublic),
      proof: bytesToHex(signDetached(helloDomain, bound, identity.signSecret)),
      ...(this.options.policy ? { policyHash: this.options.policy.policyHash } : {}),
      ...(partySecret
        ? { enrollMac: bytesToHex(hmac(sha256, utf8ToBytes(partySecret), bound)) }
        : {}),
    });
  }

  private acceptWelcome(
    link: Link,
    challenge: ChallengeFrame,
    welcome: WelcomeFrame,
  ): Connection | undefined {
    const { journal, partyId } = this.options;
    const pinned = journal.getMeta(coordinatorKeyMeta);
    if (pinned !== undefined && pinned !== challenge.coordinatorKey) {
      this.log.error(
        { pinned, offered: challenge.coordinatorKey },
        'coordinator key differs from the pinned one',
      );
      link.close('coordinator key mismatch');
      return undefined;
    }
    const bound = utf8ToBytes(
      canonicalJson({
        conn: challenge.conn,
        nonce: challenge.nonce,
        partyId,
        coordinatorKey: challenge.coordinatorKey,
      }),
    );
    const key = hexToBytes(challenge.coordinatorKey);
    if (
      welcome.conn !== challenge.conn ||
      !verifyDetached(welcomeDomain, bound, hexToBytes(welcome.proof), key)
    ) {
      link.close('coordinator failed to prove its key');
      return undefined;
    }
    if (pinned === undefined) journal.setMeta(coordinatorKeyMeta, challenge.coordinatorKey);
    const conn: Connection = {
      link,
      guard: new EnvelopeGuard(partyId, coordinatorRole, challenge.conn, key),
      sender: new EnvelopeSender(
        partyId,
        coordinatorRole,
        challenge.conn,
        this.options.identity.signSecret,
      ),
      lastHeardMono: this.options.env.monoMs(),
      cancelWatchdog: () => {},
    };
    this.conns.add(conn);
    this.watchSilence(conn, silenceMsFor(challenge.heartbeatMs));
    this.log.info({ conn: challenge.conn }, 'connected to coordinator');
    return conn;
  }

  /**
   * Closes `conn` once the coordinator has sent nothing verifiable on it for `silenceMs` (it
   * pings every heartbeat): a coordinator that died behind a partition leaves a half-open
   * connection, and closing it releases what was held for it and redials. Checked every
   * silenceMs / 4, one timer per connection, stopped when the connection closes.
   */
  private watchSilence(conn: Connection, silenceMs: number): void {
    const { env } = this.options;
    const check = () => {
      if (!this.conns.has(conn)) return;
      const quietMs = env.monoMs() - conn.lastHeardMono;
      if (quietMs > silenceMs) {
        this.log.warn({ quietMs, silenceMs }, 'coordinator silent: closing the connection');
        conn.link.close(`coordinator silent for ${Math.round(quietMs)} ms`);
        return;
      }
      conn.cancelWatchdog = env.setTimer(silenceMs / 4, check);
    };
    conn.cancelWatchdog = env.setTimer(silenceMs / 4, check);
  }

  /** Sends on the connection `inReplyTo` arrived on (if it is still open). */
  private send(
    inReplyTo: Envelope,
    fields: Omit<Envelope, 'v' | 'from' | 'to' | 'conn' | 'seq' | 'sig'>,
  ): void {
    const conn = this.origin.get(inReplyTo);
    if (!conn || !this.conns.has(conn)) return;
    conn.link.send({ t: 'env', e: conn.sender.build(fields) });
  }

  private onEnvelope(conn: Connection, raw: unknown): void {
    let e: Envelope;
    try {
      e = conn.guard.accept(raw);
    } catch (error) {
      this.log.warn({ error: (error as Error).message }, 'envelope rejected');
      return;
    }
    conn.lastHeardMono = this.options.env.monoMs();
    this.origin.set(e, conn);
    try {
      this.dispatch(e);
    } catch (error) {
      this.refuse(e, error);
    }
  }

  private dispatch(e: Envelope): void {
    switch (e.kind) {
      case 'ping':
        this.send(e, {
          kind: 'pong',
          sessionId: '',
          attempt: 0,
          token: 0,
          round: 0,
          body: { echo: e.seq },
        });
        return;
      case 'sign-start':
        this.onSignStart(e);
        return;
      case 'keygen-start':
        this.onKeygenStart(e);
        return;
      case 'protocol':
        this.onProtocol(e);
        return;
      case 'discard':
        this.onDiscard(e);
        return;
      default:
        throw new Refusal('QUORATE_E_BAD_ENVELOPE', `unexpected kind ${e.kind}`, false);
    }
  }

  private refuse(e: Envelope, error: unknown): void {
    const refusal =
      error instanceof Refusal
        ? error
        : error instanceof QuorateError
          ? new Refusal(error.code, error.message, false)
          : new Refusal('QUORATE_E_INTERNAL', String(error), false);
    this.log.warn(
      { sessionId: e.sessionId, attempt: e.attempt, code: refusal.code, reason: refusal.message },
      'refusing',
    );
    this.send(e, {
      kind: 'refuse',
      sessionId: e.sessionId,
      attempt: e.attempt,
      token: e.token,
      round: e.round,
      body: { code: refusal.code, reason: refusal.message, hard: refusal.hard },
    });
  }

  /** Observes the fencing token durably; refuses anything lower than already seen (I3). */
  private checkToken(e: Envelope): void {
    if (!this.options.journal.observeToken(e.sessionId, e.token, this.options.env.nowMs())) {
      throw new Refusal(
        'QUORATE_E_STALE_TOKEN',
        `token ${e.token} is lower than one already seen`,
        false,
      );
    }
  }

  private keyShare(walletId: string): KeyShare {
    const cached = this.shares.get(walletId);
    if (cached) return cached;
    const sealed = this.options.journal.getSealedShare(walletId);
    if (sealed === undefined)
      throw new Refusal('QUORATE_E_WALLET_NOT_FOUND', `no key share for ${walletId}`, true);
    const share = JSON.parse(
      new TextDecoder().decode(this.options.sealer.open(`share:${walletId}`, sealed)),
    ) as KeyShare;
    this.shares.set(walletId, share);
    return share;
  }

  private onSignStart(e: Envelope): void {
    this.checkToken(e);
    const body = parseSignStart(e.body);
    const { env, journal, partyId } = this.options;
    const previous = this.sessions.get(e.sessionId);
    if (previous) this.drop(e.sessionId, 'superseded by a newer attempt');
    if (this.sessions.size >= limits.partySessionsActiveMax) {
      throw new Refusal('QUORATE_E_OVERLOADED', 'too many active sessions on this party', false);
    }
    if (body.remainingMs <= 0)
      throw new Refusal('QUORATE_E_DEADLINE_EXCEEDED', 'session deadline already passed', false);
    const key = this.keyShare(body.walletId);
    const message = hexToBytes(body.messageHex);
    if (sha256Hex(message) !== body.messageHash)
      throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'message hash mismatch', true);
    if (!body.signers.includes(partyId) || body.signers.some((s) => !key.parties.includes(s))) {
      throw new Refusal(
        'QUORATE_E_BAD_ENVELOPE',
        'signer set is not a subset of the wallet parties',
        true,
      );
    }
    if (body.signers.length < key.threshold)
      throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'signer set below threshold', true);
    const policyInput = this.policyInput(e, body, key);
    this.enforcePolicy(policyInput);
    const lock = journal.lockIntent(body.walletId, body.intentKey, body.messageHash, e.sessionId);
    if (!lock.ok)
      throw new Refusal(
        'QUORATE_E_INTENT_CONFLICT',
        'intent already bound to another message',
        true,
      );
    const role = engines[key.scheme].signer({
      key,
      message,
      signers: body.signers,
      rng: env.randomBytes,
    });
    const step = role.start();
    const payload = step.outgoing[0]?.payload as { hiding: string; binding: string };
    const commitment = payload.hiding + payload.binding;
    // Ledger first: a commitment that leaves the process is always on record.
    if (
      !journal.recordNonce({
        commitment,
        sessionId: e.sessionId,
        attempt: e.attempt,
        token: e.token,
        issuedMs: env.nowMs(),
      })
    ) {
      role.wipe();
      throw new Refusal(
        'QUORATE_E_INTERNAL',
        'nonce commitment collision: refusing to reuse',
        false,
      );
    }
    // Time left: the absolute deadline when our clock agrees with the coordinator's (exact, no
    // network delay added); the relative remainingMs when it does not (clock skew).
    const byDeadlineMs = body.deadlineMs - env.nowMs();
    const leftMs = byDeadlineMs > 0 ? Math.min(body.remainingMs, byDeadlineMs) : body.remainingMs;
    const ttlMs = Math.min(limits.partySessionTtlMs, leftMs + limits.abortCleanupMsMax);
    const cancelTtl = env.setTimer(ttlMs, () =>
      this.drop(e.sessionId, 'local TTL expired', e.attempt),
    );
    this.sessions.set(e.sessionId, {
      kind: 'sign',
      policyInput,
      via: this.origin.get(e),
      sessionId: e.sessionId,
      attempt: e.attempt,
      token: e.token,
      walletId: body.walletId,
      intentKey: body.intentKey,
      messageHash: body.messageHash,
      role,
      commitment,
      cancelTtl,
    });
    this.send(e, {
      kind: 'protocol',
      sessionId: e.sessionId,
      attempt: e.attempt,
      token: e.token,
      round: 1,
      body: payload,
    });
  }

  private onProtocol(e: Envelope): void {
    this.checkToken(e);
    const state = this.sessions.get(e.sessionId);
    if (!state)
      throw new Refusal(
        'QUORATE_E_SESSION_NOT_FOUND',
        'no such session on this party (expired or lost)',
        false,
      );
    if (state.kind === 'keygen') {
      this.stepKeygen(state, e);
      return;
    }
    if (state.attempt !== e.attempt || state.token !== e.token) {
      throw new Refusal('QUORATE_E_STALE_TOKEN', 'envelope for another attempt', false);
    }
    const delay = this.options.testDelaySignMs ?? 0;
    if (delay > 0) {
      this.options.env.setTimer(delay, () => this.guarded(e, () => this.signRound2(state, e)));
      return;
    }
    this.signRound2(state, e);
  }

  private guarded(e: Envelope, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.refuse(e, error);
    }
  }

  private signRound2(state: SignState, e: Envelope): void {
    const { journal, env } = this.options;
    if (this.sessions.get(state.sessionId) !== state)
      throw new Refusal('QUORATE_E_STALE_TOKEN', 'attempt was discarded', false);
    if (journal.highestToken(state.sessionId) > state.token)
      throw new Refusal('QUORATE_E_STALE_TOKEN', 'a newer attempt exists', false);
    const lock = journal.lockIntent(
      state.walletId,
      state.intentKey,
      state.messageHash,
      state.sessionId,
    );
    if (!lock.ok)
      throw new Refusal(
        'QUORATE_E_INTENT_CONFLICT',
        'intent already bound to another message',
        true,
      );
    // Rules are checked again right before the share is released (time or counters may have moved).
    try {
      this.enforcePolicy({ ...state.policyInput, nowMs: env.nowMs() });
    } catch (refusal) {
      this.drop(state.sessionId, 'policy re-check refused');
      throw refusal;
    }
    // Remove the nonce durably before the share exists outside this function (I2).
    this.sessions.delete(state.sessionId);
    state.cancelTtl();
    if (!journal.consumeNonce(state.commitment, env.nowMs())) {
      state.role.wipe();
      throw new Refusal(
        'QUORATE_E_PARTY_REFUSED',
        'nonce is no longer available (discarded or lost)',
        false,
      );
    }
    const step = state.role.handle({
      from: coordinatorRole,
      to: this.options.partyId,
      round: e.round,
      payload: e.body,
    });
    state.role.wipe();
    if (this.options.testCorruptShare === true) corruptShares(step);
    this.emit(e, step, 2);
    const block = state.policyInput.block;
    if (state.policyInput.tier !== undefined && block) {
      recordSigned(journal, state.walletId, {
        sessionId: state.sessionId,
        atMs: env.nowMs(),
        asset: block.context.asset ?? null,
        amount: block.context.amount ?? null,
      });
    }
  }

  private policyInput(e: Envelope, body: SignStartBody, key: KeyShare): PolicyCheckInput {
    const block = parsePolicyBlock(e.body['policy']);
    if (typeof block === 'string') throw new Refusal('QUORATE_E_BAD_ENVELOPE', block, false);
    return {
      tier: key.tier,
      block,
      sessionId: e.sessionId,
      walletId: body.walletId,
      intentKey: body.intentKey,
      messageHash: body.messageHash,
      signers: body.signers,
      nowMs: this.options.env.nowMs(),
    };
  }

  /** Refuses (hard) when this party's own rules deny the request. */
  private enforcePolicy(input: PolicyCheckInput): void {
    const refusal = checkPartyPolicy(this.options.policy, this.options.journal, input);
    if (refusal) throw new Refusal(refusal.code, refusal.reason, true);
  }

  private emit<R>(e: Envelope, step: ProtocolStep<R>, round: number): void {
    if (step.kind === 'abort')
      throw new Refusal('QUORATE_E_PROTOCOL_ABORT', step.abort.reason, false);
    for (const out of step.outgoing) {
      this.send(e, {
        kind: 'protocol',
        sessionId: e.sessionId,
        attempt: e.attempt,
        token: e.token,
        round: out.round || round,
        body: out.payload,
      });
    }
  }

  private onKeygenStart(e: Envelope): void {
    this.checkToken(e);
    const body = parseKeygenStart(e.body);
    const { env, journal, partyId, identity } = this.options;
    if (!body.parties.includes(partyId))
      throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'not a participant', true);
    if (journal.getSealedShare(body.walletId) !== undefined) {
      throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'wallet id already has a share here', true);
    }
    if (this.sessions.size >= limits.partySessionsActiveMax)
      throw new Refusal('QUORATE_E_OVERLOADED', 'too many sessions', false);
    if (body.tier !== undefined && !this.options.policy?.rules.tiers.has(body.tier)) {
      throw new Refusal(
        'QUORATE_E_POLICY_DENIED',
        `this party has no policy for tier ${body.tier}`,
        true,
      );
    }
    const sealer = createSealer({
      context: `${body.walletId}|${e.sessionId}`,
      self: partyId,
      boxSecret: identity.boxSecret,
      peerBoxKeys: body.boxKeys,
      randomBytes: env.randomBytes,
    });
    const role = engines[body.scheme].keygenParticipant({
      walletId: body.walletId,
      partyId,
      parties: body.parties,
      threshold: body.threshold,
      rng: env.randomBytes,
      sealer,
    });
    const cancelTtl = env.setTimer(limits.keygenDeadlineMs + limits.abortCleanupMsMax, () =>
      this.drop(e.sessionId, 'keygen TTL expired'),
    );
    this.sessions.set(e.sessionId, {
      kind: 'keygen',
      via: this.origin.get(e),
      tier: body.tier,
      sessionId: e.sessionId,
      walletId: body.walletId,
      role,
      cancelTtl,
    });
    this.emit(e, role.start(), 1);
  }

  private stepKeygen(state: KeygenState, e: Envelope): void {
    const step = state.role.handle({
      from: coordinatorRole,
      to: this.options.partyId,
      round: e.round,
      payload: e.body,
    });
    if (step.kind === 'done') {
      const share: KeyShare =
        state.tier === undefined ? step.result : { ...step.result, tier: state.tier };
      const plain = utf8ToBytes(JSON.stringify(share));
      this.options.journal.putSealedShare(
        state.walletId,
        this.options.sealer.seal(`share:${state.walletId}`, plain),
      );
      this.shares.set(state.walletId, share);
      this.sessions.delete(state.sessionId);
      state.cancelTtl();
      this.log.info({ walletId: state.walletId }, 'key share stored (encrypted)');
    } else if (step.kind === 'abort') {
      this.drop(state.sessionId, step.abort.reason);
    }
    this.emit(e, step, e.round);
  }

  private onDiscard(e: Envelope): void {
    this.checkToken(e);
    this.drop(e.sessionId, 'coordinator discarded the attempt', e.attempt);
  }

  /** Wipes in-memory secrets of a session and discards its issued nonces durably. */
  private drop(sessionId: string, reason: string, attempt?: number): void {
    const state = this.sessions.get(sessionId);
    // A discard for an older attempt must not touch the newer attempt's nonce.
    if (state && state.kind === 'sign' && attempt !== undefined && state.attempt > attempt) return;
    if (state) {
      state.role.wipe();
      state.cancelTtl();
      this.sessions.delete(sessionId);
    }
    const discarded = this.options.journal.discardNonces(sessionId, this.options.env.nowMs());
    this.log.debug({ sessionId, reason, discarded }, 'session state dropped');
  }

  /** Wipes everything (shutdown). */
  close(): void {
    for (const id of [...this.sessions.keys()]) this.drop(id, 'shutdown');
    for (const conn of [...this.conns]) conn.link.close('shutdown');
  }
}

/**
 * How long a connection may stay silent: `partyCoordinatorSilenceBeats` of the coordinator's
 * announced heartbeat (the default heartbeat if it announced none or an out-of-range one),
 * clamped to [partyCoordinatorSilenceMsMin, partyCoordinatorSilenceMsMax].
 */
export function silenceMsFor(heartbeatMs: unknown): number {
  const beat =
    typeof heartbeatMs === 'number' &&
    Number.isFinite(heartbeatMs) &&
    heartbeatMs >= limits.heartbeatIntervalMsMin &&
    heartbeatMs <= limits.heartbeatIntervalMsMax
      ? heartbeatMs
      : limits.heartbeatIntervalMsDefault;
  return Math.min(
    limits.partyCoordinatorSilenceMsMax,
    Math.max(limits.partyCoordinatorSilenceMsMin, beat * limits.partyCoordinatorSilenceBeats),
  );
}

/** Test-only: flips one byte of every outgoing share (models a cheating party). */
function corruptShares<R>(step: ProtocolStep<R>): void {
  for (const out of step.outgoing) {
    const share = out.payload['share'];
    if (typeof share !== 'string' || share.length < 2) continue;
    const flipped = ((parseInt(share.slice(0, 2), 16) ^ 0xff) & 0xff).toString(16).padStart(2, '0');
    out.payload = { ...out.payload, share: flipped + share.slice(2) };
  }
}

interface SignStartBody {
  walletId: string;
  intentKey: string;
  messageHex: string;
  messageHash: string;
  signers: string[];
  deadlineMs: number;
  /** Time left until the session deadline when the coordinator sent this (ms). */
  remainingMs: number;
}

function str(body: Payload, key: string, max: number): string {
  const v = body[key];
  if (typeof v !== 'string' || v.length > max)
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', `${key} invalid`, false);
  return v;
}

function strList(body: Payload, key: string): string[] {
  const v = body[key];
  if (!Array.isArray(v) || v.length > limits.partiesMax || v.some((x) => typeof x !== 'string')) {
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', `${key} invalid`, false);
  }
  return v as string[];
}

function parseSignStart(body: Payload): SignStartBody {
  const deadlineMs = body['deadlineMs'];
  if (typeof deadlineMs !== 'number')
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'deadlineMs invalid', false);
  const remainingMs = body['remainingMs'];
  if (
    typeof remainingMs !== 'number' ||
    !Number.isFinite(remainingMs) ||
    remainingMs > limits.sessionDeadlineMsMax
  ) {
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'remainingMs invalid', false);
  }
  const messageHex = str(body, 'messageHex', limits.messageBytesMax * 2);
  if (!/^(?:[0-9a-f]{2})*$/.test(messageHex))
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'messageHex invalid', false);
  return {
    walletId: str(body, 'walletId', 64),
    intentKey: str(body, 'intentKey', limits.intentKeyLengthMax),
    messageHex,
    messageHash: str(body, 'messageHash', 64),
    signers: strList(body, 'signers'),
    deadlineMs,
    remainingMs,
  };
}

function parseKeygenStart(body: Payload): {
  walletId: string;
  scheme: Scheme;
  threshold: number;
  parties: string[];
  boxKeys: Record<string, string>;
  tier?: string;
} {
  const scheme = body['scheme'] as Scheme;
  if (!schemes.includes(scheme))
    throw new Refusal('QUORATE_E_UNSUPPORTED_SCHEME', 'unknown scheme', true);
  const threshold = body['threshold'];
  const parties = strList(body, 'parties');
  if (typeof threshold !== 'number' || threshold < 1 || threshold > parties.length) {
    throw new Refusal('QUORATE_E_INVALID_THRESHOLD', 'bad threshold', true);
  }
  const boxKeys = body['boxKeys'] as Record<string, string>;
  if (
    typeof boxKeys !== 'object' ||
    boxKeys === null ||
    parties.some((p) => typeof boxKeys[p] !== 'string')
  ) {
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'boxKeys invalid', false);
  }
  const tier = body['tier'];
  if (tier !== undefined && (typeof tier !== 'string' || tier.length > 64)) {
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'tier invalid', true);
  }
  return {
    walletId: str(body, 'walletId', 64),
    scheme,
    threshold,
    parties,
    boxKeys,
    ...(tier === undefined ? {} : { tier }),
  };
}
