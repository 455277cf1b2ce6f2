/**
 * Party connections on the coordinator: enrolment handshake (a one-time per-party enrolment
 * token issued by an admin, or the legacy shared party secret, on first contact; the identity
 * key pinned and proven afterwards), party administration (issue tokens, unpin, revoke),
 * connection slots, envelope guards, heartbeats, the phi-accrual detector and RTT statistics
 * that feed quorum selection and adaptive timeouts.
 *
 * Connection bounds: at most `handshakesPendingMax` connections that have not proven an
 * identity, at most `connectionsPerPartyMax` connections claiming one party id at once (the
 * registered one counts; a newer one that proves the pinned key replaces it), at most
 * `connectionsMax` registered links; a registered link that has not answered a heartbeat for
 * `downAfterMs` is closed. Every refusal and close is logged and counted in `/metrics`.
 *
 * Scale (issue 13): a party may announce a heartbeat class in its hello (a backend every
 * second, a mobile every 30 s, or on demand); each link is pinged on its own interval from a
 * timing wheel, so a heartbeat tick touches only the links due, and its detector and down-after
 * scale with that interval. Phi and RTT percentiles are O(1) per query, the listing keeps its
 * sorted ids, and the enrolment column reads the pins once per listing.
 */
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { hmacSha256, sha256 } from '../core/openssl.ts';
import { isAssertionFailure } from '../core/assert.ts';
import { bytesEqual } from '../core/encoding.ts';
import type { Env } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import { PhiAccrualDetector, defaultPhiOptions, type PhiOptions } from '../detector/phi-accrual.ts';
import { RttWindow } from '../detector/rtt-window.ts';
import { coordinatorRole } from '../protocol/engine.ts';
import type { CandidateInfo } from '../session/quorum.ts';
import type { PartyInvitation, PartyRecord, Store } from '../store/store.ts';
import { certificateProblem, type PartyCertificate } from '../transport/certificate.ts';
import { EnvelopeGuard, EnvelopeSender } from '../transport/envelope.ts';
import { signDetached, verifyDetached, type IdentityKeys } from '../transport/identity.ts';
import type { Link } from '../transport/link.ts';
import {
  buildChallenge,
  buildEnvelopeFrame,
  buildPing,
  buildReject,
  buildWelcome,
  helloDomain,
  helloTranscript,
  validateEnvelopeFrame,
  validateHello,
  validatePong,
  validateProtocol,
  validateRefuse,
  welcomeDomain,
  welcomeTranscript,
  type ChallengeFrame,
  type Checked,
  type Envelope,
  type EnvelopeFields,
  type HeartbeatClass,
  type HelloFrame,
  type WireRefusal,
} from '../transport/wire.ts';
import type { CoordinatorMetrics } from './metrics.ts';

/** Liveness as the API reports it. */
export type PartyLiveness = 'alive' | 'suspect' | 'down';

/** Detector tunables. */
export interface DetectorOptions {
  heartbeatIntervalMs: number;
  phi: PhiOptions;
  /** A suspect party becomes `down` after this long without a heartbeat. */
  downAfterMs: number;
  /** How long a party marked suspect by a missed round stays suspect without a heartbeat. */
  suspectHoldMs: number;
  /** How long a party blamed for a bad share stays `suspect` unless an operator clears it. */
  blameCooldownMs: number;
}

export const defaultDetectorOptions: DetectorOptions = {
  heartbeatIntervalMs: limits.heartbeatIntervalMsDefault,
  phi: defaultPhiOptions,
  downAfterMs: 5_000,
  suspectHoldMs: 1_000,
  blameCooldownMs: limits.blameCooldownMsDefault,
};

/** Optional registry settings: the trust anchor, connection bounds and metrics. */
export interface RegistryOptions {
  /**
   * The operator's Ed25519 public key. When set, every hello must carry a certificate signed by
   * it (defence in depth: the parties enforce the anchor themselves at key generation).
   */
  operatorKey?: Uint8Array;
  /** Refusals, closes and enrolments are counted here (`/metrics`). */
  metrics?: CoordinatorMetrics;
  /** Registered links at most (default limits.connectionsMax). */
  connectionsMax?: number;
  /** Connections claiming one party id at once (default limits.connectionsPerPartyMax). */
  connectionsPerPartyMax?: number;
  /** Connections not yet authenticated (default limits.handshakesPendingMax). */
  handshakesPendingMax?: number;
}

/** How a party stands with enrolment, as `GET /v1/parties` shows it. */
export type EnrolmentState = 'enrolled' | 'revoked' | 'invited' | 'unknown';

/** Why a connection was refused before registration (metric label). */
type RefusalReason =
  'connections-max' | 'handshakes-pending' | 'party-slots' | 'enrolment-denied' | 'invalid-hello';

/** Why the coordinator closed a registered link (metric label). */
type CloseReason = 'heartbeat' | 'replaced' | 'unpinned' | 'revoked' | 'pin-changed';

/** A freshly issued enrolment token: shown once, never stored (the store keeps a key from it). */
export interface IssuedEnrolment {
  partyId: string;
  token: string;
  expiresMs: number;
}

/** The MAC key an enrolment token gives: sha256(utf8(token)), hex (what the store keeps). */
export function enrolmentMacKeyHex(token: string): string {
  return bytesToHex(sha256(utf8ToBytes(token)));
}

/** Why a connected party is not `alive`. */
export type SuspectReason = 'blamed' | 'missed-round' | 'detector';

