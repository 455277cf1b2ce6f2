/**
 * The party runtime: one key share per wallet, a durable journal, and the protocol engines for
 * its own share. It wires the jobs together: the handshake and the silence watchdog
 * (handshake.ts), connections, envelope checks, routing and refusals (dispatch.ts), signing
 * (signing.ts) and key generation (keygen.ts) admission, and the N-round protocol driver that
 * keeps the one-time-secret order (driver.ts, secret-ledger.ts). Fencing tokens are observed
 * durably here before any session is touched (I3).
 */
import type { Env } from '../core/env.ts';
import { assert, isAssertionFailure } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';
import type { Payload, PartyEngine, Scheme } from '../protocol/engine.ts';
import { engines as frostEngines } from '../protocol/frost.ts';
import type { PartyCertificate } from '../transport/certificate.ts';
import type { IdentityKeys } from '../transport/identity.ts';
import type { Link } from '../transport/link.ts';
import {
  buildEpochAck,
  buildProtocol,
  epochAckRound,
  type DiscardBody,
  type Envelope,
  type EpochBody,
  type EpochTestBody,
  type HeartbeatClass,
  type KeygenStartBody,
  type SignStartBody,
} from '../transport/wire.ts';
import { PartyDispatch, type Connection } from './dispatch.ts';
import { ProtocolDriver } from './driver.ts';
import { HedgeGrace } from './hedge-grace.ts';
import type { PartyJournal } from './journal.ts';
import { openKeygen, type KeygenDeps } from './keygen.ts';
import { applyEpoch, openEpochTest, openReshare } from './lifecycle.ts';
import { KeyShares, type SecretSealer } from './key-shares.ts';
import { Refusal } from './refusal.ts';
import { openSigning } from './signing.ts';

export { coordinatorKeyMeta, silenceMsFor } from './handshake.ts';

/** A party's trust anchor: the pinned operator key and this party's own certificate. */
export interface PartyTrust {
  /** The operator's Ed25519 public key (32 bytes). */
  operatorKey: Uint8Array;
  /** This party's certificate, signed by that key over its identity and box keys. */
  certificate: PartyCertificate;
}
export type { SecretSealer } from './key-shares.ts';

/** Party configuration. */
export interface PartyOptions {
  partyId: string;
  env: Env;
  journal: PartyJournal;
  sealer: SecretSealer;
  identity: IdentityKeys;
  /** Shared enrolment secret for first contact (legacy; prefer `enrolToken`). */
  partySecret?: string;
  /**
   * One-time enrolment token for this party id, issued by an admin through the API
   * (`POST /v1/parties/{id}/enrolment`): proves first contact instead of the shared secret.
   */
  enrolToken?: string;
  /**
   * The coordinator identity key (64 hex) this party requires. Without it the first key seen
   * is pinned (trust on first use).
   */
  coordinatorKey?: string;
  /**
   * The trust anchor (docs/security.md): the operator key this party pins and the certificate
   * the operator issued for this party's keys. Without it the party takes its peers' keys from
   * the coordinator, which a malicious coordinator can substitute (logged at start).
   */
  trust?: PartyTrust;
  /** This party's own copy of the policy (signing-time rules), pinned by its hash. */
  policy?: LoadedPolicy;
  /**
   * With a policy: also take part in key generations without a tier (ungoverned wallets). Off by
   * default: a party that enforces a policy holds governed shares only (docs/security.md).
   */
  allowUngoverned?: boolean;
  /**
   * Engines by scheme (default: FROST for each). A party-side engine may compute steps
   * asynchronously (a share held in an HSM, a remote signer); the driver keeps the order.
   */
  engines?: Partial<Record<Scheme, PartyEngine>>;
  /** Heartbeat class announced in the hello (issue 13; see `HandshakeConfig.heartbeatMs`). */
  heartbeatMs?: HeartbeatClass;
}

function staleToken(e: Envelope): Refusal {
  return new Refusal(
    'QUORATE_E_STALE_TOKEN',
    `token ${e.token} is lower than one already seen`,
    false,
  );
}

/**
 * Sets `key` as the newest entry of a map bounded by `limits.partySessionsActiveMax`, dropping
 * the oldest entry when it is full.
 */
function setBounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  if (map.size >= limits.partySessionsActiveMax) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
  map.set(key, value);
}

/** When this party was asked as a hedge extra, for which attempt. */
interface ExtraSince {
  attempt: number;
  token: number;
  atMono: number;
}

/** A hedge extra's sign-start waiting out its grace. */
interface ParkedStart extends ExtraSince {
  cancel: () => void;
}

