/**
 * The harness's judge for A2: would a party's own rules allow this sign-start as the party
 * received it? Read from the party's policy with the same rule engine the party loads (the
 * engine is not what is under test; the party runtime's enforcement under hostile input is).
 * The adversarial runs send no velocity-metered requests, so no counters are needed.
 */
import { checkApprovals, evaluateRules, type ApprovalSubject } from '../../policy/rules/index.ts';
import type { SignStartBody } from '../../transport/wire.ts';
import type { SignVerdict } from '../../checker/adversary-types.ts';
import type { SimGovernance } from '../governed-policy.ts';
import type { SignJudge } from './observer.ts';

/** The judge for a run whose governed wallets are `governedWallets` under `governance`. */
export function judgeFor(
  governance: SimGovernance | undefined,
  governedWallets: ReadonlySet<string>,
  nowMs: () => number,
): SignJudge {
  return (body: SignStartBody, sessionId: string): SignVerdict => {
    if (!governance || !governedWallets.has(body.walletId))
      return { governed: false, permitted: true, reason: 'ungoverned wallet' };
    const refuse = (reason: string): SignVerdict => ({ governed: true, permitted: false, reason });
    const { policy, tier } = governance;
    const block = body.policy;
    if (!block) return refuse('no policy block');
    if (block.tier !== tier || block.policyHash !== policy.policyHash)
      return refuse('another tier or policy');
    const decision = evaluateRules(
      policy.rules,
      tier,
      { context: block.context, nowMs: nowMs(), sessionId },
      [],
    );
    if (decision.effect === 'deny') return refuse(`denied: ${decision.reason}`);
    const subject: ApprovalSubject = {
      sessionId,
      walletId: body.walletId,
      intentKey: body.intentKey,
      messageHash: body.messageHash,
      context: block.context,
      policyHash: policy.policyHash,
    };
    const approvals = checkApprovals(decision.requirement.approvals, subject, block.approvals);
    if (!approvals.satisfied) return refuse('approvals missing or invalid');
    return { governed: true, permitted: true, reason: decision.ruleIds.join(',') };
  };
}