/**
 * How the coordinator watches one link: `periodic` pings every `beatMs` (the party's class, no
 * faster than the coordinator's interval) and declares it down after `downAfterMs` (the
 * configured down-after, scaled by beatMs / the coordinator's interval); `on-demand` has no
 * detector heartbeat: alive while connected, down once a probe or keepalive goes unanswered
 * for the configured down-after.
 */
type HeartbeatPlan =
  | { kind: 'periodic'; beatMs: number; downAfterMs: number }
  | { kind: 'on-demand'; beatMs: number; downAfterMs: number };

interface PartyLink {
  partyId: string;
  plan: HeartbeatPlan;
  /** True once the link answered a ping (its detector learns intervals from then on). */
  answered: boolean;
  /** On-demand links: when the oldest unanswered ping was sent (monotonic), if any. */
  awaitingSinceMono: number | undefined;
  /** The identity key (hex) this link proved: it must stay the pinned one. */
  identityKey: string;
  link: Link;
  guard: EnvelopeGuard;
  sender: EnvelopeSender;
  detector: PhiAccrualDetector;
  pingsSent: Map<number, number>;
}

interface PartyStats {
  rtt: RttWindow;
  successes: number;
  failures: number;
  lastSeenWallMs: number;
  stateSinceWallMs: number;
  lastState: PartyLiveness;
  suspectUntilMono: number;
  blamedUntilMono: number;
  blamedReason?: string;
}

const rttWindow = 64;

/** Callbacks from the registry into the coordinator. */
export interface RegistryEvents {
  onEnvelope(partyId: string, e: Envelope): void;
  onDisconnect(partyId: string): void;
  onStateChange(partyId: string, state: PartyLiveness): void;
}

/** One row of `GET /v1/parties`. */
export interface PartySnapshot {
  partyId: string;
  state: PartyLiveness;
  lastSeenMs: number;
  rttMs?: number;
  reason?: SuspectReason;
  blame?: string;
}

/**
 * Which rows of the listing to return: party ids after `after` (in id order), at most `limit`,
 * only those in `state` if it is set.
 */
export interface PartyPageQuery {
  after?: string;
  limit: number;
  state?: PartyLiveness;
}

/** One page of the listing; `more` iff a row matching the query follows its last one. */
export interface PartyPage {
  rows: PartySnapshot[];
  more: boolean;
}

/** The index of the first id in `sorted` greater than `after` (binary search). */
function firstAfter(sorted: readonly string[], after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] ?? '') <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A pinned party's enrolment: `revoked` once an admin revoked it, else `enrolled`. */
const pinState = (pinned: PartyRecord): EnrolmentState =>
  pinned.revokedMs === undefined ? 'enrolled' : 'revoked';

/** One connection's handshake: the challenge sent, then hello → enrolling → registered. */
interface Handshake {
  challenge: ChallengeFrame;
  phase: 'hello' | 'enrolling';
  registered: string | undefined;
  /** The party id this connection claims a slot of, until it registers or closes. */
  claimed: string | undefined;
}

/**
 * What a party may send once registered, body validated: a refusal body is checked here, so
 * every runner reads a valid one (through `validateRefuse`, which then cannot fail).
 */
function checkPartyBody(e: Envelope): Checked<unknown> {
  switch (e.kind) {
    case 'pong':
      return validatePong(e.body);
    case 'refuse':
      return validateRefuse(e.body);
    case 'protocol':
      return validateProtocol(e.body);
    default:
      return { ok: false, code: 'QUORATE_E_BAD_ENVELOPE', reason: `a party never sends ${e.kind}` };
  }
}

/** Tracks every party connection and its liveness. */
export class PartyRegistry {
  private readonly links = new Map<string, PartyLink>();
  private readonly stats = new Map<string, PartyStats>();
  private readonly known = new Set<string>();
  /** `known`, sorted, for the listing; rebuilt only after `known` changes. */
  private knownSorted: string[] | undefined;
  /**
   * The timing wheel: links due for a ping at each heartbeat tick number. A link is in exactly
   * one slot while registered (a replaced or closed one is skipped when its slot comes up).
   */
  private readonly due = new Map<number, PartyLink[]>();
  private tickNo = 0;
  /** Spreads new links over the wheel's slots (round robin). */
  private spreadNext = 0;
  /** The wheel turns every heartbeatIntervalMs / heartbeatSpreadSlots. */
  private readonly tickMs: number;
  /** Policy hash each party announced on its current connection. */
  private readonly policyHashes = new Map<string, string>();
  /** X25519 box key each party proved on its current connection (equal to its pinned key). */
  private readonly boxKeys = new Map<string, string>();
  /** The operator certificate each party presented on its current connection, if any. */
  private readonly certificates = new Map<string, PartyCertificate>();
  /** Connections accepted that have not registered yet (open). */
  private readonly pending = new Set<Link>();
  /** When the pins were last checked against the store (monotonic ms). */
  private lastPinSweepMono = 0;
  /** Handshaking connections per claimed party id. */
  private readonly claims = new Map<string, number>();
  private readonly connectionsMax: number;
  private readonly connectionsPerPartyMax: number;
  private readonly handshakesPendingMax: number;
  private stopHeartbeats: (() => void) | undefined;
  private readonly log;

  constructor(
    private readonly env: Env,
    private readonly store: Store,
    private readonly identity: IdentityKeys,
    private readonly partySecret: string | undefined,
    private readonly options: DetectorOptions,
    private readonly events: RegistryEvents,
    private readonly extra: RegistryOptions = {},
  ) {
    this.log = env.log.child({ component: 'registry' });
    this.connectionsMax = extra.connectionsMax ?? limits.connectionsMax;
    this.connectionsPerPartyMax = extra.connectionsPerPartyMax ?? limits.connectionsPerPartyMax;
    this.handshakesPendingMax = extra.handshakesPendingMax ?? limits.handshakesPendingMax;
    this.tickMs = options.heartbeatIntervalMs / limits.heartbeatSpreadSlots;
    extra.metrics?.countPartiesWith(() => this.stateCounts());
  }

