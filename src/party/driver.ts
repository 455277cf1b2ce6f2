/**
 * The party's protocol driver: runs any engine role (keygen or signing) through any number of
 * rounds. Each session holds one role; messages for it are handled strictly one at a time in
 * arrival order, and a role whose step is asynchronous (an HSM, a remote signer) queues the
 * messages that arrive meanwhile. Every step's messages go to the coordinator, which relays
 * what is meant for other parties (sealed by the engine to its recipient).
 *
 * The one-time-secret order (I2) is kept here for every engine through a {@link SecretLedger}:
 * recorded before anything derived from it leaves; consumed durably, then the step computed,
 * then its messages sent. A session dropped while a step is pending (discard, newer attempt,
 * TTL, lost connection) lets nothing of that step out, and its secret is never used again.
 */
import { limits } from '../core/limits.ts';
import { assert, isAssertionFailure } from '../core/assert.ts';
import type { CancelTimer, Log } from '../core/env.ts';
import type {
  MaybePromise,
  OneTimeSecret,
  PartyRole,
  PartySignerRole,
  Payload,
  ProtocolMessage,
  ProtocolStep,
} from '../protocol/engine.ts';
import { coordinatorRole, isPromise } from '../protocol/engine.ts';
import { buildProtocol, type Envelope, type EnvelopeFields } from '../transport/wire.ts';
import type { PartyJournal } from './journal.ts';
import { Refusal } from './refusal.ts';
import type { SecretLedger } from './secret-ledger.ts';

/** What the driver does per kind of session, around the role's steps. */
export interface SessionHooks<Result = unknown> {
  /** Checks before each incoming message reaches the role; throws a Refusal to refuse it. */
  beforeStep?(message: ProtocolMessage): void;
  /** The role finished: keep its result (before its last messages leave). */
  onDone?(result: Result): void;
  /** The role's last messages left (signing: count the release for the velocity rules). */
  afterSent?(): void;
}

/** A session as the runtime opens it. */
export interface SessionSpec<Result = unknown> {
  kind: 'sign' | 'keygen';
  sessionId: string;
  attempt: number;
  token: number;
  /** The connection (coordinator replica) that drives this session. */
  via: object | undefined;
  role: PartyRole<Result>;
  /** The one-time secret the role holds now, for roles that may hold one (signers). */
  oneTimeSecret: (() => OneTimeSecret | undefined) | undefined;
  ledger: SecretLedger | undefined;
  hooks: SessionHooks<Result>;
  cancelTtl: CancelTimer;
}

/** A key generation's (or reshare's) session: no one-time secret; `onDone` keeps the result. */
export function keygenSession<Result>(
  e: Envelope,
  via: object | undefined,
  role: PartyRole<Result>,
  onDone: (result: Result) => void,
  cancelTtl: CancelTimer,
): SessionSpec<Result> {
  const { sessionId, attempt, token } = e;
  const secret = { oneTimeSecret: undefined, ledger: undefined };
  return {
    kind: 'keygen',
    sessionId,
    attempt,
    token,
    via,
    role,
    ...secret,
    hooks: { onDone },
    cancelTtl,
  };
}

/** A signing session (a signer role, its one-time secret kept through `ledger`). */
export function signerSession(
  e: Envelope,
  via: object | undefined,
  role: PartySignerRole,
  ledger: SecretLedger,
  hooks: SessionHooks,
  cancelTtl: CancelTimer,
): SessionSpec {
  const { sessionId, attempt, token } = e;
  const oneTimeSecret = () => role.oneTimeSecret();
  return {
    kind: 'sign',
    sessionId,
    attempt,
    token,
    via,
    role,
    oneTimeSecret,
    ledger,
    hooks,
    cancelTtl,
  };
}

interface Session extends SessionSpec {
  /** Set once dropped or finished: nothing of this session may leave any more. */
  closed: boolean;
  /** A step is being computed (asynchronously). */
  busy: boolean;
  inbox: { e: Envelope; payload: Payload }[];
}

/** What the driver needs from the runtime. */
export interface DriverDeps {
  partyId: string;
  journal: PartyJournal;
  log: Log;
  nowMs: () => number;
  /** Sends on the connection `inReplyTo` arrived on (nothing if it closed). */
  reply(inReplyTo: Envelope, fields: EnvelopeFields): void;
  /** Answers `e` with a refusal. */
  refuse(e: Envelope, error: unknown): void;
}

