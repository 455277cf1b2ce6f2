/**
 * The approvers of a governed run: people with Ed25519 keys who approve a session once its
 * client shows it waiting for approvals. Each approval is its own client process in the history
 * (`f: 'approve'`): it is posted to whatever coordinator replica is running, and tried again,
 * bounded, when no replica answers (crashed, lost its lease or its store), exactly as the
 * signing clients do; the approval it posts is the same bytes on every try.
 *
 * Approvers sign what they themselves know about the request (wallet, intent, sha256 of the
 * message, context, the policy hash of the deployment), not what the coordinator shows them.
 */
import { limits } from '../core/limits.ts';
import { hexToBytes } from '@noble/hashes/utils.js';
import { assert } from '../core/assert.ts';
import { sha256Hex } from '../core/encoding.ts';
import { errorTable, isErrorCode, QuorateError } from '../core/errors.ts';
import { signApproval, type ApprovalSubject } from '../policy/rules/index.ts';
import type { SessionRecord } from '../session/record.ts';
import type { SimCluster } from './cluster.ts';
import type { SimGovernance } from './governed-policy.ts';
import type { ApprovalAction } from './governed-workload.ts';
import type { HistoryRecorder } from './history-recorder.ts';
import type { Scheduler } from './scheduler.ts';
import type { SeededRandom } from '../core/seeded-random.ts';
import { TriesInFlight } from './tries-in-flight.ts';
import type { RequestPlan } from './workload.ts';

/** One approval to post: who, with what signature, for which session. */
interface Posting {
  plan: RequestPlan;
  sessionId: string;
  approverId: string;
  signature: string;
  valid: boolean;
  approvalDeadlineAtMs?: number;
  process: string;
}

/** Posts the approvals of a governed run's requests. */
export class Approvers {
  /** Sessions whose approvals are planned already (joins and retries see the same session). */
  private readonly planned = new Set<string>();
  /** In-flight posts: the replica each one talks to, and how to abandon it. */
  private readonly inFlight: TriesInFlight;
  private running = 0;
  /** A key no approver of the policy holds (an impostor's). */
  private readonly strangerKey: Uint8Array;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly cluster: SimCluster,
    private readonly history: HistoryRecorder,
    private readonly governance: SimGovernance,
    rng: SeededRandom,
  ) {
    this.strangerKey = rng.bytes(32);
    this.inFlight = new TriesInFlight(cluster);
  }

  /** Approvals scheduled or in flight. */
  get active(): number {
    return this.running;
  }

  /**
   * The client of `plan` saw its session waiting for approvals: schedule the plan's approvals
   * (once per session). `approvalDeadlineAtMs` is the approval deadline on the harness clock.
   */
  onAwaiting(plan: RequestPlan, record: SessionRecord, approvalDeadlineAtMs?: number): void {
    const actions = plan.governed?.approvals ?? [];
    if (this.planned.has(record.sessionId) || actions.length === 0) return;
    this.planned.add(record.sessionId);
    for (const [i, action] of actions.entries()) {
      const posting: Posting = {
        plan,
        sessionId: record.sessionId,
        approverId: action.approverId,
        signature: this.signatureFor(plan, record.sessionId, action),
        valid: action.kind === 'valid',
        ...(approvalDeadlineAtMs === undefined ? {} : { approvalDeadlineAtMs }),
        process: `approver-${action.approverId}-${plan.requestId}-${i}`,
      };
      const atMs =
        action.late && approvalDeadlineAtMs !== undefined
          ? approvalDeadlineAtMs + action.afterMs
          : this.scheduler.nowMs + action.afterMs;
      this.running += 1;
      this.scheduler.schedule(atMs - this.scheduler.nowMs, () => this.post(posting, 0));
    }
  }

  /** The signature an action posts: valid, or invalid in the way the action names. */
  private signatureFor(plan: RequestPlan, sessionId: string, action: ApprovalAction): string {
    assert(plan.walletId !== undefined, 'a governed request names its wallet');
    const subject: ApprovalSubject = {
      sessionId,
      walletId: plan.walletId,
      intentKey: plan.intentKey,
      messageHash: sha256Hex(hexToBytes(plan.messageHex)),
      context: plan.governed?.governance.context ?? {},
      policyHash: this.governance.policy.policyHash,
    };
    const own = this.governance.approvers.find((a) => a.id === action.approverId);
    switch (action.kind) {
      case 'valid':
        return signApproval(subject, own?.secretKey ?? this.strangerKey);
      case 'bad-signature':
      case 'unknown-approver':
        return signApproval(subject, this.strangerKey);
      case 'wrong-subject':
        return signApproval(
          { ...subject, intentKey: `${subject.intentKey}-other` },
          own?.secretKey ?? this.strangerKey,
        );
    }
  }

  private post(posting: Posting, tryNo: number): void {
    const { process, plan, sessionId, approverId } = posting;
    this.history.add({
      process,
      type: 'invoke',
      f: 'approve',
      value: {
        requestId: plan.requestId,
        sessionId,
        approverId,
        signature: posting.signature,
        valid: posting.valid,
        ...(posting.approvalDeadlineAtMs === undefined
          ? {}
          : { approvalDeadlineAtMs: posting.approvalDeadlineAtMs }),
        try: tryNo,
      },
    });
    const complete = (type: 'ok' | 'fail' | 'info', code?: string, reason?: string) => {
      this.inFlight.end(process);
      const value = { requestId: plan.requestId, sessionId, approverId };
      this.history.add({
        process,
        type,
        f: 'approve',
        value: {
          ...value,
          ...(code === undefined ? {} : { code }),
          ...(reason === undefined ? {} : { reason }),
        },
      });
    };
    const again = () => {
      if (tryNo + 1 >= limits.simApproveTriesMax) this.running -= 1;
      else
        this.scheduler.schedule(limits.simApproveRetryDelayMs, () => this.post(posting, tryNo + 1));
    };
    const target = this.cluster.coordinatorFor(tryNo);
    if (!target) {
      complete('fail', 'CLIENT_E_UNREACHABLE', 'coordinator not running');
      again();
      return;
    }
    const abandoned = this.inFlight.start(process, target.index, () => {
      complete('info', 'CLIENT_E_UNREACHABLE', 'coordinator died during the approval');
      again();
    });
    const approval = { approverId, signature: posting.signature };
    void target.coordinator.approve(sessionId, approval).then(
      () => {
        if (abandoned()) return;
        complete('ok');
        this.running -= 1;
      },
      (error: unknown) => {
        if (abandoned()) return;
        const code = codeOf(error);
        // No replica could take it (lease or store lost): another try, maybe on another one.
        const retry = code === undefined || errorTable[code].retryable || replicaLost(code);
        complete(retry ? 'info' : 'fail', code ?? 'CLIENT_E_EXCEPTION', String(error));
        if (retry) again();
        else this.running -= 1;
      },
    );
  }
}

function codeOf(error: unknown): keyof typeof errorTable | undefined {
  return error instanceof QuorateError && isErrorCode(error.code) ? error.code : undefined;
}

const replicaLost = (code: string): boolean =>
  code === 'QUORATE_E_NOT_OWNER' || code === 'QUORATE_E_STORE_UNAVAILABLE';