  /** Loads enrolled parties (so down parties are listed) and starts heartbeats. */
  async start(): Promise<void> {
    for (const p of await this.store.listParties()) this.addKnown(p.partyId);
    const tick = () => {
      this.heartbeat();
      this.stopHeartbeats = this.env.setTimer(this.tickMs, tick);
    };
    tick();
  }

  stop(): void {
    this.stopHeartbeats?.();
    for (const l of this.links.values()) l.link.close('coordinator shutting down');
    this.links.clear();
    this.due.clear();
  }

  /** Runs the handshake on a new link; the party is registered once it proves its identity. */
  accept(link: Link): void {
    // Registered links do not count here: idle ones cannot lock a restarted party out.
    if (this.pending.size >= this.handshakesPendingMax) {
      this.refuseConnection(link, 'handshakes-pending', 'too many connections in handshake');
      return;
    }
    this.pending.add(link);
    const challenge = buildChallenge({
      conn: bytesToHex(this.env.randomBytes(12)),
      nonce: bytesToHex(this.env.randomBytes(16)),
      coordinatorKey: bytesToHex(this.identity.signPublic),
      heartbeatMs: this.options.heartbeatIntervalMs,
    });
    const state: Handshake = {
      challenge,
      phase: 'hello',
      registered: undefined,
      claimed: undefined,
    };
    const cancelHandshake = this.env.setTimer(limits.handshakeMsMax, () => {
      if (!state.registered) link.close('handshake timeout');
    });
    link.onClose(() => {
      cancelHandshake();
      this.pending.delete(link);
      this.releaseClaim(state);
      if (state.registered) this.unregister(state.registered, link);
    });
    link.onFrame((raw) => {
      try {
        this.onFrame(link, state, raw, cancelHandshake);
      } catch (error) {
        if (isAssertionFailure(error)) throw error;
        // The per-connection boundary: whatever a frame triggers, only its connection pays.
        this.log.error({ error: String(error) }, 'frame handling failed: closing the connection');
        link.close('internal error');
      }
    });
    link.send(challenge);
  }

  private onFrame(link: Link, state: Handshake, raw: unknown, cancelHandshake: () => void): void {
    if (state.registered) {
      const frame = validateEnvelopeFrame(raw);
      if (!frame.ok) this.refuseFrame(link, frame);
      else this.onFrameEnvelope(link, state.registered, frame.value.e);
      return;
    }
    if (state.phase !== 'hello') {
      link.close('unexpected frame');
      return;
    }
    const hello = validateHello(raw);
    if (!hello.ok) {
      this.reject(link, hello.reason, 'invalid-hello');
      return;
    }
    const { partyId } = hello.value;
    // A proven newer connection replaces the registered one, so only handshakes count here.
    if ((this.claims.get(partyId) ?? 0) >= this.connectionsPerPartyMax - 1) {
      this.refuseConnection(link, 'party-slots', 'too many connections for this party id', {
        partyId,
      });
      return;
    }
    this.claims.set(partyId, (this.claims.get(partyId) ?? 0) + 1);
    state.claimed = partyId;
    state.phase = 'enrolling';
    this.enroll(link, state.challenge, hello.value).then(
      (registered) => {
        this.releaseClaim(state);
        state.registered = registered;
        if (registered) {
          this.pending.delete(link);
          cancelHandshake();
        }
      },
      (error: unknown) => {
        this.log.error({ error: String(error) }, 'enrolment failed: closing the connection');
        link.close('internal error');
      },
    );
  }

  /** Refuses a frame that failed validation: a reject frame with its code, then close. */
  private refuseFrame(link: Link, refused: WireRefusal): void {
    this.log.warn({ code: refused.code, reason: refused.reason }, 'invalid frame from party');
    link.send(buildReject(refused.code, refused.reason));
    link.close(`${refused.code}: ${refused.reason}`);
  }

  private reject(
    link: Link,
    message: string,
    reason: RefusalReason = 'enrolment-denied',
  ): undefined {
    this.log.warn({ reason: message }, 'enrolment denied');
    this.extra.metrics?.partyConnectionsRefusedTotal.inc({ reason });
    link.send(buildReject('QUORATE_E_ENROLLMENT_DENIED', message));
    link.close(message);
    return undefined;
  }

  /** Overload: refuses a connection with `QUORATE_E_OVERLOADED`, logged and counted. */
  private refuseConnection(
    link: Link,
    reason: RefusalReason,
    message: string,
    fields: Record<string, unknown> = {},
  ): undefined {
    this.log.warn({ ...fields, reason }, `party connection refused: ${message}`);
    this.extra.metrics?.partyConnectionsRefusedTotal.inc({ reason });
    link.send(buildReject('QUORATE_E_OVERLOADED', message));
    link.close(message);
    return undefined;
  }

  /** Gives back the party-id slot a handshake claimed (once). */
  private releaseClaim(state: Handshake): void {
    const partyId = state.claimed;
    if (partyId === undefined) return;
    state.claimed = undefined;
    const left = (this.claims.get(partyId) ?? 1) - 1;
    if (left <= 0) this.claims.delete(partyId);
    else this.claims.set(partyId, left);
  }

