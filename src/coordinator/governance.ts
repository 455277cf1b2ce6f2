/**
 * Signing-time rules on the coordinator side: evaluation against the loaded policy, velocity
 * events read from the store (sessions that did not fail), approval subjects, and the policy
 * acceptance check (a version takes effect only once t of the wallet's parties announced it).
 */
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import {
  evaluateRules,
  type ApprovalSubject,
  type LoadedPolicy,
  type RuleDecision,
  type VelocityEvent,
} from '../policy/rules/index.ts';
import { ruleLimits } from '../policy/rules/rule-limits.ts';
import type { Store, WalletRecord } from '../store/store.ts';
import type { SessionRecord } from '../session/record.ts';
import type { PartyRegistry } from './party-registry.ts';

/**
 * Velocity events of a wallet: every session that has not failed and is not waiting for
 * approvals, within the longest window.
 */
export async function velocityEvents(
  store: Store,
  walletId: string,
  nowMs: number,
): Promise<VelocityEvent[]> {
  const horizonMs = nowMs - ruleLimits.velocityWindowMsMax;
  const sessions = await store.listSessions(limits.velocitySessionsScanMax);
  return (
    sessions
      .map((s) => s.value)
      // Failed sessions release their amount; sessions still waiting for approvals are counted
      // only once they execute (the rules are re-checked then).
      // A session reopened for a retry counts from when its current try was opened: a transfer
      // retried a day later spends in today's window.
      .filter(
        (s) =>
          s.walletId === walletId &&
          s.status !== 'failed' &&
          s.pendingReason === undefined &&
          countedAtMs(s) > horizonMs,
      )
      .map((s) => ({
        sessionId: s.sessionId,
        atMs: countedAtMs(s),
        asset: s.context?.asset ?? null,
        amount: s.context?.amount ?? null,
      }))
  );
}

/** When a session's amount is spent for velocity: its current try's start. */
const countedAtMs = (s: SessionRecord): number => s.retry?.lastMs ?? s.createdMs;

/** Evaluates the wallet's tier for a session at `nowMs` (its own event excluded). */
export async function evaluateSession(
  policy: LoadedPolicy,
  store: Store,
  wallet: WalletRecord,
  record: SessionRecord,
  nowMs: number,
): Promise<RuleDecision> {
  const events = await velocityEvents(store, wallet.walletId, nowMs);
  return evaluateRules(
    policy.rules,
    wallet.tier as string,
    { context: record.context ?? {}, nowMs, sessionId: record.sessionId },
    events,
  );
}

/** The bytes approvers sign for a session. */
export function approvalSubject(record: SessionRecord, policyHash: string): ApprovalSubject {
  return {
    sessionId: record.sessionId,
    walletId: record.walletId,
    intentKey: record.intentKey,
    messageHash: record.messageHash,
    context: record.context ?? {},
    policyHash,
  };
}

/**
 * The policy that governs `wallet`, or a `POLICY_DENIED` error: the coordinator must have a
 * policy with the wallet's tier, and at least t of the wallet's parties must have announced the
 * same version (so an operator cannot change the rules alone).
 */
export function governingPolicy(
  policy: LoadedPolicy | undefined,
  registry: PartyRegistry,
  wallet: WalletRecord,
): LoadedPolicy {
  const tier = wallet.tier as string;
  if (!policy || !policy.rules.tiers.has(tier)) {
    throw new QuorateError('QUORATE_E_POLICY_DENIED', `no loaded policy defines tier ${tier}`, {
      cause: 'unknown-rule-set',
      tier,
    });
  }
  const accepted = registry.acceptedPolicy(policy.policyHash, wallet.parties);
  if (accepted.length < wallet.threshold) {
    throw new QuorateError(
      'QUORATE_E_POLICY_DENIED',
      `policy version not accepted by a quorum of parties (${accepted.length} of ${wallet.threshold} needed)`,
      {
        cause: 'policy-not-accepted',
        policyHash: policy.policyHash,
        acceptedBy: accepted,
        threshold: wallet.threshold,
      },
    );
  }
  return policy;
}

/** Share types of every share in the policy file, by party id. */
export function shareTypesOf(policy: LoadedPolicy): Record<string, string> {
  return Object.fromEntries([...policy.rules.shareTypes].map(([id, type]) => [id, type]));
}
