/**
 * The signing-time policy state a governed session carries (durably, in its record): which tier
 * and policy version govern it, the quorum requirement the rules produced, and the approvals
 * collected so far. Parties receive the same fields and check them against their own copy.
 */

/** An approver of a group: who, and the Ed25519 key their approvals verify under (hex). */
export interface SessionApprover {
  readonly id: string;
  readonly publicKey: string;
}

/** One group of required approvals: k distinct approvers among those listed. */
export interface SessionApprovalGroup {
  /** Rules that asked for exactly this group. */
  readonly ruleIds: readonly string[];
  readonly k: number;
  readonly approvers: readonly SessionApprover[];
}

/**
 * What a quorum must satisfy under the rules, as the rules engine (src/policy/rules) computed it
 * and the session records it: at least `minSigners`, every required share, a party of every
 * required share type, and every approval group satisfied before signing starts.
 */
export interface SessionRequirement {
  readonly minSigners: number;
  readonly requiredTypes: readonly string[];
  readonly requiredShares: readonly string[];
  readonly approvals: readonly SessionApprovalGroup[];
}

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
  requirement: SessionRequirement;
  /** Share type per party id, from the policy file (for type requirements). */
  shareTypes: Record<string, string>;
  approvals: SessionApproval[];
  /** Wall-clock epoch ms by which approvals must be complete (when any are required). */
  approvalDeadlineMs?: number;
  /** Signing deadline duration, applied when approvals complete. */
  signingDeadlineMs: number;
}
