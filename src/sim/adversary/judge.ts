/**
 * The harness's judge for A2: would a party's own rules allow this sign-start as the party
 * received it? Read from the party's policy with the same rule engine the party loads (the
 * engine is not what is under test; the party runtime's enforcement under hostile input is).
 * The adversarial runs send no velocity-metered requests, so no counters are needed. A share
 * released in a hedged round is judged on the final signer set its round-2 message named.
 */
import { checkApprovals, evaluateRules, type ApprovalSubject } from '../../policy/rules/index.ts';
import { quorumSatisfies } from '../../session/quorum-requirement.ts';
import type { SignStartBody } from '../../transport/wire.ts';
import type { SignVerdict } from '../../checker/adversary-types.ts';
import type { SimGovernance } from '../governed-policy.ts';
import type { SignJudge } from './observer.ts';

/**
 * Why a final signer set (hedged first round) is not one `partyId` may sign under, or undefined:
 * a subset of the parties asked, `partyId` included, each once, of the agreed size.
 */
function finalSetFault(
  body: SignStartBody,
  partyId: string,
  final: readonly string[],
): string | undefined {
  if (new Set(final).size !== final.length) return 'a party named twice';
  if (final.some((p) => !body.signers.includes(p))) return 'a party not asked';
  if (!final.includes(partyId)) return 'the party left out';
  if (final.length !== (body.quorumSize ?? body.signers.length)) return 'the wrong size';
  return undefined;
}

/** The judge for a run whose governed wallets are `governedWallets` under `governance`. */
export function judgeFor(
  governance: SimGovernance | undefined,
  governedWallets: ReadonlySet<string>,
  nowMs: () => number,
): SignJudge {
  return (body, sessionId, partyId, finalSigners): SignVerdict => {
    const governed = governance !== undefined && governedWallets.has(body.walletId);
    const fault = finalSigners && finalSetFault(body, partyId, finalSigners);
    if (fault)
      return { governed, permitted: false, structural: true, reason: `final set: ${fault}` };
    if (!governance || !governed)
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
    const signers = finalSigners ?? body.signers;
    const quorum = quorumSatisfies(decision.requirement, signers, policy.rules.shareTypes);
    if (!quorum.ok) return refuse(`signer set: ${quorum.problems.join('; ')}`);
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
