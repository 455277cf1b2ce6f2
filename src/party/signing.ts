/**
 * Signing on the party: what a sign-start must satisfy before a one-time secret is drawn
 * (deadline, key share, message hash, a signer set without duplicates, its intent lock, the
 * party's own rules), the signer role with its sealer and secret ledger, and the checks
 * repeated before every later step (newer attempt, intent lock, the rules again: time or
 * counters may have moved).
 *
 * The intent lock of a governed wallet binds the exact (message, context) pair the party's
 * rules decide on (see {@link intentLockValue}), and it is taken before the rules run: a
 * coordinator whose first try was refused cannot ask again for the same intent and message
 * under another context (a smaller amount, another destination).
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { canonicalJson, sha256Hex, utf8ToBytes } from '../core/encoding.ts';
import type { Env } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';
import type {
  KeyShare,
  PartyEngine,
  PartySignerRole,
  ProtocolMessage,
  Scheme,
} from '../protocol/engine.ts';
import { createSealer } from '../protocol/sealed-box.ts';
import { certificateProblem } from '../transport/certificate.ts';
import type { IdentityKeys } from '../transport/identity.ts';
import type { Envelope, SignPolicyBlock, SignStartBody } from '../transport/wire.ts';
import { signerSession, type SessionHooks, type SessionSpec } from './driver.ts';
import type { PartyJournal } from './journal.ts';
import type { KeyShares } from './key-shares.ts';
import { checkPartyPolicy, recordSigned, type PolicyCheckInput } from './party-policy.ts';
import { checkTransaction, lockNonce } from './transaction-check.ts';
import { DerivationPathError, parseDerivationPath } from '../protocol/ecdsa-derivation.ts';
import type { EvmFacts } from '../protocol/evm-transaction.ts';
import { engineFor } from './keygen.ts';
import { activeShareAt } from './lifecycle.ts';
import { Refusal } from './refusal.ts';
import type { PartyTrust } from './runtime.ts';
import { SecretLedger } from './secret-ledger.ts';

/** What signing needs from the party. */
export interface SigningDeps {
  partyId: string;
  env: Env;
  journal: PartyJournal;
  identity: IdentityKeys;
  policy: LoadedPolicy | undefined;
  /** The engine of each scheme this party runs (a scheme without one is refused). */
  engines: Partial<Record<Scheme, PartyEngine>>;
  shares: KeyShares;
  /** The trust anchor (the operator key this party pins), if any. */
  trust?: PartyTrust | undefined;
  /** Drops a session (its secrets wiped, discarded durably). */
  drop(sessionId: string, reason: string, attempt?: number): void;
}

/**
 * The box keys this party seals its signing messages to (engines whose rounds seal peer
 * messages: ecdsa), after checking each against the operator's certificate of that signer when
 * this party pins an operator key: a coordinator that named its own key in a peer's place would
 * read what this party sends that peer, and could forge what it receives from it. Refused with
 * `QUORATE_E_UNTRUSTED_PEER`, softly: the fault is the peer's or the coordinator's, not this
 * party's, so the refusal must not get this party excluded (a peer without a certificate would
 * otherwise get every honest co-signer excluded in turn); the coordinator then avoids the signer
 * set. Without an operator key the coordinator's word is taken, as at key generation (legacy,
 * warned at start).
 */
