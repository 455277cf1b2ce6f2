/**
 * The party's connections to coordinator replicas: the handshake per link, the envelope guard,
 * routing each verified envelope by kind (bodies validated by wire.ts) and refusals. Answers
 * go back on the connection their request arrived on. A frame that fails validation closes its
 * connection with a code; any error at this per-connection boundary closes that connection
 * and is logged, never thrown into the process.
 */
import { isAssertionFailure } from '../core/assert.ts';
import type { Env, Log } from '../core/env.ts';
import type { Payload } from '../protocol/engine.ts';
import { coordinatorRole } from '../protocol/engine.ts';
import { EnvelopeGuard, EnvelopeSender } from '../transport/envelope.ts';
import type { Link } from '../transport/link.ts';
import {
  buildEnvelopeFrame,
  buildPong,
  buildRefuse,
  validateDiscard,
  validateEpoch,
  validateEpochTest,
  validateFrame,
  validateKeygenStart,
  validateProtocol,
  validateSignStart,
  type ChallengeFrame,
  type DiscardBody,
  type EpochBody,
  type EpochTestBody,
  type Envelope,
  type EnvelopeFields,
  type Frame,
  type KeygenStartBody,
  type SignStartBody,
} from '../transport/wire.ts';
import {
  helloFor,
  partySilenceMs,
  verifyWelcome,
  watchSilence,
  type HandshakeConfig,
  type Watched,
} from './handshake.ts';
import { Refusal, refusalFromWire, refusalOf } from './refusal.ts';

/** One authenticated connection to a coordinator replica. */
export interface Connection extends Watched {
  guard: EnvelopeGuard;
  sender: EnvelopeSender;
}

/** What the party does with each kind of verified envelope (a handler throws a Refusal). */
export interface EnvelopeHandlers {
  signStart(e: Envelope, body: SignStartBody): void;
  keygenStart(e: Envelope, body: KeygenStartBody): void;
  epochTest(e: Envelope, body: EpochTestBody): void;
  epoch(e: Envelope, body: EpochBody): void;
  protocol(e: Envelope, payload: Payload): void;
  discard(e: Envelope, body: DiscardBody): void;
  /** The connection closed: release whatever was held for it. */
  connectionLost(conn: Connection): void;
}

/** Per-link handshake progress. */
interface LinkState {
  challenge: ChallengeFrame | undefined;
  conn: Connection | undefined;
  /** Told once the coordinator proved its key on this link. */
  onAccepted: (() => void) | undefined;
}

/** Serves every coordinator link of one party. */
export class PartyDispatch {
  /** Live coordinator connections (one per coordinator replica). */
  private readonly conns = new Set<Connection>();
  /** Which connection each accepted envelope arrived on: answers go back the same way. */
  private readonly origin = new WeakMap<Envelope, Connection>();

  constructor(
    private readonly env: Env,
    private readonly log: Log,
    private readonly handshake: HandshakeConfig,
    private readonly handlers: EnvelopeHandlers,
  ) {}

  /** Hooks a freshly opened link to the coordinator; runs the handshake, then serves it. */
  attach(link: Link, onAccepted?: () => void): void {
    const state: LinkState = { challenge: undefined, conn: undefined, onAccepted };
    link.onClose(() => {
      const conn = state.conn;
      if (!conn) return;
      conn.cancelWatchdog();
      this.conns.delete(conn);
      this.handlers.connectionLost(conn);
    });
    link.onFrame((raw) => {
      try {
        this.onFrame(link, state, raw);
      } catch (error) {
        if (isAssertionFailure(error)) throw error;
        // The per-connection boundary: whatever a frame triggers, only its connection pays.
        this.log.error({ error: String(error) }, 'frame handling failed: closing the connection');
        link.close('internal error');
      }
    });
  }

  private onFrame(link: Link, state: LinkState, raw: unknown): void {
    const checked = validateFrame(raw);
    if (!checked.ok) {
      this.log.warn({ code: checked.code, reason: checked.reason }, 'invalid frame');
      link.close(`${checked.code}: ${checked.reason}`);
      return;
    }
    const frame: Frame = checked.value;
    if (frame.t === 'challenge' && !state.challenge) {
      state.challenge = frame;
      link.send(helloFor(this.handshake, frame));
    } else if (frame.t === 'welcome' && state.challenge && !state.conn) {
      state.conn = this.acceptWelcome(link, state.challenge, frame);
      if (state.conn) state.onAccepted?.();
    } else if (frame.t === 'env' && state.conn) {
      this.onEnvelope(state.conn, frame.e);
    } else if (frame.t === 'reject') {
      this.log.error({ code: frame.code, reason: frame.message }, 'coordinator rejected enrolment');
      link.close('rejected');
    } else {
      link.close('unexpected frame');
    }
  }

