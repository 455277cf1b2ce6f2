/** The signing-time rule engine (issue 7), pure: load, evaluate, select, approve, pin. */
export type { LoadedPolicy } from './load-policy-rules.ts';
export { loadPolicyDocumentWithRules, loadPolicyWithRules } from './load-policy-rules.ts';
export { validateRuleSection } from './validate-rules.ts';
export { combineRequirements, evaluateRules, resolveTier } from './evaluate-rules.ts';
export type { RuleContextResult, RuleRequest, RuleRequestContext } from './rule-context.ts';
export { buildRuleContext, timeFieldsOf } from './rule-context.ts';
export type { VelocityEvent, VelocityRequest, WindowTotals } from './velocity.ts';
export { parseWindowMs, velocityLimitExceeded, windowTotals } from './velocity.ts';
export type {
  QuorumCandidate,
  QuorumCheck,
  QuorumSelection,
} from './select-quorum-under-requirement.ts';
export {
  quorumSatisfies,
  selectQuorumUnderRequirement,
} from './select-quorum-under-requirement.ts';
export { policyHash, policyHashDomain } from './policy-hash.ts';
export type {
  ApprovalGroupStatus,
  ApprovalStatus,
  ApprovalSubject,
  SignedApproval,
} from './approvals.ts';
export {
  approvalDomain,
  canonicalApprovalMessage,
  checkApprovals,
  signApproval,
  verifyApproval,
} from './approvals.ts';
export type * from './rule-schema.ts';
export { celVelocityWindows, ruleLimits } from '../../core/limits.ts';
export { amountMinorRounded, formatMinor, parseAmountMinor } from './decimal-amount.ts';
