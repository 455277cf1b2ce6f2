/**
 * Party connections on the coordinator: enrolment handshake (party secret on first contact,
 * identity key pinned and proven afterwards), envelope guards, heartbeats, the phi-accrual
 * detector and RTT statistics that feed quorum selection and adaptive timeouts.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { bytesEqual, canonicalJson } from '../core/encoding.ts';
import type { Env } from '../core/env.ts';
import { isPartyId } from '../core/ids.ts';
import { limits } from '../core/limits.ts';
import { PhiAccrualDetector, defaultPhiOptions, type PhiOptions } from '../detector/phi-accrual.ts';
import { coordinatorRole } from '../protocol/engine.ts';
import type { CandidateInfo } from '../session/quorum.ts';
import type { Store } from '../store/store.ts';
import { EnvelopeGuard, EnvelopeSender, type Envelope } from '../transport/envelope.ts';
import { signDetached, verifyDetached, type IdentityKeys } from '../transport/identity.ts';
import { helloDomain, welcomeDomain, type HelloFrame, type Link } from '../transport/link.ts';

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

/** Why a connected party is not `alive`. */
export type SuspectReason = 'blamed' | 'missed-round' | 'detector';

interface PartyLink {
  partyId: string;
  link: Link;
  guard: EnvelopeGuard;
  sender: EnvelopeSender;
  detector: PhiAccrualDetector;
  pingsSent: Map<number, number>;
}

interface PartyStats {
  rttSamplesMs: number[];
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

/** Tracks every party connection and its liveness. */
export class PartyRegistry {
  private readonly links = new Map<string, PartyLink>();
  private readonly stats = new Map<string, PartyStats>();
  private readonly known = new Set<string>();
  /** Policy hash each party announced on its current connection. */
  private readonly policyHashes = new Map<string, string>();
  private stopHeartbeats: (() => void) | undefined;
  private readonly log;

  constructor(
    private readonly env: Env,
    private readonly store: Store,
    private readonly identity: IdentityKeys,
    private readonly partySecret: string | undefined,
    private readonly options: DetectorOptions,
    private readonly events: RegistryEvents,
  ) {
    this.log = env.log.child({ component: 'registry' });
  }

  /** Loads enrolled parties (so down parties are listed) and starts heartbeats. */
  async start(): Promise<void> {
    for (const p of await this.store.listParties()) this.known.add(p.partyId);
    const tick = () => {
      this.heartbeat();
      this.stopHeartbeats = this.env.setTimer(this.options.heartbeatIntervalMs, tick);
    };
    tick();
  }

  stop(): void {
    this.stopHeartbeats?.();
    for (const l of this.links.values()) l.link.close('coordinator shutting down');
    this.links.clear();
  }

  /** Runs the handshake on a new link; the party is registered once it proves its identity. */
  accept(link: Link): void {
    if (this.links.size >= limits.connectionsMax) {
      link.send({ t: 'reject', code: 'QUORATE_E_OVERLOADED', message: 'too many connections' });
      link.close('too many connections');
      return;
    }
    const conn = bytesToHex(this.env.randomBytes(12));
    const nonce = bytesToHex(this.env.randomBytes(16));
    const coordinatorKey = bytesToHex(this.identity.signPublic);
    let registered: string | undefined;
    const cancelHandshake = this.env.setTimer(limits.handshakeMsMax, () => {
      if (!registered) link.close('handshake timeout');
    });
    link.onClose(() => {
      cancelHandshake();
      if (registered) this.unregister(registered, link);
    });
    link.onFrame((frame) => {
      const f = frame as { t?: unknown };
      if (registered) {
        if (f.t === 'env') this.onFrameEnvelope(registered, (frame as { e: unknown }).e);
        else link.close('unexpected frame');
        return;
      }
      if (f.t !== 'hello') {
        link.close('expected hello');
        return;
      }
      void this.enroll(link, conn, nonce, frame as HelloFrame).then((partyId) => {
        registered = partyId;
        if (partyId) cancelHandshake();
      });
    });
    link.send({
      t: 'challenge',
      conn,
      nonce,
      coordinatorKey,
      heartbeatMs: this.options.heartbeatIntervalMs,
    });
  }

