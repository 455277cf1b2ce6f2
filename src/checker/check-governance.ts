/**
 * Invariants of governed wallets (signing-time rules with approvals), over the same history and
 * store as I1–I6:
 *
 * - **G1** a governed session that signed had, when it signed, approvals satisfying the
 *   requirement it recorded, each a valid Ed25519 signature by a distinct listed approver over
 *   that session's subject; a request the harness knows needs k approvals signed only with k
 *   such approvals, each given by one of the run's approvers.
 * - **G2** a session the rules denied, or whose approvals timed out, never signs: not on a later
 *   attempt, not after a takeover; a request a deny rule matches, or whose approvals were
 *   withheld (fewer than k, or none), never signs.
 * - **G3** an approval timeout is reported only after the approval deadline, and no approval
 *   given after its deadline counts towards a signature.
 * - **G4** a rejected approval changes nothing: a deliberately invalid approval is never
 *   accepted, and no approval refused with APPROVAL_REJECTED is recorded.
 * - **G5** a velocity limit holds: at most `maxCount` requests of one velocity class sign.
 *
 * Times are on the harness clock; a coordinator whose wall clock a nemesis moved moves its
 * approval deadline with it, so the deadline bounds widen by that skew.
 */
import { approvalBytes, approvalVerifies } from './approval-signature.ts';
import type { FaultSchedule } from './fault-schedule.ts';
import type { GovernedRequest } from './history.ts';
import { approveOperations, type ApproveOperation, type SignOperation } from './operations.ts';
import type {
  ApproverKey,
  CheckInput,
  CheckOptions,
  GovernedMetrics,
  StoredSession,
  Violation,
} from './types.ts';

/** Runs G1–G5. Runs without governed requests or governed sessions find nothing to check. */
export function checkGovernance(
  input: CheckInput,
  ops: readonly SignOperation[],
  schedule: FaultSchedule,
  options: CheckOptions,
): Violation[] {
  const approvals = approveOperations(input.history);
  const slackMs = options.toleranceMs + coordinatorSkewMs(schedule);
  return [
    ...checkG1(input, ops, approvals),
    ...checkG2(input, ops),
    ...checkG3(input, ops, approvals, slackMs),
    ...checkG4(input, approvals),
    ...checkG5(input, ops),
  ];
}

const intentOf = (walletId: string, intentKey: string): string => `${walletId}/${intentKey}`;
const pairOf = (sessionId: string, approverId: string, signature: string): string =>
  `${sessionId}|${approverId}|${signature}`;

/** The largest wall-clock skew any nemesis gave a coordinator replica. */
function coordinatorSkewMs(schedule: FaultSchedule): number {
  let most = 0;
  for (const n of schedule.nemeses)
    for (const [node, skewMs] of Object.entries(n.value.skewMs ?? {}))
      if (node.startsWith('coordinator')) most = Math.max(most, Math.abs(skewMs));
  return most;
}

/** The approvers whose recorded approval verifies over `session`'s subject, by key lookup. */
function validApprovers(
  session: StoredSession,
  keyOf: (approverId: string) => string | undefined,
): Set<string> {
  const valid = new Set<string>();
  const policy = session.policy;
  if (!policy) return valid;
  const message = approvalBytes(session, policy.policyHash);
  for (const a of policy.approvals) {
    const key = keyOf(a.approverId);
    if (key !== undefined && approvalVerifies(key, message, a.signature)) valid.add(a.approverId);
  }
  return valid;
}

/** The key an approver of `group` has: the harness's, when the harness named its approvers. */
function groupKeyOf(
  group: { approvers: ApproverKey[] },
  harness: ReadonlyMap<string, string> | undefined,
): (approverId: string) => string | undefined {
  return (approverId) => {
    if (!group.approvers.some((a) => a.id === approverId)) return undefined;
    if (harness) return harness.get(approverId);
    return group.approvers.find((a) => a.id === approverId)?.publicKey;
  };
}

/** Requests the harness planned to need approvals: k by the session that answered them. */
function approvalsNeeded(ops: readonly SignOperation[]): Map<string, number> {
  const needed = new Map<string, number>();
  for (const op of ops) {
    const k = op.invoke.governance?.approvalsRequired;
    const sid = op.result?.sessionId;
    if (op.invoke.governance?.expected !== 'approvals' || k === undefined || sid === undefined)
      continue;
    needed.set(sid, Math.max(k, needed.get(sid) ?? 0));
  }
  return needed;
}