/** Drives the roles of every session on one party. */
export class ProtocolDriver {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly deps: DriverDeps) {}

  /** Sessions held in memory (nonces or DKG secrets). */
  get size(): number {
    return this.sessions.size;
  }

  /** True if a session of this id is held. */
  holds(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** Opens a session and runs its role's first step; the answer goes back to `e`'s connection. */
  begin<Result>(e: Envelope, spec: SessionSpec<Result>): void {
    assert(!this.sessions.has(spec.sessionId), 'a session is dropped before it is opened again');
    const session: Session = { ...spec, closed: false, busy: false, inbox: [] };
    this.sessions.set(spec.sessionId, session);
    this.run(session, e, () => session.role.start());
  }

  /** An incoming protocol message for a session. */
  deliver(e: Envelope, payload: Payload): void {
    const session = this.sessions.get(e.sessionId);
    if (!session)
      throw new Refusal(
        'QUORATE_E_SESSION_NOT_FOUND',
        'no such session on this party (expired or lost)',
        false,
      );
    if (session.attempt !== e.attempt || session.token !== e.token)
      throw new Refusal('QUORATE_E_STALE_TOKEN', 'envelope for another attempt', false);
    if (session.busy) {
      if (session.inbox.length >= limits.partyInboxMessagesMax)
        throw new Refusal('QUORATE_E_OVERLOADED', 'too many messages queued for a session', false);
      session.inbox.push({ e, payload });
      return;
    }
    this.step(session, e, payload);
  }

  /** Hands one message to the role: checks, then the secret it spends, then the step. */
  private step(session: Session, e: Envelope, payload: Payload): void {
    const message: ProtocolMessage = {
      from: coordinatorRole,
      to: this.deps.partyId,
      round: e.round,
      payload,
    };
    session.hooks.beforeStep?.(message);
    const secret = session.oneTimeSecret?.();
    const { ledger } = session;
    if (ledger?.spends(secret, message)) {
      if (!ledger.consume(secret)) {
        this.finish(session);
        throw new Refusal(
          'QUORATE_E_PARTY_REFUSED',
          'one-time secret is no longer available (discarded or lost)',
          false,
        );
      }
      ledger.assertConsumed(secret);
    }
    this.run(session, e, () => session.role.handle(message));
  }

  /** Computes a step; a synchronous role completes at once, an asynchronous one later. */
  private run(
    session: Session,
    e: Envelope,
    compute: () => MaybePromise<ProtocolStep<unknown>>,
  ): void {
    let out: MaybePromise<ProtocolStep<unknown>>;
    try {
      out = compute();
    } catch (error) {
      this.drop(session.sessionId, 'role failed');
      throw error;
    }
    if (!isPromise(out)) {
      this.complete(session, e, out);
      return;
    }
    session.busy = true;
    out.then(
      (step) => this.guarded(e, () => this.complete(session, e, step)),
      (error: unknown) =>
        this.guarded(e, () => {
          session.busy = false;
          if (session.closed) return;
          this.drop(session.sessionId, 'role failed');
          throw error;
        }),
    );
  }

  private guarded(e: Envelope, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      if (isAssertionFailure(error)) throw error;
      this.deps.refuse(e, error);
    }
  }

  /** A step's outcome: nothing stale leaves; secrets are on record before messages do. */
  private complete(session: Session, e: Envelope, step: ProtocolStep<unknown>): void {
    const wasBusy = session.busy;
    session.busy = false;
    if (session.closed) {
      // Dropped while the step was pending: its output is stale and never leaves.
      session.role.wipe();
      this.deps.log.debug({ sessionId: session.sessionId }, 'stale step output dropped');
      return;
    }
    if (step.kind === 'abort') {
      this.drop(session.sessionId, step.abort.reason);
      throw new Refusal('QUORATE_E_PROTOCOL_ABORT', step.abort.reason, false);
    }
    const secret = session.oneTimeSecret?.();
    if (session.ledger && !session.ledger.recordHeld(secret)) {
      this.drop(session.sessionId, 'one-time secret collision');
      throw new Refusal(
        'QUORATE_E_INTERNAL',
        'one-time secret id already recorded: refusing to reuse',
        false,
      );
    }
    session.ledger?.assertReleasable(secret);
    if (step.kind === 'done') {
      session.ledger?.assertAllSpent();
      this.finish(session);
      session.hooks.onDone?.(step.result);
    }
    for (const out of step.outgoing) this.deps.reply(e, buildProtocol(e, out.round, out.payload));
    if (step.kind === 'done') session.hooks.afterSent?.();
    if (wasBusy) this.drain(session);
  }

  /** Runs the messages queued while a step was pending, in order, until one is pending again. */
  private drain(session: Session): void {
    while (!session.busy && !session.closed && session.inbox.length > 0) {
      const next = session.inbox.shift();
      if (next) this.guarded(next.e, () => this.step(session, next.e, next.payload));
    }
  }

  /** Ends a session that completed or must not step again: forgets it and wipes its secrets. */
  private finish(session: Session): void {
    session.closed = true;
    session.inbox = [];
    session.cancelTtl();
    session.role.wipe();
    if (this.sessions.get(session.sessionId) === session) this.sessions.delete(session.sessionId);
  }

  /**
   * Wipes a session's in-memory secrets and discards its issued one-time secrets durably. With
   * `attempt`, a signing session of a newer attempt is left alone.
   */
  drop(sessionId: string, reason: string, attempt?: number): void {
    const session = this.sessions.get(sessionId);
    if (session?.kind === 'sign' && attempt !== undefined && session.attempt > attempt) return;
    if (session) this.finish(session);
    const discarded = this.deps.journal.discardNonces(sessionId, this.deps.nowMs());
    this.deps.log.debug({ sessionId, reason, discarded }, 'session state dropped');
  }

  /** Drops every session driven over `via` (its connection closed). */
  dropVia(via: object, reason: string): void {
    for (const [sessionId, session] of [...this.sessions]) {
      if (session.via === via) this.drop(sessionId, reason);
    }
  }

  /** Drops every session (shutdown). */
  dropAll(reason: string): void {
    for (const sessionId of [...this.sessions.keys()]) this.drop(sessionId, reason);
  }
}