  /** Closes a registered link on the coordinator's own initiative, logged and counted. */
  private closeLink(l: PartyLink, reason: CloseReason, message: string): void {
    this.log.warn({ partyId: l.partyId, reason }, `closing party link: ${message}`);
    this.extra.metrics?.partyLinksClosedTotal.inc({ reason });
    l.link.close(message);
    // Gone now, not when the close event comes back: the slot is free and runners are told.
    if (reason !== 'replaced') this.unregister(l.partyId, l.link);
  }

  /**
   * Checks the hello's proof, its certificate (if any), then the pinned keys (or enrols);
   * welcomes a party that passes.
   */
  private async enroll(
    link: Link,
    challenge: ChallengeFrame,
    hello: HelloFrame,
  ): Promise<string | undefined> {
    const { partyId, identityKey, boxKey, certificate } = hello;
    const { conn, nonce } = challenge;
    const transcript = helloTranscript({ conn, nonce, partyId, identityKey, boxKey });
    // Hex fields were validated by validateHello: hexToBytes cannot throw on them.
    const identityKeyBytes = hexToBytes(identityKey);
    if (!verifyDetached(helloDomain, transcript, hexToBytes(hello.proof), identityKeyBytes))
      return this.reject(link, 'identity proof does not verify');
    const badCertificate =
      certificate === undefined
        ? this.extra.operatorKey === undefined
          ? undefined
          : 'this coordinator requires a certificate from its operator key'
        : this.certificateOk(hello, certificate);
    if (badCertificate !== undefined) return this.reject(link, badCertificate);
    const denied = await this.admit(hello, transcript);
    if (denied !== undefined) return this.reject(link, denied);
    if (!link.isOpen) return undefined;
    if (!this.links.has(partyId) && this.links.size >= this.connectionsMax)
      return this.refuseConnection(link, 'connections-max', 'too many connections', { partyId });
    const proof = signDetached(
      welcomeDomain,
      welcomeTranscript({ conn, nonce, partyId, coordinatorKey: challenge.coordinatorKey }),
      this.identity.signSecret,
    );
    this.register(partyId, link, conn, identityKeyBytes, hello.heartbeatMs);
    this.boxKeys.set(partyId, boxKey);
    if (certificate === undefined) this.certificates.delete(partyId);
    else this.certificates.set(partyId, certificate);
    if (hello.policyHash === undefined) this.policyHashes.delete(partyId);
    else this.policyHashes.set(partyId, hello.policyHash);
    link.send(buildWelcome({ conn, proof: bytesToHex(proof) }));
    return partyId;
  }

  /**
   * Why a hello's certificate is refused, if it is: it must name the hello's party id and keys
   * and verify under its own operator key, and under the configured operator key if any.
   */
  private certificateOk(hello: HelloFrame, certificate: PartyCertificate): string | undefined {
    const subject = {
      partyId: hello.partyId,
      identityKey: hello.identityKey,
      boxKey: hello.boxKey,
    };
    const own = certificateProblem(certificate, hexToBytes(certificate.operatorKey), subject);
    if (own !== undefined) return own;
    const anchor = this.extra.operatorKey;
    return anchor === undefined ? undefined : certificateProblem(certificate, anchor, subject);
  }

  /**
   * Whether this hello's keys may register under its party id, or why not: the pinned keys of
   * a party not revoked; else the keys a live enrolment invitation's MAC vouches for (redeemed
   * once); else, for an id never pinned and not invited, the legacy shared secret.
   */
  private async admit(hello: HelloFrame, transcript: Uint8Array): Promise<string | undefined> {
    const pinned = await this.store.getParty(hello.partyId);
    const samePin =
      pinned !== undefined &&
      pinned.identityKey === hello.identityKey &&
      pinned.boxKey === hello.boxKey;
    if (samePin && pinned.revokedMs === undefined) return undefined;
    const invitation = await this.liveInvitation(hello.partyId);
    if (invitation !== undefined && hello.enrollMac !== undefined) {
      const expected = hmacSha256(hexToBytes(invitation.macKey), transcript);
      if (bytesEqual(expected, hexToBytes(hello.enrollMac))) return this.redeem(invitation, hello);
    }
    if (pinned?.revokedMs !== undefined) return 'party is revoked: it needs a new enrolment token';
    if (pinned !== undefined) return 'identity key differs from the pinned key';
    if (invitation !== undefined) return 'wrong enrolment token (this party id is invited)';
    return this.enrollNew(hello, transcript);
  }

  /** The party's invitation if it has one that has not expired. */
  private async liveInvitation(partyId: string): Promise<PartyInvitation | undefined> {
    const invitation = await this.store.getInvitation(partyId);
    return invitation !== undefined && invitation.expiresMs > this.env.nowMs()
      ? invitation
      : undefined;
  }

  /** Spends an invitation whose MAC verified; its keys are pinned (replacing, if it rotates). */
  private async redeem(
    invitation: PartyInvitation,
    hello: HelloFrame,
  ): Promise<string | undefined> {
    const record: PartyRecord = {
      partyId: hello.partyId,
      identityKey: hello.identityKey,
      boxKey: hello.boxKey,
      enrolledMs: this.env.nowMs(),
    };
    const pinned = await this.store.redeemInvitation(invitation.macKey, record);
    if (pinned === undefined) return 'enrolment token already used';
    if (
      pinned.identityKey !== hello.identityKey ||
      pinned.boxKey !== hello.boxKey ||
      pinned.revokedMs !== undefined
    )
      return 'identity key differs from the pinned key (use a rotate token to replace it)';
    const method = invitation.rotate ? 'rotate' : 'token';
    this.extra.metrics?.partyEnrolmentsTotal.inc({ method });
    this.log.info(
      { partyId: hello.partyId, method },
      'party enrolled by token; identity key pinned',
    );
    return undefined;
  }