/** G1: every signed governed session was approved as its requirement (and the harness) says. */
function checkG1(
  input: CheckInput,
  ops: readonly SignOperation[],
  approvals: readonly ApproveOperation[],
): Violation[] {
  const out: Violation[] = [];
  const harness = input.governance
    ? new Map(input.governance.approvers.map((a) => [a.id, a.publicKey]))
    : undefined;
  const given = new Set(
    approvals.map((a) => pairOf(a.invoke.sessionId, a.invoke.approverId, a.invoke.signature)),
  );
  const needed = approvalsNeeded(ops);
  const violation = (s: StoredSession, message: string, detail: Record<string, unknown> = {}) =>
    out.push({ invariant: 'G1', message, detail: { sessionId: s.sessionId, ...detail } });
  for (const s of input.sessions) {
    if (s.signature === undefined) continue;
    const need = needed.get(s.sessionId);
    if (!s.policy) {
      if (need !== undefined) violation(s, 'signed without a recorded approval requirement');
      continue;
    }
    for (const group of s.policy.requirement.approvals) {
      const valid = validApprovers(s, groupKeyOf(group, harness));
      if (valid.size < group.k)
        violation(s, `signed with ${valid.size} valid approvals of ${group.k} required`, {
          approvers: group.approvers.map((a) => a.id),
          valid: [...valid],
        });
    }
    if (harness) {
      const valid = validApprovers(s, (id) => harness.get(id));
      if (need !== undefined && valid.size < need)
        violation(s, `signed with ${valid.size} valid approvals; the rules require ${need}`);
      for (const a of s.policy.approvals)
        if (valid.has(a.approverId) && !given.has(pairOf(s.sessionId, a.approverId, a.signature)))
          violation(s, 'counted an approval no approver gave', { approverId: a.approverId });
    }
  }
  return out;
}

/** Every signature the run produced: sessions and intents of ok answers and of the store. */
function signedSet(input: CheckInput, ops: readonly SignOperation[]) {
  const sessions = new Set<string>();
  const intents = new Set<string>();
  for (const op of ops) {
    if (op.type !== 'ok') continue;
    if (op.result?.sessionId !== undefined) sessions.add(op.result.sessionId);
    intents.add(intentOf(op.invoke.walletId, op.invoke.intentKey));
  }
  for (const s of input.sessions) {
    if (s.signature === undefined) continue;
    sessions.add(s.sessionId);
    intents.add(intentOf(s.walletId, s.intentKey));
  }
  return { sessions, intents };
}

/**
 * True for a governed request that must never sign, whatever else happens. Not `late`: the
 * approval deadline is an instant on the coordinator's wall clock, so a coordinator whose clock
 * jumps back gives approvers more time than the harness planned; G3 judges late approvals.
 */
const neverSigns = (g: GovernedRequest | undefined): boolean =>
  g !== undefined &&
  (g.expected === 'deny' || g.approvalPlan === 'too-few' || g.approvalPlan === 'none');

/** G2: denied or timed-out sessions, and requests planned never to sign, never sign. */
function checkG2(input: CheckInput, ops: readonly SignOperation[]): Violation[] {
  const out: Violation[] = [];
  const signed = signedSet(input, ops);
  const refusedSessions = new Map<string, string>();
  const mustNotSign = new Map<string, string>();
  for (const op of ops) {
    const code = op.result?.code;
    const sid = op.result?.sessionId;
    const refused = code === 'QUORATE_E_POLICY_DENIED' || code === 'QUORATE_E_APPROVAL_TIMEOUT';
    if (op.type === 'fail' && refused && sid !== undefined) refusedSessions.set(sid, code);
    if (neverSigns(op.invoke.governance))
      mustNotSign.set(intentOf(op.invoke.walletId, op.invoke.intentKey), op.invoke.requestId);
  }
  for (const [sessionId, code] of refusedSessions)
    if (signed.sessions.has(sessionId))
      out.push({
        invariant: 'G2',
        message: `a session answered ${code} signed`,
        detail: { sessionId, code },
      });
  for (const [intent, requestId] of mustNotSign)
    if (signed.intents.has(intent))
      out.push({
        invariant: 'G2',
        message: 'a request the rules deny, or whose approvals were withheld, signed',
        detail: { intent, requestId },
      });
  return out;
}

