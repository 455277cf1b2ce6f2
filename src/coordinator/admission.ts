/**
 * Signing admission: a request opens a session under its intent lock, joins the session
 * already bound to the same intent and message, or — if that session failed retryably — claims
 * it and starts a new try (docs/retries.md). Every record write after creation is the session
 * runner's.
 */
import type { EvmTransaction } from '../protocol/evm-transaction.ts';
import { hexToBytes } from '@noble/hashes/utils.js';
import { canonicalJson, sha256Hex } from '../core/encoding.ts';
import type { Env, Log } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { limits } from '../core/limits.ts';
import type { SessionRecord, SigningContext } from '../session/record.ts';
import { retryDecision } from '../session/retry.ts';
import type { Lease, Store, Versioned, WalletRecord } from '../store/store.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { SessionRunners } from './runners.ts';
import { notOwnerError } from './session-runner.ts';

/** A signing request after validation at the boundary. */
export interface SignRequest {
  messageHex: string;
  intentKey: string;
  /** Client context (amount, asset, destination); `initiator` is taken from the field below. */
  context?: SigningContext;
  deadlineMs?: number;
  /** The authenticated API principal (the API sets it); recorded as `context.initiator`. */
  initiator?: string;
  /** An EVM transaction (ecdsa): `messageHex` is its digest, `context` its facts. */
  transaction?: EvmTransaction;
  /** ecdsa: the child key's BIP32 path (canonical once prepared). */
  derivationPath?: string;
}

/** What admission needs from the coordinator. */
export interface AdmissionDeps {
  env: Env;
  store: Store;
  runners: SessionRunners;
  metrics: CoordinatorMetrics;
  log: Log;
  /** Sessions between creation (or a claim) and their runner: the takeover scan skips them. */
  admitting: Set<string>;
  /** This replica's live lease, or undefined when it holds none (or is stopping). */
  lease(): Lease | undefined;
}

/** Opens, joins or retries signing sessions. */
export class Admission {
  constructor(private readonly deps: AdmissionDeps) {}

  /**
   * Opens (or joins, for the same intent, message and context) a signing session. Same
   * intentKey with a different message or context (canonical JSON, initiator included) →
   * `QUORATE_E_INTENT_CONFLICT`, nothing signed. A governed session answers
   * once its rules were evaluated (denied, waiting for approvals, or signing).
   */
  async sign(wallet: WalletRecord, request: SignRequest): Promise<SessionRecord> {
    const { env, runners } = this.deps;
    if (
      runners.signing >= limits.sessionsActiveMax ||
      runners.size >= limits.sessionsActiveMax + limits.sessionsAwaitingApprovalMax
    )
      throw new QuorateError('QUORATE_E_OVERLOADED', 'too many active sessions');
    const now = env.nowMs();
    const record: SessionRecord = {
      sessionId: newId(env, 's'),
      walletId: wallet.walletId,
      intentKey: request.intentKey,
      messageHex: request.messageHex,
      messageHash: sha256Hex(hexToBytes(request.messageHex)),
      status: 'pending',
      createdMs: now,
      deadlineMs: now + (request.deadlineMs ?? limits.sessionDeadlineMsDefault),
      attempts: [],
      excluded: [],
      slow: [],
      ...signingContextOf(request),
      ...(request.transaction === undefined ? {} : { transaction: request.transaction }),
      ...(request.derivationPath === undefined ? {} : { derivationPath: request.derivationPath }),
    };
    const lease = this.deps.lease();
    // No session was created, so the error names none (a client polling an id that never
    // existed would wait for nothing); the same intentKey retried elsewhere joins or opens it.
    if (!lease) throw notOwnerError(undefined, 'no live store lease');
    return this.whileAdmitting(record.sessionId, () => this.admit(wallet, record, request, lease));
  }

