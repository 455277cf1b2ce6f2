/**
 * The party's side of a connection handshake, and the silence watchdog. The coordinator sends a
 * challenge; the party answers with a hello proving its identity key (with the operator's
 * certificate of its keys when it has one, and, on first contact, a MAC keyed by its one-time
 * enrolment token or the legacy shared party secret); the coordinator's welcome proves the
 * coordinator key, which the party requires when configured with one (`coordinatorKey`), else
 * pins in its journal on first contact and requires ever after.
 */
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { hmacSha256, sha256 } from '../core/openssl.ts';
import type { CancelTimer, Env, Log } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import type { PartyCertificate } from '../transport/certificate.ts';
import { signDetached, verifyDetached, type IdentityKeys } from '../transport/identity.ts';
import type { Link } from '../transport/link.ts';
import {
  buildHello,
  helloDomain,
  helloTranscript,
  welcomeDomain,
  welcomeTranscript,
  type ChallengeFrame,
  type HeartbeatClass,
  type HelloFrame,
  type WelcomeFrame,
} from '../transport/wire.ts';
import type { PartyJournal } from './journal.ts';

/** Journal meta key under which the coordinator's identity key is pinned. */
export const coordinatorKeyMeta = 'coordinator-identity-key';

/** What the handshake needs from the party. */
export interface HandshakeConfig {
  partyId: string;
  identity: IdentityKeys;
  journal: PartyJournal;
  /** Shared enrolment secret for first contact (legacy). */
  partySecret?: string;
  /** One-time enrolment token for this party id (preferred over the shared secret). */
  enrolToken?: string;
  /** Coordinator identity key (hex) to require instead of trusting the first one seen. */
  coordinatorKey?: string;
  /** The operator's certificate of this party's keys, sent in the hello. */
  certificate?: PartyCertificate;
  /** Hash of the policy this party enforces, announced in the hello. */
  policyHash?: string;
  /**
   * This party's heartbeat class, announced in the hello (`quorate party --heartbeat-ms N` or
   * `--heartbeat-ms on-demand`): absent, the coordinator's interval, as before.
   */
  heartbeatMs?: HeartbeatClass;
}

/**
 * The key of the hello's enrolment MAC: SHA-256 of the one-time enrolment token (the coordinator
 * keeps only this derived key, never the token), or the legacy shared secret's bytes.
 */
export function enrolmentMacKey(
  config: Pick<HandshakeConfig, 'enrolToken' | 'partySecret'>,
): Uint8Array | undefined {
  if (config.enrolToken !== undefined) return sha256(utf8ToBytes(config.enrolToken));
  if (config.partySecret !== undefined) return utf8ToBytes(config.partySecret);
  return undefined;
}

/** The hello answering `challenge`: identity and box keys, proof, enrolment MAC. */
export function helloFor(config: HandshakeConfig, challenge: ChallengeFrame): HelloFrame {
  const { identity, partyId, policyHash, certificate, heartbeatMs } = config;
  const macKey = enrolmentMacKey(config);
  const identityKey = bytesToHex(identity.signPublic);
  const boxKey = bytesToHex(identity.boxPublic);
  const transcript = helloTranscript({
    conn: challenge.conn,
    nonce: challenge.nonce,
    partyId,
    identityKey,
    boxKey,
  });
  return buildHello({
    partyId,
    identityKey,
    boxKey,
    proof: bytesToHex(signDetached(helloDomain, transcript, identity.signSecret)),
    ...(policyHash === undefined ? {} : { policyHash }),
    ...(macKey === undefined ? {} : { enrollMac: bytesToHex(hmacSha256(macKey, transcript)) }),
    ...(certificate === undefined ? {} : { certificate }),
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
  });
}

/** A coordinator that proved its key on this connection. */
export interface VerifiedCoordinator {
  conn: string;
  coordinatorKey: Uint8Array;
  heartbeatMs?: number;
}

/**
 * Checks the welcome against the challenge and the pinned coordinator key; pins the key on
 * first contact. Returns the verified coordinator, or why the connection must close.
 */
export function verifyWelcome(
  config: HandshakeConfig,
  log: Log,
  challenge: ChallengeFrame,
  welcome: WelcomeFrame,
): VerifiedCoordinator | string {
  const { journal, partyId } = config;
  const offered = challenge.coordinatorKey;
  const pinned = config.coordinatorKey ?? journal.getMeta(coordinatorKeyMeta);
  if (pinned !== undefined && pinned !== offered) {
    log.error({ pinned, offered }, 'coordinator key differs from the pinned one');
    return 'coordinator key mismatch';
  }
  const transcript = welcomeTranscript({
    conn: challenge.conn,
    nonce: challenge.nonce,
    partyId,
    coordinatorKey: offered,
  });
  // Both hex fields were validated (wire.ts), so hexToBytes cannot throw here.
  const key = hexToBytes(offered);
  if (
    welcome.conn !== challenge.conn ||
    !verifyDetached(welcomeDomain, transcript, hexToBytes(welcome.proof), key)
  ) {
    return 'coordinator failed to prove its key';
  }
  if (pinned === undefined) journal.setMeta(coordinatorKeyMeta, offered);
  return {
    conn: challenge.conn,
    coordinatorKey: key,
    ...(challenge.heartbeatMs === undefined ? {} : { heartbeatMs: challenge.heartbeatMs }),
  };
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

/**
 * The silence bound of a party that announced `own` (its heartbeat class) to a coordinator that
 * announced `coordinatorHeartbeatMs`: the coordinator pings it every max(own, its interval), so
 * the bound is {@link silenceMsFor} that; an on-demand party hears only the keepalive
 * (`heartbeatOnDemandKeepaliveMs`). No class: exactly {@link silenceMsFor}.
 */
export function partySilenceMs(
  coordinatorHeartbeatMs: unknown,
  own: HeartbeatClass | undefined,
): number {
  const coordinatorSilenceMs = silenceMsFor(coordinatorHeartbeatMs);
  if (own === undefined) return coordinatorSilenceMs;
  const beat = own === 'on-demand' ? limits.heartbeatOnDemandKeepaliveMs : own;
  return Math.max(
    coordinatorSilenceMs,
    Math.min(limits.partyCoordinatorSilenceMsMax, beat * limits.partyCoordinatorSilenceBeats),
  );
}

/** What the watchdog reads and updates on a connection. */
export interface Watched {
  link: Link;
  /** Monotonic time of the last verified envelope from the coordinator on this connection. */
  lastHeardMono: number;
  cancelWatchdog: CancelTimer;
}

/**
 * Closes `conn` once the coordinator has sent nothing verifiable on it for `silenceMs` (it
 * pings every heartbeat): a coordinator that died behind a partition leaves a half-open
 * connection, and closing it releases what was held for it and redials. Checked every
 * silenceMs / 4, one timer per connection, stopped when the connection closes (`isLive`).
 */
export function watchSilence(
  env: Env,
  log: Log,
  conn: Watched,
  silenceMs: number,
  isLive: () => boolean,
): void {
  const check = () => {
    if (!isLive()) return;
    const quietMs = env.monoMs() - conn.lastHeardMono;
    if (quietMs > silenceMs) {
      log.warn({ quietMs, silenceMs }, 'coordinator silent: closing the connection');
      conn.link.close(`coordinator silent for ${Math.round(quietMs)} ms`);
      return;
    }
    conn.cancelWatchdog = env.setTimer(silenceMs / 4, check);
  };
  conn.cancelWatchdog = env.setTimer(silenceMs / 4, check);
}
