/**
 * Signing on the party: what a sign-start must satisfy before a one-time secret is drawn
 * (deadline, key share, message hash, signer set, the party's own rules, its intent lock), the
 * signer role with its sealer and secret ledger, and the checks repeated before every later
 * step (newer attempt, intent lock, the rules again: time or counters may have moved).
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../core/encoding.ts';
import type { Env } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';
import type { KeyShare, PartyEngine, Scheme } from '../protocol/engine.ts';
import { createSealer } from '../protocol/sealed-box.ts';
import type { IdentityKeys } from '../transport/identity.ts';
import type { Envelope, SignStartBody } from '../transport/wire.ts';
import type { SessionHooks, SessionSpec } from './driver.ts';
import type { PartyJournal } from './journal.ts';
import type { KeyShares } from './key-shares.ts';
import { checkPartyPolicy, recordSigned, type PolicyCheckInput } from './party-policy.ts';
import { Refusal } from './refusal.ts';
import { SecretLedger } from './secret-ledger.ts';

/** What signing needs from the party. */
export interface SigningDeps {
  partyId: string;
  env: Env;
  journal: PartyJournal;
  identity: IdentityKeys;
  policy: LoadedPolicy | undefined;
  engines: Record<Scheme, PartyEngine>;
  shares: KeyShares;
  /** Drops a session (its secrets wiped, discarded durably). */
  drop(sessionId: string, reason: string, attempt?: number): void;
}

/** Refuses (hard) when this party's own rules deny the request. */
function enforcePolicy(deps: SigningDeps, input: PolicyCheckInput): void {
  const refusal = checkPartyPolicy(deps.policy, deps.journal, input);
  if (refusal) throw new Refusal(refusal.code, refusal.reason, true);
}

/** Takes or confirms the intent lock; refuses (hard) a different message under one intent. */
function lockIntent(deps: SigningDeps, input: PolicyCheckInput): void {
  const { walletId, intentKey, messageHash, sessionId } = input;
  if (!deps.journal.lockIntent(walletId, intentKey, messageHash, sessionId).ok)
    throw new Refusal('QUORATE_E_INTENT_CONFLICT', 'intent already bound to another message', true);
}

/** Refuses (hard) a message whose hash or signer set does not fit the wallet. */
function checkRequest(partyId: string, key: KeyShare, body: SignStartBody): Uint8Array {
  const message = hexToBytes(body.messageHex); // validated even-length hex (wire.ts)
  if (sha256Hex(message) !== body.messageHash)
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'message hash mismatch', true);
  if (!body.signers.includes(partyId) || body.signers.some((s) => !key.parties.includes(s)))
    throw new Refusal(
      'QUORATE_E_BAD_ENVELOPE',
      'signer set is not a subset of the wallet parties',
      true,
    );
  if (body.signers.length < key.threshold)
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'signer set below threshold', true);
  return message;
}

/**
 * How long the party keeps this attempt: until the session deadline plus the cleanup bound,
 * within the party TTL. The absolute deadline counts when our clock agrees with the
 * coordinator's (exact, no network delay added); the relative remainingMs when it does not.
 */
function ttlMsFor(env: Env, body: SignStartBody): number {
  const byDeadlineMs = body.deadlineMs - env.nowMs();
  const leftMs = byDeadlineMs > 0 ? Math.min(body.remainingMs, byDeadlineMs) : body.remainingMs;
  return Math.min(limits.partySessionTtlMs, leftMs + limits.abortCleanupMsMax);
}

/**
 * Admits a sign-start (throws a Refusal if it must not run) and returns the session the driver
 * runs: the scheme's signer role, its secret ledger, its hooks and its local TTL.
 */
export function openSigning(
  deps: SigningDeps,
  e: Envelope,
  body: SignStartBody,
  via: object | undefined,
): SessionSpec<unknown> {
  const { env, partyId, identity } = deps;
  if (body.remainingMs <= 0)
    throw new Refusal('QUORATE_E_DEADLINE_EXCEEDED', 'session deadline already passed', false);
  const key = deps.shares.get(body.walletId);
  const message = checkRequest(partyId, key, body);
  const policyInput: PolicyCheckInput = {
    tier: key.tier,
    block: body.policy,
    sessionId: e.sessionId,
    walletId: body.walletId,
    intentKey: body.intentKey,
    messageHash: body.messageHash,
    signers: body.signers,
    nowMs: env.nowMs(),
  };
  enforcePolicy(deps, policyInput);
  lockIntent(deps, policyInput);
  const sealer = createSealer({
    context: `${body.walletId}|${e.sessionId}|${e.attempt}`,
    self: partyId,
    boxSecret: identity.boxSecret,
    peerBoxKeys: body.boxKeys ?? {},
    randomBytes: env.randomBytes,
  });
  const role = deps.engines[key.scheme].signer({
    key,
    message,
    signers: body.signers,
    rng: env.randomBytes,
    sealer,
  });
  const cancelTtl = env.setTimer(ttlMsFor(env, body), () =>
    deps.drop(e.sessionId, 'local TTL expired', e.attempt),
  );
  return {
    kind: 'sign',
    sessionId: e.sessionId,
    attempt: e.attempt,
    token: e.token,
    via,
    role,
    oneTimeSecret: () => role.oneTimeSecret(),
    ledger: new SecretLedger(deps.journal, e, () => env.nowMs()),
    hooks: signingHooks(deps, e, policyInput),
    cancelTtl,
  };
}

/** The checks before every later step, and the velocity count once the share has left. */
function signingHooks(deps: SigningDeps, e: Envelope, policyInput: PolicyCheckInput): SessionHooks {
  const { journal, env } = deps;
  return {
    beforeStep() {
      if (journal.highestToken(e.sessionId) > e.token)
        throw new Refusal('QUORATE_E_STALE_TOKEN', 'a newer attempt exists', false);
      lockIntent(deps, policyInput);
      try {
        enforcePolicy(deps, { ...policyInput, nowMs: env.nowMs() });
      } catch (refusal) {
        deps.drop(e.sessionId, 'policy re-check refused');
        throw refusal;
      }
    },
    afterSent() {
      const block = policyInput.block;
      if (policyInput.tier === undefined || !block) return;
      recordSigned(journal, policyInput.walletId, {
        sessionId: e.sessionId,
        atMs: env.nowMs(),
        asset: block.context.asset ?? null,
        amount: block.context.amount ?? null,
      });
    },
  };
}
