/**
 * Signing-time rules on the coordinator side: evaluation against the loaded policy, velocity
 * events read from the store (sessions that did not fail), approval subjects and signature
 * checks, and the policy acceptance check (a version takes effect only once t of the wallet's
 * parties announced it). It computes verdicts; the session machine decides what they do to the
 * record (src/session/governed.ts), and the session runner writes it.
 */
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits, ruleLimits } from '../core/limits.ts';
import {
  checkApprovals,
  evaluateRules,
  type ApprovalSubject,
  type LoadedPolicy,
  type RuleDecision,
  type VelocityEvent,
} from '../policy/rules/index.ts';
import { countedAtMs, type Store, type WalletRecord, type WalletSessions } from '../store/store.ts';
import type { SessionRecord } from '../session/record.ts';
import type { PartyRegistry } from './party-registry.ts';
import { governedPhase, type RulesVerdict } from '../session/governed.ts';
import type { SessionApproval, SessionPolicy } from '../session/session-policy.ts';
import type { RunnerGovernance } from './session-runner.ts';

/**
 * Velocity events of a wallet: every session that has not failed and is not waiting for
 * approvals, counted within the longest window, read from the store's per-wallet index. Throws
 * `QUORATE_E_POLICY_DENIED` with `cause: 'velocity-unavailable'` when the count cannot be
 * established exactly (store read failed, more sessions than `velocityWalletSessionsMax`, or an
 * index entry that is not this wallet's in the window): never an under-count.
 */
export async function velocityEvents(
  store: Store,
  walletId: string,
  nowMs: number,
): Promise<VelocityEvent[]> {
  const sinceMs = nowMs - ruleLimits.velocityWindowMsMax + 1;
  const sessionsMax = limits.velocityWalletSessionsMax;
  let listed: WalletSessions;
  try {
    listed = await store.listWalletSessions(walletId, sinceMs, sessionsMax);
  } catch (error) {
    throw velocityUnavailable(walletId, `the store could not list them: ${String(error)}`);
  }
  if (!listed.complete) {
    throw velocityUnavailable(walletId, `more than ${sessionsMax} sessions in the longest window`);
  }
  const stray = listed.sessions.find((s) => s.walletId !== walletId || countedAtMs(s) < sinceMs);
  if (stray) throw velocityUnavailable(walletId, `index entry ${stray.sessionId} is inconsistent`);
  return (
    listed.sessions
      // Failed sessions release their amount; sessions still waiting for approvals are counted
      // only once they execute (the rules are re-checked then). A session reopened for a retry
      // counts from when its current try was opened (countedAtMs).
      .filter((s) => s.status !== 'failed' && s.pendingReason === undefined)
      .map((s) => ({
        sessionId: s.sessionId,
        atMs: countedAtMs(s),
        asset: s.context?.asset ?? null,
        amount: s.context?.amount ?? null,
      }))
  );
}

/** The denial when a wallet's velocity count cannot be established (fail closed). */
function velocityUnavailable(walletId: string, why: string): QuorateError {
  return new QuorateError(
    'QUORATE_E_POLICY_DENIED',
    `velocity cannot be counted exactly for this wallet: ${why}`,
    { cause: 'velocity-unavailable', walletId },
  );
}

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
    {
      context: record.context ?? {},
      nowMs,
      sessionId: record.sessionId,
      // The context of a transaction session is what the coordinator decoded from it.
      decoded: record.transaction !== undefined,
    },
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

/** What {@link Governance} needs. */
export interface GovernanceDeps {
  env: Env;
  store: Store;
  registry: PartyRegistry;
  /** The loaded signing-time rules, if this deployment uses them. */
  policy: LoadedPolicy | undefined;
  /** How long a governed session may wait for approvals. */
  approvalWindowMs: number;
}

/**
 * Evaluates governed sessions for their runners, one wallet at a time, and checks approvals
 * before they are handed to a runner.
 */
export class Governance implements RunnerGovernance {
  private readonly walletChains = new Map<string, Promise<void>>();

  constructor(private readonly deps: GovernanceDeps) {}

