/**
 * Signing-time rules on the party side. A governed wallet's tier is recorded with the party's
 * share at key generation; from then on the party evaluates its OWN copy of the policy (pinned
 * by hash) before committing and again before releasing its share, so no coordinator and no
 * quorum can make it sign what its rules refuse. Velocity is counted from what this party
 * itself signed (durable in its journal): a lower bound of the wallet's true totals, which the
 * coordinator counts exactly in the store.
 */
import type { ErrorCode } from '../core/errors.ts';
import {
  checkApprovals,
  evaluateRules,
  type LoadedPolicy,
  type VelocityEvent,
} from '../policy/rules/index.ts';
import { quorumSatisfies } from '../session/quorum-requirement.ts';
import { ruleLimits } from '../core/limits.ts';
import type { SignPolicyBlock } from '../transport/wire.ts';
import type { PartyJournal } from './journal.ts';

/** Why the party's own rules deny a request (the party refuses it hard: not to be asked again). */
export interface PolicyRefusal {
  code: ErrorCode;
  reason: string;
}

/** Events kept per wallet in the journal (bounded). */
const eventsPerWalletMax = 10_000;
const metaKey = (walletId: string) => `velocity:${walletId}`;

/** What the check needs about the request. */
export interface PolicyCheckInput {
  tier: string | undefined;
  block: SignPolicyBlock | undefined;
  sessionId: string;
  walletId: string;
  intentKey: string;
  messageHash: string;
  signers: string[];
  nowMs: number;
  /** ecdsa: the child key's path, bound into the intent lock (not read by the rules). */
  derivationPath?: string;
  /** The policy context's facts were decoded by this party from the transaction it signs. */
  decoded: boolean;
}

/** Evaluates the party's own rules; returns a refusal or undefined (allowed). */
export function checkPartyPolicy(
  policy: LoadedPolicy | undefined,
  journal: PartyJournal,
  input: PolicyCheckInput,
): PolicyRefusal | undefined {
  if (input.tier === undefined) return undefined; // ungoverned wallet
  const deny = (reason: string): PolicyRefusal => ({ code: 'QUORATE_E_POLICY_DENIED', reason });
  if (!policy || !policy.rules.tiers.has(input.tier))
    return deny(`this party has no policy for tier ${input.tier}`);
  if (!input.block) return deny('governed wallet but the request carries no policy block');
  if (input.block.tier !== input.tier)
    return deny(`request names tier ${input.block.tier}, wallet is ${input.tier}`);
  if (input.block.policyHash !== policy.policyHash) {
    return deny(
      `policy version mismatch: request ${input.block.policyHash.slice(0, 12)}…, this party ${policy.policyHash.slice(0, 12)}…`,
    );
  }
  const events = localEvents(journal, input.walletId);
  if (events === undefined) return deny('this party cannot read its own velocity record');
  const decision = evaluateRules(
    policy.rules,
    input.tier,
    {
      context: input.block.context,
      nowMs: input.nowMs,
      sessionId: input.sessionId,
      decoded: input.decoded,
    },
    events,
  );
  if (decision.effect === 'deny') return deny(`${decision.cause}: ${decision.reason}`);
  const shareInfo = policy.rules.shareTypes;
  const quorum = quorumSatisfies(decision.requirement, input.signers, shareInfo);
  if (!quorum.ok) return deny(`quorum violates the rule: ${quorum.problems.join('; ')}`);
  const approvals = checkApprovals(
    decision.requirement.approvals,
    {
      sessionId: input.sessionId,
      walletId: input.walletId,
      intentKey: input.intentKey,
      messageHash: input.messageHash,
      context: input.block.context,
      policyHash: policy.policyHash,
    },
    input.block.approvals,
  );
  if (!approvals.satisfied) return deny('required approvals are missing or invalid');
  return undefined;
}

/**
 * The velocity events this party recorded for a wallet; undefined if the record cannot be read
 * back (it comes from the journal file). The check then fails closed: fewer events would let
 * through what the velocity rules refuse.
 */
function localEvents(journal: PartyJournal, walletId: string): VelocityEvent[] | undefined {
  const raw = journal.getMeta(metaKey(walletId));
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const events = parsed.flatMap(velocityEventOf);
  return events.length === parsed.length ? events : undefined;
}

const isStringOrNull = (x: unknown): x is string | null => x === null || typeof x === 'string';

/** One stored event, or none if it is not one. */
function velocityEventOf(raw: unknown): VelocityEvent[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const { sessionId, atMs, asset, amount } = raw as Record<string, unknown>;
  if (typeof sessionId !== 'string' || typeof atMs !== 'number') return [];
  if (!isStringOrNull(asset) || !isStringOrNull(amount)) return [];
  return [{ sessionId, atMs, asset, amount }];
}

/** Records that this party released a share for a governed session (durable, bounded). */
export function recordSigned(journal: PartyJournal, walletId: string, event: VelocityEvent): void {
  const horizon = event.atMs - ruleLimits.velocityWindowMsMax;
  const events = localEvents(journal, walletId);
  // An unreadable record stays as it is: overwriting it would forget what it counted.
  if (events === undefined) return;
  const kept = events.filter((e) => e.atMs > horizon && e.sessionId !== event.sessionId);
  kept.push(event);
  journal.setMeta(metaKey(walletId), JSON.stringify(kept.slice(-eventsPerWalletMax)));
}