function peerBoxKeys(deps: SigningDeps, body: SignStartBody): Record<string, string> {
  const boxKeys = body.boxKeys ?? {};
  const { trust, partyId, identity } = deps;
  if (trust === undefined || body.boxKeys === undefined) return boxKeys;
  const certs = body.certificates ?? {};
  const checked: [string, string][] = [];
  for (const peer of body.signers) {
    if (!Object.hasOwn(boxKeys, peer))
      throw new Refusal('QUORATE_E_UNTRUSTED_PEER', `no box key for ${peer}`, false);
    const boxKey = boxKeys[peer] ?? '';
    if (peer === partyId) {
      if (boxKey !== bytesToHex(identity.boxPublic))
        throw new Refusal(
          'QUORATE_E_UNTRUSTED_PEER',
          'sign-start names another box key for this party',
          false,
        );
      continue;
    }
    const cert = Object.hasOwn(certs, peer) ? certs[peer] : undefined;
    if (cert === undefined)
      throw new Refusal('QUORATE_E_UNTRUSTED_PEER', `no operator certificate for ${peer}`, false);
    const problem = certificateProblem(cert, trust.operatorKey, { partyId: peer, boxKey });
    if (problem !== undefined) throw new Refusal('QUORATE_E_UNTRUSTED_PEER', problem, false);
    checked.push([peer, boxKey]);
  }
  return Object.fromEntries(checked);
}

/** Refuses (hard) when this party's own rules deny the request. */
function enforcePolicy(deps: SigningDeps, input: PolicyCheckInput): void {
  const refusal = checkPartyPolicy(deps.policy, deps.journal, input);
  if (refusal) throw new Refusal(refusal.code, refusal.reason, true);
}

/** Domain of the value that binds a governed intent to its (message, context) pair. */
const intentLockDomain = 'quorate-intent-lock-v1';

/**
 * The value a party's intent lock `(walletId, intentKey)` binds. Ungoverned wallet: the message
 * hash alone, as every lock before this binding did, so existing journals keep working. Governed
 * wallet (the tier recorded with the key share): sha256 of the canonical JSON of the domain, the
 * message hash and the request's policy context (every field, claims included), so the same
 * message asked again under another context is a different value. Approvals, tier and policy
 * hash are left out on purpose: approvals arrive over time, and a policy update must not turn an
 * honest retry of one intent into a conflict. A governed request without a policy block binds
 * the context `null` (its rules refuse it anyway). A child key's request (ecdsa,
 * `derivationPath`) binds its path too, governed or not: the same message under another path
 * is another key's signature, so another value (I1).
 */
export function intentLockValue(
  messageHash: string,
  tier: string | undefined,
  block: SignPolicyBlock | undefined,
  derivationPath?: string,
): string {
  if (tier === undefined && derivationPath === undefined) return messageHash;
  const bound = {
    domain: intentLockDomain,
    messageHash,
    context: tier === undefined ? null : (block?.context ?? null),
    ...(derivationPath === undefined ? {} : { derivationPath }),
  };
  return sha256Hex(utf8ToBytes(canonicalJson(bound)));
}

/**
 * Takes or confirms the intent lock on {@link intentLockValue}; refuses (hard) a different
 * message, or for a governed wallet the same message under a different context. A governed
 * intent whose lock holds the bare message hash was locked before locks bound the context (a
 * governed wallet never writes that value now): it is honoured as it was, message only, so an
 * intent in flight across the upgrade is not refused for ever.
 */
function lockIntent(deps: SigningDeps, input: PolicyCheckInput): void {
  const { walletId, intentKey, messageHash, sessionId, tier, block, derivationPath } = input;
  const value = intentLockValue(messageHash, tier, block, derivationPath);
  const result = deps.journal.lockIntent(walletId, intentKey, value, sessionId);
  if (result.ok) return;
  if (tier !== undefined && result.lockedMessageHash === messageHash) {
    deps.env.log.warn({ walletId, intentKey, sessionId }, 'intent locked before context binding');
    return;
  }
  const reason =
    tier === undefined
      ? 'intent already bound to another message'
      : 'intent already bound to another message or policy context';
  throw new Refusal('QUORATE_E_INTENT_CONFLICT', reason, true);
}

/** What this party's rules and intent lock are evaluated on, for a sign-start. */
function policyInputOf(
  key: KeyShare,
  e: Envelope,
  body: SignStartBody,
  nowMs: number,
  facts: EvmFacts | undefined,
): PolicyCheckInput {
  return {
    // checkTransaction held the policy block to the facts this party decoded itself.
    decoded: facts !== undefined,
    tier: key.tier,
    block: body.policy,
    sessionId: e.sessionId,
    walletId: body.walletId,
    intentKey: body.intentKey,
    messageHash: body.messageHash,
    signers: body.signers,
    nowMs,
    ...(body.derivationPath === undefined ? {} : { derivationPath: body.derivationPath }),
  };
}