  /**
   * Runs `fn` after every earlier call for the same wallet. Each call is one evaluation of one
   * session (admission, an approval, a retry), so the queue holds at most one entry per session
   * this replica drives (bounded by sessionsActiveMax + sessionsAwaitingApprovalMax).
   */
  serialize<T>(walletId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.walletChains.get(walletId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.walletChains.set(walletId, tail);
    void tail.then(() => {
      if (this.walletChains.get(walletId) === tail) this.walletChains.delete(walletId);
    });
    return run;
  }

  /**
   * The verdict on a governed session that is not signing: approvals still missing under the
   * recorded requirement (rules not run again), or the rules' answer now — evaluated at the
   * request, at execution once approvals are in, or again for a retried try.
   */
  async evaluate(record: SessionRecord, wallet: WalletRecord): Promise<RulesVerdict> {
    const recorded = record.policy;
    const approving = governedPhase(record, true) === 'approving';
    if (approving && recorded) {
      const subject = approvalSubject(record, recorded.policyHash);
      const status = checkApprovals(recorded.requirement.approvals, subject, recorded.approvals);
      if (!status.satisfied) return { kind: 'awaiting', groups: status.groups };
    }
    let policy: LoadedPolicy;
    try {
      policy = governingPolicy(this.deps.policy, this.deps.registry, wallet);
    } catch (error) {
      if (error instanceof QuorateError) return { kind: 'deny', error: sessionError(error) };
      throw error;
    }
    const nowMs = this.deps.env.nowMs();
    const when =
      recorded === undefined ? 'rules checked at request' : 'rules re-checked at execution';
    let decision: RuleDecision;
    try {
      decision = await evaluateSession(policy, this.deps.store, wallet, record, nowMs);
    } catch (error) {
      if (!(error instanceof QuorateError) || error.detail['cause'] !== 'velocity-unavailable')
        throw error;
      const detail = { ...error.detail, policyHash: policy.policyHash, when };
      return { kind: 'deny', error: { code: error.code, message: error.message, detail } };
    }
    if (decision.effect === 'deny')
      return { kind: 'deny', error: sessionError(denial(decision, policy.policyHash, when)) };
    const next = this.nextPolicy(record, wallet, policy, decision, approving, nowMs);
    const status = checkApprovals(
      decision.requirement.approvals,
      approvalSubject(record, policy.policyHash),
      next.approvals,
    );
    return { kind: 'allow', policy: next, satisfied: status.satisfied, groups: status.groups };
  }

  /**
   * The policy facts to record. At the request, the signing time is what the request asked
   * for; a retried try keeps its own; both get a fresh approval window. While approving, the
   * window and signing time already recorded stay.
   */
  private nextPolicy(
    record: SessionRecord,
    wallet: WalletRecord,
    policy: LoadedPolicy,
    decision: Extract<RuleDecision, { effect: 'allow' }>,
    approving: boolean,
    nowMs: number,
  ): SessionPolicy {
    const recorded = record.policy;
    const since = record.retry?.lastMs ?? record.createdMs;
    const signingDeadlineMs =
      approving && recorded ? recorded.signingDeadlineMs : record.deadlineMs - since;
    const approvalDeadlineMs =
      approving && recorded ? recorded.approvalDeadlineMs : nowMs + this.deps.approvalWindowMs;
    const window =
      approvalDeadlineMs !== undefined && (approving || decision.requirement.approvals.length > 0);
    return {
      tier: wallet.tier as string,
      policyHash: policy.policyHash,
      ruleIds: [...decision.ruleIds],
      requirement: decision.requirement,
      shareTypes: shareTypesOf(policy),
      approvals: recorded?.approvals ?? [],
      signingDeadlineMs,
      ...(window ? { approvalDeadlineMs } : {}),
    };
  }

  /**
   * Checks an approval before it reaches the session's runner: the session waits for
   * approvals, its approval window is open, it has room for one more, and this approver's
   * signature over the session's subject counts towards a group. Throws
   * `QUORATE_E_APPROVAL_REJECTED` otherwise.
   */
  checkApproval(record: SessionRecord, approval: SessionApproval): void {
    const { sessionId, status } = record;
    const recorded = record.policy;
    if (!recorded || governedPhase(record, true) !== 'approving') {
      throw new QuorateError(
        'QUORATE_E_APPROVAL_REJECTED',
        'this session is not waiting for approvals',
        { sessionId, status },
      );
    }
    const closesMs = recorded.approvalDeadlineMs;
    if (closesMs !== undefined && this.deps.env.nowMs() >= closesMs) {
      throw new QuorateError('QUORATE_E_APPROVAL_REJECTED', 'the approval window has closed', {
        sessionId,
        approvalDeadlineMs: closesMs,
      });
    }
    if (recorded.approvals.length >= limits.approvalsPerSessionMax) {
      throw new QuorateError('QUORATE_E_APPROVAL_REJECTED', 'too many approvals for one session', {
        sessionId,
      });
    }
    const approvals = [
      ...recorded.approvals.filter((a) => a.approverId !== approval.approverId),
      approval,
    ];
    const subject = approvalSubject(record, recorded.policyHash);
    const result = checkApprovals(recorded.requirement.approvals, subject, approvals);
    const problem = result.rejected.find((r) => r.approverId === approval.approverId);
    if (problem) {
      throw new QuorateError(
        'QUORATE_E_APPROVAL_REJECTED',
        `approval rejected: ${problem.problem}`,
        {
          sessionId,
          approverId: approval.approverId,
        },
      );
    }
  }
}

/** The POLICY_DENIED error for a deny decision. */
function denial(
  decision: Extract<RuleDecision, { effect: 'deny' }>,
  policyHash: string,
  when: string,
): QuorateError {
  return new QuorateError('QUORATE_E_POLICY_DENIED', decision.reason, {
    cause: decision.cause,
    ...(decision.ruleId === undefined ? {} : { ruleId: decision.ruleId }),
    policyHash,
    when,
  });
}

/** A session error from a coordinator error (the session id is added by the machine). */
function sessionError(error: QuorateError): {
  code: QuorateError['code'];
  message: string;
  detail: Record<string, unknown>;
} {
  return { code: error.code, message: error.message, detail: { ...error.detail } };
}
