/**
 * The signing-time rule engine (issue 7), pure: load, evaluate, select, approve, pin. This is
 * what the coordinator, the party and the simulator use; the modules behind it export more for
 * each other and for tests.
 */
export type { LoadedPolicy } from './load-policy-rules.ts';
export { loadPolicyDocumentWithRules, loadPolicyWithRules } from './load-policy-rules.ts';
export { evaluateRules } from './evaluate-rules.ts';
export type { RuleRequestContext } from './rule-context.ts';
export { timeFieldsOf } from './rule-context.ts';
export type { VelocityEvent } from './velocity.ts';
export { parseWindowMs, velocityLimitExceeded, windowTotals } from './velocity.ts';
export { policyHash } from './policy-hash.ts';
export { tierFits } from './tier-fits.ts';
export type { ApprovalSubject } from './approvals.ts';
export {
  canonicalApprovalMessage,
  checkApprovals,
  signApproval,
  verifyApproval,
} from './approvals.ts';
export type * from './rule-schema.ts';
export { amountMinorRounded, formatMinor, parseAmountMinor } from './decimal-amount.ts';