  private async whileAdmitting<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    this.deps.admitting.add(sessionId);
    try {
      return await fn();
    } finally {
      this.deps.admitting.delete(sessionId);
    }
  }

  private async admit(
    wallet: WalletRecord,
    record: SessionRecord,
    request: SignRequest,
    lease: Lease,
  ): Promise<SessionRecord> {
    const created = await this.deps.store.createSession(record, { lease });
    if (created.created) {
      const started = this.deps.runners.launch(wallet, created.session, 'begin');
      if (wallet.tier !== undefined) return (await started).record;
      started.catch((e: unknown) =>
        this.deps.log.warn({ sessionId: record.sessionId, error: String(e) }, 'start failed'),
      );
      return created.session.value;
    }
    const existing = created.session.value;
    // Rules and approvals are bound to the exact (message, context) pair: the same intent asked
    // again under another context (another amount, destination or initiator) is another request.
    const conflict =
      existing.messageHash !== record.messageHash
        ? 'message'
        : canonicalJson(existing.context ?? {}) !== canonicalJson(record.context ?? {})
          ? 'context'
          : existing.derivationPath !== record.derivationPath
            ? 'derivationPath'
            : undefined;
    if (conflict !== undefined) {
      throw new QuorateError(
        'QUORATE_E_INTENT_CONFLICT',
        `intentKey is already bound to a different ${conflict}`,
        {
          walletId: wallet.walletId,
          intentKey: request.intentKey,
          existingSessionId: existing.sessionId,
          conflict,
        },
      );
    }
    return this.whileAdmitting(existing.sessionId, () =>
      this.askAgain(wallet, created.session, request, lease),
    );
  }

  /**
   * The intent already has a session with this message: join it, or, if it failed with a
   * retryable code, claim it for this replica and start a new try (docs/retries.md). A
   * concurrent retry on another replica moves the version: re-read and decide again, bounded.
   */
  private async askAgain(
    wallet: WalletRecord,
    found: Versioned<SessionRecord>,
    request: SignRequest,
    lease: Lease,
  ): Promise<SessionRecord> {
    let current = found;
    for (let i = 0; i < limits.reopenTriesMax; i++) {
      const decision = retryDecision(current.value);
      if (decision.kind === 'join' || decision.kind === 'final') return current.value;
      const sessionId = current.value.sessionId;
      if (decision.kind === 'exhausted') {
        throw new QuorateError(
          'QUORATE_E_ATTEMPTS_EXHAUSTED',
          'this intent failed after using its whole attempt budget; sign under a new intentKey',
          { sessionId, attempts: decision.attempts, attemptsMax: limits.attemptsPerIntentMax },
        );
      }
      const claim = await this.deps.store.claimSession(sessionId, current.version, lease);
      if (claim.claimed) {
        const retried = await this.retry(wallet, claim.session, request);
        if (retried) return retried;
        const again = await this.deps.store.getSession(sessionId);
        if (!again) break;
        current = again;
        continue;
      }
      if (claim.reason === 'lease-expired') throw notOwnerError(undefined, 'no live store lease');
      if (!claim.session) break;
      current = claim.session;
    }
    return current.value;
  }

  /**
   * A new try of a failed session under this replica's lease, through its runner: the machine
   * reopens the record and signs again (a governed session goes through its rules again).
   * Undefined if a replica racing to reopen the same session moved it first: look again.
   */
  private async retry(
    wallet: WalletRecord,
    claimed: Versioned<SessionRecord>,
    request: SignRequest,
  ): Promise<SessionRecord | undefined> {
    const { env, runners, metrics, log } = this.deps;
    const sessionId = claimed.value.sessionId;
    const signingMs =
      request.deadlineMs ??
      claimed.value.policy?.signingDeadlineMs ??
      limits.sessionDeadlineMsDefault;
    metrics.intentRetriesTotal.inc();
    log.info(
      { sessionId, previous: claimed.value.error?.code },
      'failed intent asked again: new try',
    );
    const runner = runners.create(wallet, claimed);
    if (wallet.tier === undefined) await runners.partiesSettled(wallet, env.nowMs() + signingMs);
    const nowMs = env.nowMs();
    const event = {
      type: 'retry',
      nowMs,
      deadlineMs: nowMs + signingMs,
      candidates: runner.candidates(),
    } as const;
    try {
      const { accepted, record } = await runner.submit(event);
      return accepted ? record : undefined;
    } catch (error) {
      if (error instanceof QuorateError && error.code === 'QUORATE_E_STALE_TOKEN') return undefined;
      throw error;
    }
  }
}

/**
 * The session's context: the client's fields plus the authenticated initiator. A client
 * `initiator` never survives (the API schema rejects it; this drops it for in-process callers).
 */
function signingContextOf(request: SignRequest): { context?: SigningContext } {
  const { initiator: _claimed, selector, ...client } = request.context ?? {};
  const context: SigningContext = {
    ...client,
    // A selector only ever comes from a transaction the coordinator decoded itself.
    ...(selector === undefined || request.transaction === undefined ? {} : { selector }),
    ...(request.initiator === undefined ? {} : { initiator: request.initiator }),
  };
  return Object.keys(context).length === 0 ? {} : { context };
}