  /** First contact with the legacy shared secret: checks the MAC and pins the keys. */
  private async enrollNew(hello: HelloFrame, transcript: Uint8Array): Promise<string | undefined> {
    if (this.partySecret === undefined) return 'enrolment is closed (no party secret configured)';
    const expected = hmacSha256(utf8ToBytes(this.partySecret), transcript);
    if (hello.enrollMac === undefined || !bytesEqual(expected, hexToBytes(hello.enrollMac)))
      return 'wrong party secret';
    const record = await this.store.pinParty({
      partyId: hello.partyId,
      identityKey: hello.identityKey,
      boxKey: hello.boxKey,
      enrolledMs: this.env.nowMs(),
    });
    if (record.identityKey !== hello.identityKey) return 'identity key differs from the pinned key';
    this.extra.metrics?.partyEnrolmentsTotal.inc({ method: 'secret' });
    this.log.info({ partyId: hello.partyId }, 'party enrolled; identity key pinned');
    return undefined;
  }

  /** The plan for a link whose hello announced `announced` (absent: exactly as before). */
  private planFor(announced: HeartbeatClass | undefined): HeartbeatPlan {
    const base = this.options.heartbeatIntervalMs;
    if (announced === 'on-demand') {
      const beatMs = Math.max(base, limits.heartbeatOnDemandKeepaliveMs);
      return { kind: 'on-demand', beatMs, downAfterMs: this.options.downAfterMs };
    }
    // A party cannot make the coordinator ping it faster than the coordinator's own interval.
    const beatMs = Math.max(base, announced ?? base);
    const downAfterMs = Math.round((this.options.downAfterMs * beatMs) / base);
    return { kind: 'periodic', beatMs, downAfterMs };
  }

  private register(
    partyId: string,
    link: Link,
    conn: string,
    identityKey: Uint8Array,
    announced: HeartbeatClass | undefined,
  ): void {
    const old = this.links.get(partyId);
    if (old) this.closeLink(old, 'replaced', 'replaced by a newer connection');
    const plan = this.planFor(announced);
    // The detector scales with the party's interval: a 30 s mobile whose pong comes 1 s late
    // is as normal as a 1 s backend's 33 ms late.
    const scale = plan.beatMs / this.options.heartbeatIntervalMs;
    const detector = new PhiAccrualDetector({
      ...this.options.phi,
      firstIntervalMs: plan.beatMs,
      minStdDevMs: this.options.phi.minStdDevMs * scale,
      acceptablePauseMs: this.options.phi.acceptablePauseMs * scale,
    });
    detector.heartbeat(this.env.monoMs());
    const l: PartyLink = {
      partyId,
      plan,
      answered: false,
      awaitingSinceMono: undefined,
      identityKey: bytesToHex(identityKey),
      link,
      guard: new EnvelopeGuard(coordinatorRole, partyId, conn, identityKey),
      sender: new EnvelopeSender(coordinatorRole, partyId, conn, this.identity.signSecret),
      detector,
      pingsSent: new Map(),
    };
    this.links.set(partyId, l);
    this.schedule(l, this.spreadNext++ % limits.heartbeatSpreadSlots);
    this.addKnown(partyId);
    const s = this.statsOf(partyId);
    s.lastSeenWallMs = this.env.nowMs();
    s.suspectUntilMono = 0;
    this.refreshState(partyId);
    this.log.info({ partyId, conn }, 'party connected');
  }

  private unregister(partyId: string, link: Link): void {
    const current = this.links.get(partyId);
    if (current?.link !== link) return;
    this.links.delete(partyId);
    this.refreshState(partyId);
    this.log.warn({ partyId }, 'party disconnected');
    this.events.onDisconnect(partyId);
  }

  private statsOf(partyId: string): PartyStats {
    let s = this.stats.get(partyId);
    if (!s) {
      const now = this.env.nowMs();
      s = {
        rtt: new RttWindow(rttWindow),
        successes: 0,
        failures: 0,
        lastSeenWallMs: 0,
        stateSinceWallMs: now,
        lastState: 'down',
        suspectUntilMono: 0,
        blamedUntilMono: 0,
      };
      this.stats.set(partyId, s);
    }
    return s;
  }

  private onFrameEnvelope(link: Link, partyId: string, raw: Envelope): void {
    const l = this.links.get(partyId);
    if (!l) return;
    let e: Envelope;
    try {
      e = l.guard.accept(raw);
    } catch (error) {
      // Duplicates and replays are expected on a lossy path: dropped, the connection stays.
      this.log.warn({ partyId, error: String(error) }, 'envelope rejected');
      return;
    }
    const checked = checkPartyBody(e);
    if (!checked.ok) {
      this.refuseFrame(link, checked);
      return;
    }
    const s = this.statsOf(partyId);
    s.lastSeenWallMs = this.env.nowMs();
    if (e.kind === 'pong') {
      this.onPong(l, s, e);
      return;
    }
    this.refreshState(partyId);
    this.events.onEnvelope(partyId, e);
  }