/** The party: serves coordinator connections and drives its sessions. */
export class PartyRuntime {
  private readonly dispatch: PartyDispatch;
  private readonly driver: ProtocolDriver;
  private readonly shares: KeyShares;
  private readonly engines: Partial<Record<Scheme, PartyEngine>>;
  private readonly log;
  /** Messages held back until the commit of the frame being handled (see inOneCommit). */
  private outbox: (() => void)[] | undefined;
  /** Sign-starts asking this party as a hedge extra, waiting out their grace (by session). */
  private readonly parked = new Map<string, ParkedStart>();
  /** Extras that outlived their grace, until their discard (or round 2) arrives. */
  private readonly extraSince = new Map<string, ExtraSince>();
  private readonly hedgeGrace = new HedgeGrace();
  /**
   * Tokens seen without a journal write, by session: a parked sign-start's, and a discard's for
   * a session this party holds nothing of. A floor like the journal's, in memory only: a party
   * that restarts has acted on none of them.
   */
  private readonly heldTokens = new Map<string, number>();

  constructor(private readonly options: PartyOptions) {
    const { env, journal, partyId } = options;
    this.log = env.log.child({ partyId });
    this.shares = new KeyShares(journal, options.sealer);
    this.engines = { ...frostEngines, ...options.engines };
    this.dispatch = new PartyDispatch(
      env,
      this.log,
      {
        partyId,
        identity: options.identity,
        journal,
        ...(options.partySecret === undefined ? {} : { partySecret: options.partySecret }),
        ...(options.enrolToken === undefined ? {} : { enrolToken: options.enrolToken }),
        ...(options.coordinatorKey === undefined ? {} : { coordinatorKey: options.coordinatorKey }),
        ...(options.trust === undefined ? {} : { certificate: options.trust.certificate }),
        ...(options.policy === undefined ? {} : { policyHash: options.policy.policyHash }),
        ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      },
      {
        signStart: (e, body) => this.onSignStartFrame(e, body),
        keygenStart: (e, body) => this.inOneCommit(e, () => this.onKeygenStart(e, body)),
        epochTest: (e, body) => this.inOneCommit(e, () => this.onEpochTest(e, body)),
        epoch: (e, body) => this.inOneCommit(e, () => this.onEpoch(e, body)),
        protocol: (e, payload) => this.inOneCommit(e, () => this.onProtocol(e, payload)),
        discard: (e, body) => this.inOneCommit(e, () => this.onDiscard(e, body)),
        connectionLost: (conn) => this.onConnectionLost(conn),
      },
    );
    if (options.trust === undefined) {
      this.log.warn(
        { trustAnchor: 'none' },
        'no operator key pinned: peer box keys come from the coordinator, which could substitute them during key generation (docs/security.md)',
      );
    }
    this.driver = new ProtocolDriver({
      partyId,
      journal,
      log: this.log,
      nowMs: () => env.nowMs(),
      reply: (e, fields) => this.send(() => this.dispatch.reply(e, fields)),
      refuse: (e, error) => this.send(() => this.dispatch.refuse(e, error)),
    });
  }

  /** Number of in-memory sessions (nonces or DKG secrets held). */
  get activeSessions(): number {
    return this.driver.size;
  }

  /** Sign-starts for which this party, asked as a hedge extra, has not yet drawn a nonce. */
  get parkedStarts(): number {
    return this.parked.size;
  }

  /**
   * Hooks a freshly opened link to the coordinator; runs the handshake, then serves it.
   * `onAccepted` runs once the coordinator proved its key on this link.
   */
  attach(link: Link, onAccepted?: () => void): void {
    this.dispatch.attach(link, onAccepted);
  }

  /**
   * Handles one frame with all its journal writes in one commit (one sync to disk instead of
   * three for a sign-start: token, intent lock, nonce record). What the handling sends waits in
   * an outbox until that commit returns, so nothing derived from a write leaves before the
   * write is durable (I2, I3); if the commit fails, nothing leaves. A journal without
   * `atomically` (the simulator's memory journal) commits each write and sends at once.
   */
  private inOneCommit(e: Envelope, handle: () => void): void {
    const { journal } = this.options;
    if (journal.atomically === undefined || this.outbox !== undefined) return handle();
    const outbox: (() => void)[] = [];
    let failure: { error: unknown } | undefined;
    this.outbox = outbox;
    try {
      journal.atomically(() => {
        try {
          handle();
        } catch (error) {
          failure = { error };
        }
      });
    } catch (commitError) {
      // The frame's writes are not on disk (rolled back, or committed but their sync failed,
      // and the journal closed): its session must never step again, or an asynchronous step
      // still computing would send a share whose consumption was never durable (found by
      // review of this change).
      try {
        this.driver.drop(e.sessionId, 'journal commit failed');
      } catch {
        // The journal is failing: the session is closed in memory before the drop writes.
      }
      throw commitError;
    } finally {
      this.outbox = undefined;
    }
    for (const send of outbox) send();
    if (failure !== undefined) throw failure.error;
  }

