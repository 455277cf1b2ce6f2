/**
 * The malicious coordinator's end of the wire: it owns the coordinator identity the parties pin,
 * so it completes the real handshake (challenge, hello, welcome from wire.ts) and then sends
 * whatever envelopes it likes, signed with that identity through an `EnvelopeSender`, and reads
 * the parties' envelopes through an `EnvelopeGuard`. Heartbeats keep the parties' silence
 * watchdogs quiet. What to send is the attack script's business (coordinator-attacks.ts).
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { Env } from '../../core/env.ts';
import { coordinatorRole } from '../../protocol/engine.ts';
import { EnvelopeGuard, EnvelopeSender } from '../../transport/envelope.ts';
import { signDetached, type IdentityKeys } from '../../transport/identity.ts';
import type { Link } from '../../transport/link.ts';
import {
  buildChallenge,
  buildEnvelopeFrame,
  buildPing,
  buildWelcome,
  validateFrame,
  welcomeDomain,
  welcomeTranscript,
  type Envelope,
  type EnvelopeFields,
  type HelloFrame,
} from '../../transport/wire.ts';

/** The rogue's view of one party connection. */
interface RogueConn {
  link: Link;
  conn: string;
  nonce: string;
  hello: HelloFrame | undefined;
  sender: EnvelopeSender | undefined;
  guard: EnvelopeGuard | undefined;
  /** Envelopes from the party (pongs left out), oldest first, until taken. */
  inbox: Envelope[];
  /** Every envelope sent to the party, for replays. */
  sent: Envelope[];
}

const heartbeatMs = 1_000;

/** A coordinator that speaks the wire protocol and follows no rule. */
export class RogueCoordinator {
  private readonly conns = new Map<string, RogueConn>();
  private readonly keyHex: string;

  constructor(
    private readonly env: Env,
    private readonly identity: IdentityKeys,
  ) {
    this.keyHex = bytesToHex(identity.signPublic);
    const beat = (): void => {
      for (const partyId of this.conns.keys()) this.send(partyId, buildPing());
      this.env.setTimer(heartbeatMs, beat);
    };
    this.env.setTimer(heartbeatMs, beat);
  }

  /** The coordinator key parties pin (64 hex). */
  get coordinatorKey(): string {
    return this.keyHex;
  }

  /** Takes the coordinator's end of a fresh connection from `partyId`. */
  accept(partyId: string, link: Link): void {
    const state: RogueConn = {
      link,
      conn: bytesToHex(this.env.randomBytes(12)),
      nonce: bytesToHex(this.env.randomBytes(16)),
      hello: undefined,
      sender: undefined,
      guard: undefined,
      inbox: [],
      sent: [],
    };
    this.conns.set(partyId, state);
    link.onFrame((raw) => this.onFrame(partyId, state, raw));
    const { conn, nonce } = state;
    link.send(buildChallenge({ conn, nonce, coordinatorKey: this.keyHex, heartbeatMs }));
  }

  private onFrame(partyId: string, state: RogueConn, raw: unknown): void {
    const checked = validateFrame(raw);
    if (!checked.ok) return;
    const frame = checked.value;
    if (frame.t === 'hello' && !state.hello) {
      state.hello = frame;
      const transcript = welcomeTranscript({
        conn: state.conn,
        nonce: state.nonce,
        partyId,
        coordinatorKey: this.keyHex,
      });
      const proof = bytesToHex(signDetached(welcomeDomain, transcript, this.identity.signSecret));
      state.link.send(buildWelcome({ conn: state.conn, proof }));
      const partyKey = hexToBytes(frame.identityKey);
      state.guard = new EnvelopeGuard(coordinatorRole, partyId, state.conn, partyKey);
      state.sender = new EnvelopeSender(
        coordinatorRole,
        partyId,
        state.conn,
        this.identity.signSecret,
      );
      return;
    }
    if (frame.t !== 'env' || !state.guard) return;
    try {
      const e = state.guard.accept(frame.e);
      if (e.kind !== 'pong') state.inbox.push(e);
    } catch {
      // A party's envelope that fails its checks is dropped, as the real coordinator does.
    }
  }

  /** The hello `partyId` sent (its keys and certificate), once the handshake ran. */
  hello(partyId: string): HelloFrame | undefined {
    return this.conns.get(partyId)?.hello;
  }

  /** Signs and sends `fields` to `partyId`; the envelope sent, or undefined if not connected. */
  send(partyId: string, fields: EnvelopeFields): Envelope | undefined {
    const state = this.conns.get(partyId);
    if (!state?.sender || !state.link.isOpen) return undefined;
    const e = state.sender.build(fields);
    state.sent.push(e);
    state.link.send(buildEnvelopeFrame(e));
    return e;
  }

  /** Sends an envelope again, byte for byte (a replay). */
  replay(partyId: string, e: Envelope): void {
    this.conns.get(partyId)?.link.send(buildEnvelopeFrame(e));
  }

  /** Envelopes sent to `partyId` so far (for replays). */
  sentTo(partyId: string): readonly Envelope[] {
    return this.conns.get(partyId)?.sent ?? [];
  }

  /** Removes and returns the envelopes from `partyId` that match. */
  take(partyId: string, match: (e: Envelope) => boolean): Envelope[] {
    const state = this.conns.get(partyId);
    if (!state) return [];
    const taken = state.inbox.filter(match);
    state.inbox = state.inbox.filter((e) => !match(e));
    return taken;
  }
}