  private onPong(l: PartyLink, s: PartyStats, e: Envelope): void {
    const pong = validatePong(e.body);
    const sentAt = pong.ok ? l.pingsSent.get(pong.value.echo) : undefined;
    const now = this.env.monoMs();
    // Only heartbeat answers feed the detector (protocol bursts would shrink the learned
    // interval), and only answers to pings sent after the last counted one: the backlog a
    // resumed party answers all at once counts as one heartbeat, not as tiny intervals.
    const last = l.detector.lastHeartbeatMs;
    if (sentAt !== undefined && (last === undefined || sentAt >= last)) {
      // The first answer on a link ends a partial interval (its first ping is spread): not
      // learned, so a slow class does not learn a sub-second interval and turn suspect.
      l.detector.heartbeat(now, l.answered);
      l.answered = true;
    }
    if (pong.ok && sentAt !== undefined) {
      l.pingsSent.delete(pong.value.echo);
      s.rtt.push(now - sentAt);
      l.awaitingSinceMono = undefined;
    }
    this.refreshState(l.partyId);
  }

  /** Sends an envelope to a party; false if it is not connected. */
  send(partyId: string, fields: EnvelopeFields): boolean {
    const l = this.links.get(partyId);
    if (!l || !l.link.isOpen) return false;
    const e = l.sender.build(fields);
    if (fields.kind === 'ping') {
      const now = this.env.monoMs();
      l.pingsSent.set(e.seq, now);
      l.awaitingSinceMono ??= now;
      const oldest = l.pingsSent.keys().next();
      if (l.pingsSent.size > rttWindow && oldest.done !== true) l.pingsSent.delete(oldest.value);
    }
    l.link.send(buildEnvelopeFrame(e));
    return true;
  }

  /**
   * Puts `l` in the wheel slot of its next ping: one plan interval from this tick, or, for a new
   * link, `spread` slots from now (within one coordinator interval).
   */
  private schedule(l: PartyLink, spread?: number): void {
    const ticks =
      spread === undefined ? Math.max(1, Math.round(l.plan.beatMs / this.tickMs)) : 1 + spread;
    const slot = this.tickNo + ticks;
    const links = this.due.get(slot);
    if (links === undefined) this.due.set(slot, [l]);
    else links.push(l);
  }

  /**
   * One heartbeat tick: only the links due now (the wheel's slot) are checked and pinged, so a
   * fleet of 30 s mobiles costs a thirtieth of a fleet of 1 s backends per tick.
   */
  private heartbeat(): void {
    const now = this.env.monoMs();
    if (now - this.lastPinSweepMono >= limits.partyPinSweepMs && this.links.size > 0) {
      this.lastPinSweepMono = now;
      void this.sweepPins();
    }
    this.tickNo += 1;
    const batch = this.due.get(this.tickNo) ?? [];
    this.due.delete(this.tickNo);
    for (const l of batch) {
      if (this.links.get(l.partyId) !== l) continue; // replaced or closed since
      // A link that stopped answering (half-open, stopped process, idle squatter) would hold a
      // slot forever: close it; a live party redials.
      const silentMs = this.unansweredMs(l, now);
      if (silentMs >= l.plan.downAfterMs) {
        this.closeLink(l, 'heartbeat', `no heartbeat answer for ${silentMs} ms`);
        continue;
      }
      this.send(l.partyId, buildPing());
      this.schedule(l);
      this.refreshState(l.partyId);
    }
  }

  /** How long `l` has left a ping unanswered (periodic: since its last counted heartbeat). */
  private unansweredMs(l: PartyLink, now: number): number {
    if (l.plan.kind === 'on-demand') {
      return l.awaitingSinceMono === undefined ? 0 : now - l.awaitingSinceMono;
    }
    return now - (l.detector.lastHeartbeatMs ?? now);
  }

  /**
   * Closes registered links whose pin was revoked, removed or replaced in the store since they
   * proved it: an operator's revoke or unpin reaches every replica (each sweeps every
   * `partyPinSweepMs`), not only the one that served the request. A store that cannot be read
   * now is read again at the next sweep.
   */
  private async sweepPins(): Promise<void> {
    let records;
    try {
      records = await this.store.listParties();
    } catch (error) {
      this.log.warn({ error: String(error) }, 'party pin sweep: store unavailable');
      return;
    }
    const pins = new Map(records.map((r) => [r.partyId, r]));
    for (const l of [...this.links.values()]) {
      const pin = pins.get(l.partyId);
      const reason: CloseReason | undefined =
        pin === undefined
          ? 'unpinned'
          : pin.revokedMs !== undefined
            ? 'revoked'
            : pin.identityKey !== l.identityKey
              ? 'pin-changed'
              : undefined;
      if (reason === undefined || this.links.get(l.partyId) !== l) continue;
      this.closeLink(l, reason, `party ${reason} in the store`);
      this.boxKeys.delete(l.partyId);
      this.certificates.delete(l.partyId);
    }
  }

  /** Marks a party suspect after it missed a round deadline (cleared by its next heartbeat). */
  markSuspect(partyId: string): void {
    const s = this.statsOf(partyId);
    s.suspectUntilMono = this.env.monoMs() + this.options.suspectHoldMs;
    s.failures += 1;
    this.refreshState(partyId);
  }

  /** Records that a party completed its part of an attempt. */
  recordSuccess(partyId: string): void {
    this.statsOf(partyId).successes += 1;
  }

  /** Marks a party blamed for invalid protocol data: `suspect` until cleared or cooled down. */
  markBlamed(partyId: string, reason: string): void {
    const s = this.statsOf(partyId);
    s.blamedUntilMono = this.env.monoMs() + this.options.blameCooldownMs;
    s.blamedReason = reason;
    s.failures += 1;
    this.log.warn({ partyId, reason, cooldownMs: this.options.blameCooldownMs }, 'party blamed');
    this.refreshState(partyId);
  }