  private acceptWelcome(
    link: Link,
    challenge: ChallengeFrame,
    welcome: Extract<Frame, { t: 'welcome' }>,
  ): Connection | undefined {
    const verified = verifyWelcome(this.handshake, this.log, challenge, welcome);
    if (typeof verified === 'string') {
      link.close(verified);
      return undefined;
    }
    const { partyId, identity } = this.handshake;
    const conn: Connection = {
      link,
      guard: new EnvelopeGuard(partyId, coordinatorRole, verified.conn, verified.coordinatorKey),
      sender: new EnvelopeSender(partyId, coordinatorRole, verified.conn, identity.signSecret),
      lastHeardMono: this.env.monoMs(),
      cancelWatchdog: () => {},
    };
    this.conns.add(conn);
    const silenceMs = partySilenceMs(verified.heartbeatMs, this.handshake.heartbeatMs);
    watchSilence(this.env, this.log, conn, silenceMs, () => this.conns.has(conn));
    this.log.info({ conn: verified.conn }, 'connected to coordinator');
    return conn;
  }

  private onEnvelope(conn: Connection, raw: Envelope): void {
    let e: Envelope;
    try {
      e = conn.guard.accept(raw);
    } catch (error) {
      // Duplicates and replays are expected on a lossy path: dropped, the connection stays.
      this.log.warn({ error: String(error) }, 'envelope rejected');
      return;
    }
    conn.lastHeardMono = this.env.monoMs();
    this.origin.set(e, conn);
    try {
      this.route(e);
    } catch (error) {
      if (isAssertionFailure(error)) throw error;
      this.refuse(e, error);
    }
  }

  /** Validates the body for the envelope's kind and hands it to its handler. */
  private route(e: Envelope): void {
    switch (e.kind) {
      case 'ping':
        this.reply(e, buildPong(e.seq));
        return;
      case 'sign-start': {
        // A malformed sign-start (a duplicated or short signer set, say) is refused for good: a
        // coordinator that sends one must not ask this party again for that attempt.
        const body = validateSignStart(e.body);
        if (!body.ok) throw refusalFromWire(body, body.code === 'QUORATE_E_BAD_ENVELOPE');
        this.handlers.signStart(e, body.value);
        return;
      }
      case 'keygen-start': {
        // A keygen is never retried on a party, so every refusal of one is final.
        const body = validateKeygenStart(e.body);
        if (!body.ok) throw refusalFromWire(body, body.code !== 'QUORATE_E_BAD_ENVELOPE');
        this.handlers.keygenStart(e, body.value);
        return;
      }
      case 'epoch-test': {
        const body = validateEpochTest(e.body);
        if (!body.ok) throw refusalFromWire(body, true);
        this.handlers.epochTest(e, body.value);
        return;
      }
      case 'epoch': {
        const body = validateEpoch(e.body);
        if (!body.ok) throw refusalFromWire(body, true);
        this.handlers.epoch(e, body.value);
        return;
      }
      case 'protocol': {
        const payload = validateProtocol(e.body);
        if (!payload.ok) throw refusalFromWire(payload, false);
        this.handlers.protocol(e, payload.value);
        return;
      }
      case 'discard': {
        const body = validateDiscard(e.body);
        if (!body.ok) throw refusalFromWire(body, false);
        this.handlers.discard(e, body.value);
        return;
      }
      default:
        throw new Refusal('QUORATE_E_BAD_ENVELOPE', `unexpected kind ${e.kind}`, false);
    }
  }

  /** The connection `e` arrived on, if it is still open. */
  originOf(e: Envelope): Connection | undefined {
    const conn = this.origin.get(e);
    return conn && this.conns.has(conn) ? conn : undefined;
  }

  /** Sends on the connection `inReplyTo` arrived on (if it is still open). */
  reply(inReplyTo: Envelope, fields: EnvelopeFields): void {
    const conn = this.originOf(inReplyTo);
    if (conn) conn.link.send(buildEnvelopeFrame(conn.sender.build(fields)));
  }

  /** Answers `e` with a refusal built from `error`. */
  refuse(e: Envelope, error: unknown): void {
    const refusal = refusalOf(error);
    this.log.warn(
      { sessionId: e.sessionId, attempt: e.attempt, code: refusal.code, reason: refusal.message },
      'refusing',
    );
    this.reply(
      e,
      buildRefuse(e, e.round, { code: refusal.code, reason: refusal.message, hard: refusal.hard }),
    );
  }

  /** Closes every connection (shutdown). */
  close(): void {
    for (const conn of [...this.conns]) conn.link.close('shutdown');
  }
}