  private reject(link: Link, message: string): undefined {
    this.log.warn({ reason: message }, 'enrolment denied');
    link.send({ t: 'reject', code: 'QUORATE_E_ENROLLMENT_DENIED', message });
    link.close(message);
    return undefined;
  }

  private async enroll(
    link: Link,
    conn: string,
    nonce: string,
    hello: HelloFrame,
  ): Promise<string | undefined> {
    if (typeof hello.partyId !== 'string' || !isPartyId(hello.partyId))
      return this.reject(link, 'invalid party id');
    if (
      !/^[0-9a-f]{64}$/.test(hello.identityKey ?? '') ||
      !/^[0-9a-f]{64}$/.test(hello.boxKey ?? '')
    ) {
      return this.reject(link, 'invalid keys');
    }
    const bound = utf8ToBytes(
      canonicalJson({
        conn,
        nonce,
        partyId: hello.partyId,
        identityKey: hello.identityKey,
        boxKey: hello.boxKey,
      }),
    );
    const identityKey = hexToBytes(hello.identityKey);
    if (typeof hello.proof !== 'string' || !/^[0-9a-f]{128}$/.test(hello.proof))
      return this.reject(link, 'invalid proof');
    if (!verifyDetached(helloDomain, bound, hexToBytes(hello.proof), identityKey)) {
      return this.reject(link, 'identity proof does not verify');
    }
    const pinned = await this.store.getParty(hello.partyId);
    if (pinned) {
      if (pinned.identityKey !== hello.identityKey || pinned.boxKey !== hello.boxKey) {
        return this.reject(link, 'identity key differs from the pinned key');
      }
    } else {
      if (this.partySecret === undefined)
        return this.reject(link, 'enrolment is closed (no party secret configured)');
      const expected = hmac(sha256, utf8ToBytes(this.partySecret), bound);
      if (
        typeof hello.enrollMac !== 'string' ||
        !/^[0-9a-f]{64}$/.test(hello.enrollMac) ||
        !bytesEqual(expected, hexToBytes(hello.enrollMac))
      ) {
        return this.reject(link, 'wrong party secret');
      }
      const record = await this.store.pinParty({
        partyId: hello.partyId,
        identityKey: hello.identityKey,
        boxKey: hello.boxKey,
        enrolledMs: this.env.nowMs(),
      });
      if (record.identityKey !== hello.identityKey)
        return this.reject(link, 'identity key differs from the pinned key');
      this.log.info({ partyId: hello.partyId }, 'party enrolled; identity key pinned');
    }
    if (!link.isOpen) return undefined;
    const proof = signDetached(
      welcomeDomain,
      utf8ToBytes(
        canonicalJson({
          conn,
          nonce,
          partyId: hello.partyId,
          coordinatorKey: bytesToHex(this.identity.signPublic),
        }),
      ),
      this.identity.signSecret,
    );
    this.register(hello.partyId, link, conn, identityKey);
    const policyHash =
      typeof hello.policyHash === 'string' && /^[0-9a-f]{64}$/.test(hello.policyHash)
        ? hello.policyHash
        : undefined;
    if (policyHash === undefined) this.policyHashes.delete(hello.partyId);
    else this.policyHashes.set(hello.partyId, policyHash);
    link.send({ t: 'welcome', conn, proof: bytesToHex(proof) });
    return hello.partyId;
  }