/** G3: timeouts only after the approval window; approvals after the deadline never count. */
function checkG3(
  input: CheckInput,
  ops: readonly SignOperation[],
  approvals: readonly ApproveOperation[],
  slackMs: number,
): Violation[] {
  const out: Violation[] = [];
  const windowMs = input.governance?.approvalWindowMs;
  // The session of an intent opens no earlier than the intent's first invoke.
  const firstInvokeMs = new Map<string, number>();
  for (const op of ops) {
    const intent = intentOf(op.invoke.walletId, op.invoke.intentKey);
    firstInvokeMs.set(intent, Math.min(op.invokeMs, firstInvokeMs.get(intent) ?? Infinity));
  }
  for (const op of ops) {
    if (windowMs === undefined || op.type !== 'fail') continue;
    if (op.result?.code !== 'QUORATE_E_APPROVAL_TIMEOUT' || op.completeMs === undefined) continue;
    const first = firstInvokeMs.get(intentOf(op.invoke.walletId, op.invoke.intentKey)) ?? 0;
    if (op.completeMs < first + windowMs - slackMs)
      out.push({
        invariant: 'G3',
        message: 'approval timeout reported before the approval window could have closed',
        detail: {
          requestId: op.invoke.requestId,
          completeMs: op.completeMs,
          boundMs: first + windowMs - slackMs,
        },
      });
  }
  for (const s of input.sessions) {
    if (s.signature === undefined || !s.policy) continue;
    for (const a of s.policy.approvals) {
      const tries = approvals.filter(
        (o) =>
          o.invoke.sessionId === s.sessionId &&
          o.invoke.approverId === a.approverId &&
          o.invoke.signature === a.signature,
      );
      const late = (o: ApproveOperation) =>
        o.invoke.approvalDeadlineAtMs !== undefined &&
        o.invokeMs > o.invoke.approvalDeadlineAtMs + slackMs;
      if (tries.length > 0 && tries.every(late))
        out.push({
          invariant: 'G3',
          message: 'an approval given after the approval deadline counted towards a signature',
          detail: { sessionId: s.sessionId, approverId: a.approverId },
        });
    }
  }
  return out;
}

/** G4: invalid approvals are never accepted; approvals refused are never recorded. */
function checkG4(input: CheckInput, approvals: readonly ApproveOperation[]): Violation[] {
  const out: Violation[] = [];
  const tries = new Map<string, ApproveOperation[]>();
  for (const o of approvals) {
    if (!o.invoke.valid && o.type === 'ok')
      out.push({
        invariant: 'G4',
        message: 'an invalid approval was accepted',
        detail: { sessionId: o.invoke.sessionId, approverId: o.invoke.approverId },
      });
    const key = pairOf(o.invoke.sessionId, o.invoke.approverId, o.invoke.signature);
    tries.set(key, [...(tries.get(key) ?? []), o]);
  }
  const refused = (o: ApproveOperation) =>
    o.type === 'fail' && o.result?.code === 'QUORATE_E_APPROVAL_REJECTED';
  for (const s of input.sessions) {
    for (const a of s.policy?.approvals ?? []) {
      const given = tries.get(pairOf(s.sessionId, a.approverId, a.signature)) ?? [];
      const invalid = given.some((o) => !o.invoke.valid);
      if (invalid || (given.length > 0 && given.every(refused)))
        out.push({
          invariant: 'G4',
          message: invalid
            ? 'a deliberately invalid approval is recorded'
            : 'an approval refused with APPROVAL_REJECTED is recorded',
          detail: { sessionId: s.sessionId, approverId: a.approverId },
        });
    }
  }
  return out;
}

/** G5: per velocity class, no more intents signed than the limit allows. */
function checkG5(input: CheckInput, ops: readonly SignOperation[]): Violation[] {
  const signed = signedSet(input, ops);
  const classes = new Map<string, { maxCount: number; intents: Set<string> }>();
  for (const op of ops) {
    const velocity = op.invoke.governance?.velocity;
    if (!velocity) continue;
    const key = `${op.invoke.walletId}/${velocity.key}`;
    const c = classes.get(key) ?? { maxCount: velocity.maxCount, intents: new Set<string>() };
    const intent = intentOf(op.invoke.walletId, op.invoke.intentKey);
    if (signed.intents.has(intent)) c.intents.add(intent);
    classes.set(key, c);
  }
  return [...classes]
    .filter(([, c]) => c.intents.size > c.maxCount)
    .map(([key, c]) => ({
      invariant: 'G5' as const,
      message: `${c.intents.size} requests of one velocity class signed; the limit is ${c.maxCount}`,
      detail: { velocityClass: key, intents: [...c.intents] },
    }));
}

/** Counts what became of the governed requests and how many approvals were refused. */
export function governedMetrics(
  history: CheckInput['history'],
  ops: readonly SignOperation[],
): GovernedMetrics {
  const last = new Map<string, SignOperation>();
  for (const op of ops) if (op.invoke.governance) last.set(op.invoke.requestId, op);
  const ended = [...last.values()];
  const failedWith = (code: string) =>
    ended.filter((op) => op.type === 'fail' && op.result?.code === code).length;
  return {
    requests: ended.length,
    signed: ended.filter((op) => op.type === 'ok').length,
    denied: failedWith('QUORATE_E_POLICY_DENIED'),
    timedOut: failedWith('QUORATE_E_APPROVAL_TIMEOUT'),
    approvalsRejected: approveOperations(history).filter(
      (o) => o.type === 'fail' && o.result?.code === 'QUORATE_E_APPROVAL_REJECTED',
    ).length,
  };
}