/** A sign-start's derivation path, for an ecdsa key only; anything else is refused (hard). */
function derivationOf(key: KeyShare, body: SignStartBody): { derivationPath?: number[] } {
  if (body.derivationPath === undefined) return {};
  if (key.scheme !== 'ecdsa')
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'only an ecdsa key derives child keys', true);
  try {
    return { derivationPath: parseDerivationPath(body.derivationPath) };
  } catch (error) {
    if (!(error instanceof DerivationPathError)) throw error;
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', error.message, true);
  }
}

/** The intent lock, then for a transaction its account-nonce slot (both durable, both hard). */
function lockRequest(deps: SigningDeps, input: PolicyCheckInput, facts: EvmFacts | undefined) {
  lockIntent(deps, input);
  if (facts !== undefined)
    lockNonce(deps.journal, input.walletId, input.derivationPath ?? 'm', facts, input.sessionId);
}

/** Refuses (hard) a message whose hash or signer set (or a repeated signer) does not fit. */
function checkRequest(partyId: string, key: KeyShare, body: SignStartBody): Uint8Array {
  const message = hexToBytes(body.messageHex); // validated even-length hex (wire.ts)
  if (sha256Hex(message) !== body.messageHash)
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'message hash mismatch', true);
  // Before any other signer check: a repeated id would count twice towards the threshold,
  // and a signer role would draw a one-time secret for a signing that cannot be valid.
  if (new Set(body.signers).size !== body.signers.length)
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'signer set names a party twice', true);
  if (!body.signers.includes(partyId) || body.signers.some((s) => !key.parties.includes(s)))
    throw new Refusal(
      'QUORATE_E_BAD_ENVELOPE',
      'signer set is not a subset of the wallet parties',
      true,
    );
  if ((body.quorumSize ?? body.signers.length) < key.threshold)
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'signer set below threshold', true);
  if ((body.quorumSize ?? 0) > body.signers.length)
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'quorum size above the parties asked', true);
  return message;
}

/**
 * The signer set a round fixes (hedged first round), checked as hostile input before this
 * party's share can leave: the parties named once each, all among those it was asked with,
 * itself included, exactly the agreed number. Its own rules are then re-evaluated on this set.
 */