  /** Sends now, or after the open commit of {@link inOneCommit}. */
  private send(deliver: () => void): void {
    if (this.outbox === undefined) deliver();
    else {
      assert(this.outbox.length < limits.partyOutboxMessagesMax, 'a frame sends a bounded number');
      this.outbox.push(deliver);
    }
  }

  /**
   * Observes the fencing token durably; refuses anything lower than already seen (I3), on
   * record or held in memory ({@link heldTokens}).
   */
  private checkToken(e: Envelope): void {
    this.refuseBelowFloor(e);
    if (!this.options.journal.observeToken(e.sessionId, e.token, this.options.env.nowMs())) {
      throw staleToken(e);
    }
    // On record now (the journal refuses to lower it): the memory copy is no longer needed.
    this.heldTokens.delete(e.sessionId);
  }

  /** Refuses `e` if its token is below the highest seen for its session (reads only). */
  private refuseBelowFloor(e: Envelope): void {
    const held = this.heldTokens.get(e.sessionId) ?? 0;
    if (e.token < held || e.token < this.options.journal.highestToken(e.sessionId))
      throw staleToken(e);
  }

  /** Holds a token seen without a journal write (bounded: oldest out first). */
  private holdToken(sessionId: string, token: number): void {
    const held = this.heldTokens.get(sessionId) ?? 0;
    setBounded(this.heldTokens, sessionId, Math.max(held, token));
  }

  /**
   * A sign-start. Asked as a hedge extra (beyond the `quorumSize` parties listed first), the
   * party waits its hedge grace (src/party/hedge-grace.ts) before it handles it: a discard of
   * that attempt within the grace ends it with no nonce drawn. Its token is held in memory
   * meanwhile, so nothing lower is acted on (I3), and an older attempt of the session still
   * held is dropped at once, as a sign-start that is handled at once drops it. Anything else is
   * handled now.
   */
  private onSignStartFrame(e: Envelope, body: SignStartBody): void {
    // A lower token must not cancel what a higher one parked.
    this.refuseBelowFloor(e);
    this.unpark(e.sessionId);
    this.extraSince.delete(e.sessionId);
    const position = body.signers.indexOf(this.options.partyId);
    if (body.quorumSize === undefined || position < body.quorumSize) {
      this.inOneCommit(e, () => this.onSignStart(e, body));
      return;
    }
    if (this.driver.size + this.parked.size >= limits.partySessionsActiveMax)
      throw new Refusal('QUORATE_E_OVERLOADED', 'too many active sessions on this party', false);
    this.inOneCommit(e, () => {
      if (this.driver.holds(e.sessionId))
        this.driver.drop(e.sessionId, 'superseded by a newer attempt');
    });
    this.holdToken(e.sessionId, e.token);
    const { env } = this.options;
    const since = { attempt: e.attempt, token: e.token, atMono: env.monoMs() };
    const cancel = env.setTimer(this.hedgeGrace.ms, () => {
      this.parked.delete(e.sessionId);
      // The connection it came on is gone: the coordinator has failed the attempt already.
      if (this.dispatch.originOf(e) === undefined) return;
      // Remembered until its discard comes (a late one still feeds the grace).
      setBounded(this.extraSince, e.sessionId, since);
      // The session's time left is shorter by the grace.
      const waited = env.monoMs() - since.atMono;
      const late = { ...body, remainingMs: body.remainingMs - waited };
      try {
        this.inOneCommit(e, () => this.onSignStart(e, late));
      } catch (error) {
        if (isAssertionFailure(error)) throw error;
        this.refuseLater(e, error);
      }
    });
    this.parked.set(e.sessionId, { ...since, cancel });
  }

  /**
   * Refuses outside a frame's handling (a timer): what the dispatch's boundary does for a frame,
   * without a caller to throw to, so a failure to answer is logged, never thrown.
   */
  private refuseLater(e: Envelope, error: unknown): void {
    try {
      this.dispatch.refuse(e, error);
    } catch (refuseError) {
      if (isAssertionFailure(refuseError)) throw refuseError;
      this.log.error(
        { sessionId: e.sessionId, error: String(refuseError) },
        'could not refuse a parked sign-start',
      );
    }
  }

  /**
   * Forgets a parked sign-start of `sessionId` (only of that attempt and token, if given);
   * true if there was one.
   */
  private unpark(sessionId: string, attempt?: number, token?: number): boolean {
    const parked = this.parked.get(sessionId);
    if (parked === undefined) return false;
    if (attempt !== undefined && (parked.attempt !== attempt || parked.token !== token))
      return false;
    parked.cancel();
    this.parked.delete(sessionId);
    return true;
  }

