/**
 * Approvals: the canonical bytes an approver signs with Ed25519, verification, and counting k of m
 * distinct approvers per approval group. The signed request names the session, the wallet, the
 * intent, the message hash, the context and the policy hash, so an approval cannot be replayed on
 * another request or survive a policy change.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../../core/encoding.ts';
import type { RuleRequestContext } from './rule-context.ts';
import { ruleLimits } from '../../core/limits.ts';
import type { Approver, ApprovalGroup } from './rule-schema.ts';

/** Domain separation from every other Ed25519 signature in Quorate. */
export const approvalDomain = 'quorate/approval/v1\n';

/** What an approver approves: one session's request under one policy version. */
export interface ApprovalSubject {
  readonly sessionId: string;
  readonly walletId: string;
  readonly intentKey: string;
  /** Hex sha256 of the message to be signed. */
  readonly messageHash: string;
  readonly context: RuleRequestContext;
  /** {@link policyHash} of the policy the session is evaluated under. */
  readonly policyHash: string;
}

/** One approval as received: who, and their signature (hex, 64 bytes). */
export interface SignedApproval {
  readonly approverId: string;
  readonly signature: string;
}

/** The exact bytes an approver signs: domain tag ‖ canonical JSON of the subject. */
export function canonicalApprovalMessage(subject: ApprovalSubject): Uint8Array {
  const { sessionId, walletId, intentKey, messageHash, context, policyHash } = subject;
  const body = { sessionId, walletId, intentKey, messageHash, context: { ...context }, policyHash };
  return utf8ToBytes(approvalDomain + canonicalJson(body));
}

/** Signs a subject (for approver tools and tests); Ed25519 is deterministic, no rng needed. */
export function signApproval(subject: ApprovalSubject, secretKey: Uint8Array): string {
  return bytesToHex(ed25519.sign(canonicalApprovalMessage(subject), secretKey));
}

/**
 * True if `signatureHex` is `approver`'s Ed25519 signature over the subject. Strict RFC 8032
 * verification (no ZIP-215 leniency); false, never a throw, on malformed input.
 */
export function verifyApproval(
  approver: Approver,
  subject: ApprovalSubject,
  signatureHex: string,
): boolean {
  if (!/^[0-9a-fA-F]{128}$/.test(signatureHex)) return false;
  try {
    return ed25519.verify(
      hexToBytes(signatureHex),
      canonicalApprovalMessage(subject),
      hexToBytes(approver.publicKey),
      { zip215: false },
    );
  } catch {
    return false;
  }
}

/** Progress of one approval group. */
export interface ApprovalGroupStatus {
  readonly ruleIds: readonly string[];
  readonly k: number;
  /** Distinct approvers of this group with a valid signature, in group order. */
  readonly approvedBy: readonly string[];
  /** How many more approvals the group needs (0 when satisfied). */
  readonly missing: number;
}

/** Progress of every group, and the approvals that did not count. */
export interface ApprovalStatus {
  readonly satisfied: boolean;
  readonly groups: readonly ApprovalGroupStatus[];
  readonly rejected: readonly { readonly approverId: string; readonly problem: string }[];
}

/**
 * Counts valid approvals towards each group: an approver counts once per group however many
 * times they sign; one approval counts towards every group that lists the approver.
 */
export function checkApprovals(
  groups: readonly ApprovalGroup[],
  subject: ApprovalSubject,
  approvals: readonly SignedApproval[],
): ApprovalStatus {
  const known = new Map<string, Approver>();
  for (const group of groups) for (const a of group.approvers) known.set(a.id, a);
  const valid = new Set<string>();
  const rejected: { approverId: string; problem: string }[] = [];
  approvals.slice(0, ruleLimits.approvalsPerCheckMax).forEach((approval) => {
    const approver = known.get(approval.approverId);
    if (approver === undefined) {
      rejected.push({
        approverId: approval.approverId,
        problem: 'not an approver of this request',
      });
    } else if (!verifyApproval(approver, subject, approval.signature)) {
      rejected.push({ approverId: approval.approverId, problem: 'signature does not verify' });
    } else {
      valid.add(approver.id);
    }
  });
  if (approvals.length > ruleLimits.approvalsPerCheckMax) {
    rejected.push({
      approverId: '',
      problem: `only the first ${ruleLimits.approvalsPerCheckMax} approvals are read`,
    });
  }
  const statuses = groups.map((group) => {
    const approvedBy = group.approvers.map((a) => a.id).filter((id) => valid.has(id));
    return {
      ruleIds: group.ruleIds,
      k: group.k,
      approvedBy,
      missing: Math.max(0, group.k - approvedBy.length),
    };
  });
  return { satisfied: statuses.every((s) => s.missing === 0), groups: statuses, rejected };
}
