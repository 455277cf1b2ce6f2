/**
 * The governed half of the workload: requests on a governed wallet, each of one shape (what
 * the rules should decide and what the approvers will do), planned from the seed's governance
 * stream; the approvers themselves live in approvers.ts.
 *
 * - `small`: under the approval threshold, signs without approvals;
 * - `approved`: over it; k approvers approve in time, so it signs;
 * - `too-few`: over it; fewer than k approve, so it fails with APPROVAL_TIMEOUT;
 * - `late`: over it; k approve after the approval deadline: APPROVAL_TIMEOUT, approvals refused;
 * - `denied`: to the blocked destination: POLICY_DENIED, never signs;
 * - `invalid-approval`: over it; one invalid approval first (bad signature, unknown approver or
 *   a signature over another request), refused with APPROVAL_REJECTED and recorded nowhere,
 *   then k valid ones: it signs;
 * - `metered`: BTC under a velocity limit, sent as a burst larger than the limit.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { GovernedRequest } from '../checker/history.ts';
import {
  allowedDestination,
  blockedDestination,
  largeTransferApprovals,
  meteredMaxCount,
  type SimApprover,
} from './governed-policy.ts';
import type { SeededRandom } from '../core/seeded-random.ts';
import type { RequestPlan } from './workload.ts';

/** What one governed request does. */
export type GovernedShape =
  'small' | 'approved' | 'too-few' | 'late' | 'denied' | 'invalid-approval' | 'metered';

/** How an approval is made: valid, or one of three ways of being invalid. */
export type ApprovalKind = 'valid' | 'bad-signature' | 'unknown-approver' | 'wrong-subject';

/** One approval an approver will post once it sees the session waiting for approvals. */
export interface ApprovalAction {
  approverId: string;
  kind: ApprovalKind;
  /** After seeing the session waiting (or, if `late`, after its approval deadline). */
  afterMs: number;
  late: boolean;
}

/** The governed part of a request plan. */
export interface GovernedPlan {
  shape: GovernedShape;
  governance: GovernedRequest;
  approvals: ApprovalAction[];
}

/** Shapes one governed run draws from, besides the optional metered burst. */
const shapes: readonly GovernedShape[] = [
  'small',
  'approved',
  'too-few',
  'late',
  'denied',
  'invalid-approval',
];

/** Requests in a metered burst: one more than the limit allows. */
const meteredBurst = meteredMaxCount + 1;

/**
 * Plans the governed requests of one run on `walletId` over [fromMs, toMs]: three to five
 * distinct shapes, and half the time a metered burst.
 */
export function planGovernedRequests(
  rng: SeededRandom,
  walletId: string,
  approvers: readonly SimApprover[],
  fromMs: number,
  toMs: number,
): RequestPlan[] {
  const chosen = rng.shuffle(shapes).slice(0, rng.int(3, 5));
  if (rng.chance(0.5)) for (let i = 0; i < meteredBurst; i++) chosen.push('metered');
  return chosen.map((shape, i) => ({
    requestId: `g${i}`,
    walletId,
    atMs: rng.int(fromMs, toMs),
    intentKey: `governed-${i}`,
    messageHex: bytesToHex(rng.bytes(32)),
    deadlineMs: rng.int(4, 8) * 1_000,
    governed: governedPlan(rng, shape, approvers),
  }));
}

function governedPlan(
  rng: SeededRandom,
  shape: GovernedShape,
  approvers: readonly SimApprover[],
): GovernedPlan {
  const amount = String(rng.int(1, 1_000));
  const large = String(rng.int(1_001, 50_000));
  const ids = rng.shuffle(approvers.map((a) => a.id));
  const usdc = (value: string, destination = allowedDestination) => ({
    amount: value,
    asset: 'USDC',
    destination,
  });
  const needsApprovals = (approvalPlan: 'in-time' | 'too-few' | 'late'): GovernedRequest => ({
    expected: 'approvals',
    context: usdc(large),
    approvalsRequired: largeTransferApprovals,
    approvalPlan,
  });
  switch (shape) {
    case 'small':
      return { shape, governance: { expected: 'allow', context: usdc(amount) }, approvals: [] };
    case 'denied':
      return {
        shape,
        governance: { expected: 'deny', context: usdc(amount, blockedDestination) },
        approvals: [],
      };
    case 'metered':
      return {
        shape,
        governance: {
          expected: 'metered',
          context: { amount: '0.01', asset: 'BTC', destination: allowedDestination },
          velocity: { key: 'metered', maxCount: meteredMaxCount },
        },
        approvals: [],
      };
    case 'approved':
    case 'invalid-approval':
      return { shape, governance: needsApprovals('in-time'), approvals: actions(rng, shape, ids) };
    case 'too-few':
    case 'late':
      return { shape, governance: needsApprovals(shape), approvals: actions(rng, shape, ids) };
  }
}

/** The approvals the approvers of a request needing k of them will post. */
function actions(
  rng: SeededRandom,
  shape: 'approved' | 'too-few' | 'late' | 'invalid-approval',
  ids: readonly string[],
): ApprovalAction[] {
  const k = largeTransferApprovals;
  const valid = (id: string, fromMs: number, toMs: number, late = false): ApprovalAction => ({
    approverId: id,
    kind: 'valid',
    afterMs: rng.int(fromMs, toMs),
    late,
  });
  switch (shape) {
    case 'approved':
      return ids.slice(0, k).map((id) => valid(id, 50, 1_500));
    case 'too-few':
      return ids.slice(0, k - 1).map((id) => valid(id, 50, 1_500));
    case 'late':
      return ids.slice(0, k).map((id) => valid(id, 200, 1_000, true));
    case 'invalid-approval': {
      // The invalid approval names an approver who never approves validly, so a coordinator
      // that recorded it would still show it at the end; the valid ones come after it.
      const kind = rng.pick<ApprovalKind>(['bad-signature', 'unknown-approver', 'wrong-subject']);
      const by = kind === 'unknown-approver' ? 'mallory' : (ids[k] ?? 'mallory');
      const invalid: ApprovalAction = {
        approverId: by,
        kind,
        afterMs: rng.int(20, 300),
        late: false,
      };
      return [invalid, ...ids.slice(0, k).map((id) => valid(id, 400, 1_500))];
    }
  }
}