  /** Operator action: lifts a blame. Returns false for an unknown party. */
  clearBlame(partyId: string): boolean {
    if (!this.known.has(partyId)) return false;
    const s = this.statsOf(partyId);
    s.blamedUntilMono = 0;
    delete s.blamedReason;
    this.log.info({ partyId }, 'blame cleared by operator');
    this.refreshState(partyId);
    return true;
  }

  /** Current liveness of one party. */
  stateOf(partyId: string): PartyLiveness {
    return this.assess(partyId).state;
  }

  private assess(partyId: string): { state: PartyLiveness; reason?: SuspectReason } {
    const l = this.links.get(partyId);
    if (!l) return { state: 'down' };
    const now = this.env.monoMs();
    const last = l.detector.lastHeartbeatMs ?? now;
    if (this.unansweredMs(l, now) >= l.plan.downAfterMs) return { state: 'down' };
    const s = this.statsOf(partyId);
    if (s.blamedUntilMono > now) return { state: 'suspect', reason: 'blamed' };
    // An on-demand party sends no regular heartbeat: its silence says nothing.
    if (l.plan.kind === 'periodic' && l.detector.isSuspect(now)) {
      return { state: 'suspect', reason: 'detector' };
    }
    // Marked after a missed round, and no heartbeat since: still suspect.
    if (s.suspectUntilMono > now && last < s.suspectUntilMono - this.options.suspectHoldMs) {
      return { state: 'suspect', reason: 'missed-round' };
    }
    return { state: 'alive' };
  }

  private refreshState(partyId: string): void {
    const s = this.statsOf(partyId);
    const state = this.stateOf(partyId);
    if (state !== s.lastState) {
      s.lastState = state;
      s.stateSinceWallMs = this.env.nowMs();
      this.log.info({ partyId, state }, 'party state changed');
      this.events.onStateChange(partyId, state);
    }
  }

  /** Percentile of recent RTT samples (ms), undefined if none. */
  rttPercentile(partyId: string, p: number): number | undefined {
    return this.stats.get(partyId)?.rtt.percentile(p);
  }

  /**
   * Candidate info for quorum selection, for the given parties. An on-demand party about to be
   * chosen that has not answered anything for `heartbeatOnDemandProbeAfterMs` is probed with a
   * ping: unanswered for the down-after, it is `down` for the next selection.
   */
  candidates(partyIds: readonly string[]): CandidateInfo[] {
    for (const partyId of partyIds) this.probeOnDemand(partyId);
    return partyIds.map((partyId) => {
      const s = this.statsOf(partyId);
      const total = s.successes + s.failures;
      const rtt = this.rttPercentile(partyId, 50);
      return {
        partyId,
        state: this.stateOf(partyId),
        successRatio: total === 0 ? 1 : s.successes / total,
        sinceMs: s.stateSinceWallMs,
        ...(rtt === undefined ? {} : { rttMs: rtt }),
      };
    });
  }

  private probeOnDemand(partyId: string): void {
    const l = this.links.get(partyId);
    if (l?.plan.kind !== 'on-demand' || l.awaitingSinceMono !== undefined) return;
    const now = this.env.monoMs();
    const last = l.detector.lastHeartbeatMs ?? now;
    if (now - last >= limits.heartbeatOnDemandProbeAfterMs) this.send(partyId, buildPing());
  }

  private addKnown(partyId: string): void {
    if (this.known.has(partyId)) return;
    this.known.add(partyId);
    this.knownSorted = undefined;
  }

  /** Every known party's row for `GET /v1/parties`, in id order. */
  snapshot(): PartySnapshot[] {
    return this.snapshotPage({ limit: Infinity }).rows;
  }

  /**
   * One page of the listing: a binary search to the cursor, then only the rows it returns (and
   * those a state filter skips) are assessed, so a page of 100 among 10 000 parties costs 100.
   */
  snapshotPage(query: PartyPageQuery): PartyPage {
    this.knownSorted ??= [...this.known].sort();
    const ids = this.knownSorted;
    const rows: PartySnapshot[] = [];
    for (
      let i = query.after === undefined ? 0 : firstAfter(ids, query.after);
      i < ids.length;
      i++
    ) {
      const partyId = ids[i] ?? '';
      const assessed = this.assess(partyId);
      if (query.state !== undefined && assessed.state !== query.state) continue;
      if (rows.length >= query.limit) return { rows, more: true };
      rows.push(this.row(partyId, assessed));
    }
    return { rows, more: false };
  }

  /** One party's row, or undefined if this replica does not know the party. */
  snapshotOf(partyId: string): PartySnapshot | undefined {
    return this.known.has(partyId) ? this.row(partyId, this.assess(partyId)) : undefined;
  }

  /** A listing row (`reason` says why a connected party is suspect). */
  private row(
    partyId: string,
    { state, reason }: { state: PartyLiveness; reason?: SuspectReason },
  ): PartySnapshot {
    const s = this.statsOf(partyId);
    const rtt = this.rttPercentile(partyId, 50);
    return {
      partyId,
      state,
      lastSeenMs: s.lastSeenWallMs,
      ...(rtt === undefined ? {} : { rttMs: Math.round(rtt * 100) / 100 }),
      ...(reason === undefined ? {} : { reason }),
      ...(reason === 'blamed' && s.blamedReason !== undefined ? { blame: s.blamedReason } : {}),
    };
  }

  /** Known parties by current state (the `quorate_parties{state}` gauge, read at scrape time). */
  private stateCounts(): Record<PartyLiveness, number> {
    const counts = { alive: 0, suspect: 0, down: 0 };
    for (const partyId of this.known) counts[this.assess(partyId).state] += 1;
    return counts;
  }

