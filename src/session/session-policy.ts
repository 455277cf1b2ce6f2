/**
 * The signing-time policy state a governed session carries (durably, in its record): which tier
 * and policy version govern it, the quorum requirement the rules produced, and the approvals
 * collected so far. Parties receive the same fields and check them against their own copy.
 */
import type { QuorumRequirement } from '../policy/rules/index.ts';

/** One approval as recorded: who, and their Ed25519 signature over the session's subject (hex). */
export interface SessionApproval {
  readonly approverId: string;
  readonly signature: string;
}

/** Policy facts of one session. */
export interface SessionPolicy {
  tier: string;
  policyHash: string;
  ruleIds: string[];
  requirement: QuorumRequirement;
  /** Share type per party id, from the policy file (for type requirements). */
  shareTypes: Record<string, string>;
  approvals: SessionApproval[];
  /** Wall-clock epoch ms by which approvals must be complete (when any are required). */
  approvalDeadlineMs?: number;
  /** Signing deadline duration, applied when approvals complete. */
  signingDeadlineMs: number;
}