  private register(partyId: string, link: Link, conn: string, identityKey: Uint8Array): void {
    const old = this.links.get(partyId);
    if (old) old.link.close('replaced by a newer connection');
    const detector = new PhiAccrualDetector({
      ...this.options.phi,
      firstIntervalMs: this.options.heartbeatIntervalMs,
    });
    detector.heartbeat(this.env.monoMs());
    this.links.set(partyId, {
      partyId,
      link,
      guard: new EnvelopeGuard(coordinatorRole, partyId, conn, identityKey),
      sender: new EnvelopeSender(coordinatorRole, partyId, conn, this.identity.signSecret),
      detector,
      pingsSent: new Map(),
    });
    this.known.add(partyId);
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
        rttSamplesMs: [],
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

  private onFrameEnvelope(partyId: string, raw: unknown): void {
    const l = this.links.get(partyId);
    if (!l) return;
    let e: Envelope;
    try {
      e = l.guard.accept(raw);
    } catch (error) {
      this.log.warn({ partyId, error: (error as Error).message }, 'envelope rejected');
      return;
    }
    const now = this.env.monoMs();
    const s = this.statsOf(partyId);
    s.lastSeenWallMs = this.env.nowMs();
    if (e.kind === 'pong') {
      const echo = (e.body as { echo?: unknown }).echo;
      const sentAt = typeof echo === 'number' ? l.pingsSent.get(echo) : undefined;
      // Only heartbeat answers feed the detector (protocol bursts would shrink the learned
      // interval), and only answers to pings sent after the last counted one: the backlog a
      // resumed party answers all at once counts as one heartbeat, not as tiny intervals.
      const last = l.detector.lastHeartbeatMs;
      if (sentAt !== undefined && (last === undefined || sentAt >= last)) l.detector.heartbeat(now);
      if (sentAt !== undefined) {
        l.pingsSent.delete(echo as number);
        s.rttSamplesMs.push(now - sentAt);
        if (s.rttSamplesMs.length > rttWindow) s.rttSamplesMs.shift();
      }
      this.refreshState(partyId);
      return;
    }
    this.refreshState(partyId);
    this.events.onEnvelope(partyId, e);
  }

  /** Sends an envelope to a party; false if it is not connected. */
  send(
    partyId: string,
    fields: Omit<Envelope, 'v' | 'from' | 'to' | 'conn' | 'seq' | 'sig'>,
  ): boolean {
    const l = this.links.get(partyId);
    if (!l || !l.link.isOpen) return false;
    const e = l.sender.build(fields);
    if (fields.kind === 'ping') {
      l.pingsSent.set(e.seq, this.env.monoMs());
      if (l.pingsSent.size > rttWindow)
        l.pingsSent.delete(l.pingsSent.keys().next().value as number);
    }
    l.link.send({ t: 'env', e });
    return true;
  }

  private heartbeat(): void {
    for (const partyId of this.links.keys()) {
      this.send(partyId, { kind: 'ping', sessionId: '', attempt: 0, token: 0, round: 0, body: {} });
    }
    for (const partyId of this.known) this.refreshState(partyId);
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
    if (now - last >= this.options.downAfterMs) return { state: 'down' };
    const s = this.statsOf(partyId);
    if (s.blamedUntilMono > now) return { state: 'suspect', reason: 'blamed' };
    if (l.detector.isSuspect(now)) return { state: 'suspect', reason: 'detector' };
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
    const samples = this.stats.get(partyId)?.rttSamplesMs ?? [];
    if (samples.length === 0) return undefined;
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }

  /** Candidate info for quorum selection, for the given parties. */
  candidates(partyIds: readonly string[]): CandidateInfo[] {
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

  /** Snapshot for `GET /v1/parties` (`reason` says why a connected party is suspect). */
  snapshot(): PartySnapshot[] {
    return [...this.known].sort().map((partyId) => {
      const s = this.statsOf(partyId);
      const rtt = this.rttPercentile(partyId, 50);
      const { state, reason } = this.assess(partyId);
      return {
        partyId,
        state,
        lastSeenMs: s.lastSeenWallMs,
        ...(rtt === undefined ? {} : { rttMs: Math.round(rtt * 100) / 100 }),
        ...(reason === undefined ? {} : { reason }),
        ...(reason === 'blamed' && s.blamedReason !== undefined ? { blame: s.blamedReason } : {}),
      };
    });
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