  /** A discard: if it ends an extra attempt of this party, how long it took feeds the grace. */
  private sampleGrace(e: Envelope): void {
    const since = this.parked.get(e.sessionId) ?? this.extraSince.get(e.sessionId);
    if (since === undefined || since.attempt !== e.attempt || since.token !== e.token) return;
    this.extraSince.delete(e.sessionId);
    this.hedgeGrace.observe(this.options.env.monoMs() - since.atMono);
  }

  private onSignStart(e: Envelope, body: SignStartBody): void {
    this.checkToken(e);
    if (this.driver.holds(e.sessionId))
      this.driver.drop(e.sessionId, 'superseded by a newer attempt');
    if (this.driver.size >= limits.partySessionsActiveMax)
      throw new Refusal('QUORATE_E_OVERLOADED', 'too many active sessions on this party', false);
    const { env, journal, partyId, identity } = this.options;
    const spec = openSigning(
      {
        partyId,
        env,
        journal,
        identity,
        policy: this.options.policy,
        engines: this.engines,
        shares: this.shares,
        trust: this.options.trust,
        drop: (sessionId, reason, attempt) => this.driver.drop(sessionId, reason, attempt),
      },
      e,
      body,
      this.dispatch.originOf(e),
    );
    this.driver.begin(e, spec);
  }

  private onKeygenStart(e: Envelope, body: KeygenStartBody): void {
    this.checkToken(e);
    if (this.driver.holds(e.sessionId))
      throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'this key generation is already running', false);
    const deps = this.keygenDeps();
    const via = this.dispatch.originOf(e);
    if (body.reshare === undefined) this.driver.begin(e, openKeygen(deps, e, body, via));
    else this.driver.begin(e, openReshare(deps, e, body, body.reshare, via));
  }

  /** A lifecycle's test signature with this party's staged share. */
  private onEpochTest(e: Envelope, body: EpochTestBody): void {
    this.checkToken(e);
    if (this.driver.holds(e.sessionId))
      throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'this test signature is already running', false);
    const deps = { ...this.keygenDeps(), journal: this.options.journal };
    this.driver.begin(e, openEpochTest(deps, e, body, this.dispatch.originOf(e)));
  }

  /** A lifecycle's end: commit (promote or retire) or abandon; acknowledged with the outcome. */
  private onEpoch(e: Envelope, body: EpochBody): void {
    const ack = applyEpoch(
      {
        shares: this.shares,
        partyId: this.options.partyId,
        identity: this.options.identity,
        operatorKey: this.options.trust?.operatorKey,
      },
      body,
    );
    const { walletId, epoch } = body;
    this.log.info({ walletId, epoch, outcome: ack.outcome }, `epoch ${body.action}`);
    this.dispatch.reply(e, buildProtocol(e, epochAckRound, buildEpochAck(ack)));
  }

  private keygenDeps(): KeygenDeps {
    const { env, partyId, identity } = this.options;
    return {
      partyId,
      env,
      log: this.log,
      identity,
      policy: this.options.policy,
      engines: this.engines,
      shares: this.shares,
      trust: this.options.trust,
      allowUngoverned: this.options.allowUngoverned === true,
      sessionsActive: () => this.driver.size,
      drop: (sessionId, reason) => this.driver.drop(sessionId, reason),
    };
  }

  private onProtocol(e: Envelope, payload: Payload): void {
    // An extra chosen to sign: no discard will come for it.
    this.extraSince.delete(e.sessionId);
    this.checkToken(e);
    this.driver.deliver(e, payload);
  }

  private onDiscard(e: Envelope, _body: DiscardBody): void {
    this.sampleGrace(e);
    // A parked extra's own attempt: nothing was drawn, so nothing is written (its token is held).
    if (this.unpark(e.sessionId, e.attempt, e.token)) return;
    if (!this.driver.holds(e.sessionId)) {
      // Nothing held for the session (the repeat at a session's end to an extra whose start
      // its first discard ended, or a session this party never joined): nothing to release, so
      // nothing to write; the token is held in memory against anything lower (I3).
      this.refuseBelowFloor(e);
      this.holdToken(e.sessionId, e.token);
      return;
    }
    this.checkToken(e);
    this.driver.drop(e.sessionId, 'coordinator discarded the attempt', e.attempt);
  }

  /**
   * The coordinator fails any attempt whose party disconnects, and a restarted coordinator
   * never resumes one, so nothing held for this connection can be used again: release it now
   * rather than at the local TTL (I6; found by `quorate sim --seed 706`).
   */
  private onConnectionLost(conn: Connection): void {
    this.driver.dropVia(conn, 'connection to coordinator lost');
  }

  /** Wipes everything (shutdown). */
  close(): void {
    for (const sessionId of [...this.parked.keys()]) this.unpark(sessionId);
    this.extraSince.clear();
    this.heldTokens.clear();
    this.driver.dropAll('shutdown');
    this.dispatch.close();
  }
}