  /**
   * The pinned box keys of `partyIds`, as each proved it on a connection to this coordinator;
   * undefined if any of them has not connected since this coordinator started.
   */
  boxKeysOf(partyIds: readonly string[]): Record<string, string> | undefined {
    const keys: [string, string][] = [];
    for (const partyId of partyIds) {
      const key = this.boxKeys.get(partyId);
      if (key === undefined) return undefined;
      keys.push([partyId, key]);
    }
    return Object.fromEntries(keys);
  }

  /**
   * The operator certificates the parties among `partyIds` presented on their current
   * connections (only those known; a party that sent none is absent).
   */
  certificatesOf(partyIds: readonly string[]): Record<string, PartyCertificate> {
    const found: [string, PartyCertificate][] = [];
    for (const partyId of partyIds) {
      const certificate = this.certificates.get(partyId);
      if (certificate !== undefined) found.push([partyId, certificate]);
    }
    return Object.fromEntries(found);
  }

  /**
   * Admin: a one-time enrolment token for `partyId`, valid `ttlSeconds`; with `rotate`, its
   * redemption replaces an existing pin (new identity keys). The token is returned once; the
   * store keeps only the MAC key derived from it ({@link enrolmentMacKeyHex}).
   */
  async issueEnrolment(
    partyId: string,
    ttlSeconds: number,
    rotate: boolean,
  ): Promise<IssuedEnrolment> {
    const token = `qpe_${Buffer.from(this.env.randomBytes(limits.enrolmentTokenBytes)).toString('base64url')}`;
    const issuedMs = this.env.nowMs();
    const expiresMs = issuedMs + ttlSeconds * 1_000;
    await this.store.putInvitation({
      partyId,
      macKey: enrolmentMacKeyHex(token),
      issuedMs,
      expiresMs,
      rotate,
    });
    this.addKnown(partyId);
    this.log.info({ partyId, expiresMs, rotate }, 'enrolment token issued');
    return { partyId, token, expiresMs };
  }

  /**
   * Admin: forgets a party's pin and invitation and closes its live link, so the id can be
   * enrolled afresh. False if no pin existed.
   */
  async unpin(partyId: string): Promise<boolean> {
    if (!(await this.store.deleteParty(partyId))) return false;
    const l = this.links.get(partyId);
    if (l !== undefined) this.closeLink(l, 'unpinned', 'party unpinned by an operator');
    this.forget(partyId);
    this.log.warn({ partyId }, 'party unpinned by an operator');
    return true;
  }

  /**
   * Admin: marks a pinned party revoked (refused, even with its keys, until it redeems a new
   * enrolment token) and closes its live link. Returns the revocation time, or undefined if
   * the party is not pinned.
   */
  async revoke(partyId: string): Promise<number | undefined> {
    const pinned = await this.store.getParty(partyId);
    if (pinned === undefined) return undefined;
    const revokedMs = pinned.revokedMs ?? this.env.nowMs();
    await this.store.putParty({ ...pinned, revokedMs });
    const l = this.links.get(partyId);
    if (l !== undefined) this.closeLink(l, 'revoked', 'party revoked by an operator');
    this.boxKeys.delete(partyId);
    this.certificates.delete(partyId);
    this.log.warn({ partyId }, 'party revoked by an operator');
    return revokedMs;
  }

  /**
   * How each of `partyIds` stands with enrolment, from the store. Up to a page
   * (`storePageSizeMax`) reads each party's pin; more reads every pin at once (bounded by
   * storePartyRecordsMax), so the whole listing of 10 000 parties costs one query, while one
   * party or one page does not pay for 10 000 rows. An unpinned party costs one more read.
   */
  async enrolmentOf(partyIds: readonly string[]): Promise<Record<string, EnrolmentState>> {
    const states: Record<string, EnrolmentState> = {};
    if (partyIds.length <= limits.storePageSizeMax) {
      await Promise.all(
        partyIds.map(async (partyId) => {
          const pinned = await this.store.getParty(partyId);
          states[partyId] = pinned === undefined ? await this.invitedOr(partyId) : pinState(pinned);
        }),
      );
      return states;
    }
    const pins = new Map((await this.store.listParties()).map((r) => [r.partyId, r]));
    for (const partyId of partyIds) {
      const pinned = pins.get(partyId);
      states[partyId] = pinned === undefined ? await this.invitedOr(partyId) : pinState(pinned);
    }
    return states;
  }

  /** An unpinned party's enrolment: `invited` while it holds a live invitation. */
  private async invitedOr(partyId: string): Promise<EnrolmentState> {
    return (await this.liveInvitation(partyId)) === undefined ? 'unknown' : 'invited';
  }

  /** Drops everything this replica remembers of a party (after an unpin). */
  private forget(partyId: string): void {
    this.known.delete(partyId);
    this.knownSorted = undefined;
    this.stats.delete(partyId);
    this.boxKeys.delete(partyId);
    this.certificates.delete(partyId);
    this.policyHashes.delete(partyId);
    this.extra.metrics?.forgetPartyState(partyId);
  }

  /** The parties among `partyIds` that announced `policyHash` (accepted that policy version). */
  acceptedPolicy(policyHash: string, partyIds: readonly string[]): string[] {
    return partyIds.filter((p) => this.policyHashes.get(p) === policyHash);
  }

  /** True if the party has a live link right now. */
  isConnected(partyId: string): boolean {
    return this.links.has(partyId);
  }
}