export function checkFinalSigners(
  partyId: string,
  body: Pick<SignStartBody, 'signers' | 'quorumSize'>,
  final: readonly string[],
): string[] {
  const refuse = (reason: string): never => {
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', `final signer set: ${reason}`, true);
  };
  if (new Set(final).size !== final.length) refuse('names a party twice');
  if (final.some((p) => !body.signers.includes(p))) refuse('names a party that was not asked');
  if (!final.includes(partyId)) refuse('leaves this party out');
  const size = body.quorumSize ?? body.signers.length;
  if (final.length !== size) refuse(`${final.length} signers, ${size} agreed`);
  return [...final];
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
  // The epoch fence: only the active epoch signs (its staged successor becomes active here).
  const key = activeShareAt(deps.shares, body.walletId, body.epoch ?? 0);
  const message = checkRequest(partyId, key, body);
  const facts = checkTransaction(key, body);
  const derivation = derivationOf(key, body);
  const policyInput = policyInputOf(key, e, body, env.nowMs(), facts);
  // The lock first: a request the rules refuse still binds the intent to its (message,
  // context) pair, so the refusal cannot be undone by asking again under another context.
  const boxKeys = peerBoxKeys(deps, body);
  lockRequest(deps, policyInput, facts);
  enforcePolicy(deps, policyInput);
  const sealer = createSealer({
    context: `${body.walletId}|${e.sessionId}|${e.attempt}`,
    self: partyId,
    boxSecret: identity.boxSecret,
    peerBoxKeys: boxKeys,
    randomBytes: env.randomBytes,
  });
  const role = engineFor(deps.engines, key.scheme).signer({
    key,
    message,
    signers: body.signers,
    ...(body.quorumSize === undefined ? {} : { quorumSize: body.quorumSize }),
    rng: env.randomBytes,
    sealer,
    runId: `${body.walletId}|${e.sessionId}|${e.attempt}|${e.token}`,
    ...derivation,
  });
  const hedged = isHedged(body);
  if (hedged && role.finalSigners === undefined) {
    // Fail closed (A2): this party's rules must run on the set that signs, and a role that
    // cannot name it (an engine wrapper, an HSM engine) would leave only the candidates.
    // Refused before start(), so no nonce is drawn.
    role.wipe();
    throw new Refusal(
      'QUORATE_E_PARTY_REFUSED',
      'hedged sign-start: this party engine cannot report the final signer set',
      true,
    );
  }
  const cancelTtl = env.setTimer(ttlMsFor(env, body), () =>
    deps.drop(e.sessionId, 'local TTL expired', e.attempt),
  );
  const ledger = new SecretLedger(deps.journal, e, () => env.nowMs());
  const hooks = signingHooks(deps, e, policyInput, finalSetTracker(partyId, body, role));
  return signerSession(e, via, role, ledger, hooks, cancelTtl);
}

/** True if sign-start asks more candidates than sign (a hedged first round). */
function isHedged(body: Pick<SignStartBody, 'signers' | 'quorumSize'>): boolean {
  return body.quorumSize !== undefined && body.quorumSize < body.signers.length;
}

/**
 * The signer set each later step runs under, for this party's rules. A step whose message fixes
 * a set (the role reports it) has it checked ({@link checkFinalSigners}); a later step keeps the
 * set an earlier one fixed and may not name another. Not hedged: the set sign-start named. Hedged
 * and no set fixed yet: a hard refusal, never the candidates (A2: the candidates may hold a
 * party the rules require that the final set leaves out).
 */
function finalSetTracker(
  partyId: string,
  body: SignStartBody,
  role: PartySignerRole,
): (message: ProtocolMessage) => readonly string[] {
  const hedged = isHedged(body);
  let fixed: string[] | undefined;
  return (message) => {
    const named = role.finalSigners?.(message);
    if (named !== undefined) {
      const checked = checkFinalSigners(partyId, body, named);
      if (fixed !== undefined && !sameSet(fixed, checked))
        throw new Refusal(
          'QUORATE_E_BAD_ENVELOPE',
          'final signer set: changed by a later round',
          true,
        );
      fixed = checked;
    }
    if (fixed !== undefined) return fixed;
    if (hedged)
      throw new Refusal(
        'QUORATE_E_BAD_ENVELOPE',
        'final signer set: not named by this round',
        true,
      );
    return body.signers;
  };
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((p) => b.includes(p));

/**
 * The checks before every later step, and the velocity count once the share has left. The rules
 * run on the signer set `signersOf` gives for the step (the final set of a hedged first round,
 * else the set sign-start named). Any refusal here drops the session: its nonce is discarded.
 */
function signingHooks(
  deps: SigningDeps,
  e: Envelope,
  policyInput: PolicyCheckInput,
  signersOf: (message: ProtocolMessage) => readonly string[],
): SessionHooks {
  const { journal, env } = deps;
  return {
    beforeStep(message) {
      if (journal.highestToken(e.sessionId) > e.token)
        throw new Refusal('QUORATE_E_STALE_TOKEN', 'a newer attempt exists', false);
      lockIntent(deps, policyInput);
      try {
        const signers = [...signersOf(message)];
        enforcePolicy(deps, { ...policyInput, signers, nowMs: env.nowMs() });
      } catch (refusal) {
        deps.drop(e.sessionId, 'signer set or policy re-check refused');
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
