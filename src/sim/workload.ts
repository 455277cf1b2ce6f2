/**
 * The client side: concurrent signing requests, including repeated intentKeys with the same
 * message (idempotent joins) and with a different message (must be refused). Each logical
 * request is one client process; a try whose coordinator died under it is recorded `info` and
 * retried with the same intent and message once the coordinator is back. A try answered with
 * a retryable failure (QUORUM_UNAVAILABLE, DEADLINE_EXCEEDED, …) is retried too, as a real
 * client would: the coordinator reopens the failed session for a new try (I1 must hold).
 * A request on a governed wallet carries its context; while its session waits for approvals
 * the client hands it to the approvers (approvers.ts) and polls until it is terminal.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { errorTable, isErrorCode, QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { lastTokenOf, type SignCompletion } from '../checker/history.ts';
import type { SessionRecord } from '../session/record.ts';
import type { Approvers } from './approvers.ts';
import type { SimCluster } from './cluster.ts';
import type { EvmTransaction } from '../protocol/evm-transaction.ts';
import type { GovernedPlan } from './governed-workload.ts';
import type { HistoryRecorder } from './history-recorder.ts';
import type { Scheduler } from './scheduler.ts';
import type { SeededRandom } from '../core/seeded-random.ts';
import { TriesInFlight } from './tries-in-flight.ts';

/** One logical request. */
export interface RequestPlan {
  requestId: string;
  /** The wallet asked (default: the workload's wallet). */
  walletId?: string;
  atMs: number;
  intentKey: string;
  messageHex: string;
  deadlineMs: number;
  /** Present on a governed wallet: the request's context, expectation and approvals. */
  governed?: GovernedPlan;
  /** An EVM transaction (ecdsa runs): sent instead of the message, which is its digest. */
  transaction?: EvmTransaction;
}

/** Plans `count` requests over [fromMs, toMs]. */
export function planRequests(
  rng: SeededRandom,
  count: number,
  fromMs: number,
  toMs: number,
): RequestPlan[] {
  const plans: RequestPlan[] = [];
  for (let i = 0; i < count; i++) {
    const previous = plans.length > 0 ? rng.pick(plans) : undefined;
    const roll = rng.unit();
    const fresh = { intentKey: `intent-${i}`, messageHex: bytesToHex(rng.bytes(32)) };
    const shape =
      previous && roll < 0.2
        ? { intentKey: previous.intentKey, messageHex: previous.messageHex }
        : previous && roll < 0.35
          ? { intentKey: previous.intentKey, messageHex: bytesToHex(rng.bytes(32)) }
          : fresh;
    plans.push({
      requestId: `r${i}`,
      atMs: rng.int(fromMs, toMs),
      ...shape,
      deadlineMs: rng.int(4, 8) * 1_000,
    });
  }
  return plans;
}

const retryDelayMs = 500;
/** A retryable failure is asked again this much later, at most `limits.simFailedRetriesMax` times. */
const failedRetryDelayMs = 1_500;
/**
 * A session waiting for approvals is polled this often, at most `limits.simAwaitingPollsMax` times per
 * try: 60 s, more than an approval window plus the longest signing deadline.
 */
const awaitingPollMs = 100;

/** True while a session waits for approvals (a `pending` record with a reason). */
export const awaitingApprovals = (record: SessionRecord): boolean =>
  record.status === 'pending' && record.pendingReason !== undefined;

/** Drives the requests against whatever coordinator process is current. */
export class Workload {
  /** In-flight tries: the replica each one talks to, and how to abandon it. */
  private readonly inFlight: TriesInFlight;
  private running = 0;
  private readonly deadlines = new Map<string, number>();
  /** Retryable failures asked again, per logical request. */
  private readonly failedRetries = new Map<string, number>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly cluster: SimCluster,
    private readonly history: HistoryRecorder,
    private readonly walletId: string,
    /** The approvers of a governed run (absent: no governed wallet). */
    private readonly approvers?: Approvers,
  ) {
    this.inFlight = new TriesInFlight(cluster);
  }

  /** Number of logical requests not yet finished. */
  get active(): number {
    return this.running;
  }

  /** Schedules a request. */
  submit(plan: RequestPlan): void {
    this.running += 1;
    this.scheduler.schedule(plan.atMs - this.scheduler.nowMs, () => this.attempt(plan, 0));
  }

  private attempt(plan: RequestPlan, tryNo: number): void {
    const process = `client-${plan.requestId}`;
    this.history.add({
      process,
      type: 'invoke',
      f: 'sign',
      value: {
        requestId: plan.requestId,
        walletId: plan.walletId ?? this.walletId,
        intentKey: plan.intentKey,
        messageHex: plan.messageHex,
        deadlineMs: plan.deadlineMs,
        try: tryNo,
        ...(plan.governed ? { governance: plan.governed.governance } : {}),
        ...(plan.transaction ? { transaction: plan.transaction } : {}),
      },
    });
    // A retrying client tries the next running replica (with one replica: always the same).
    const target = this.cluster.coordinatorFor(tryNo);
    const complete = (type: 'ok' | 'fail' | 'info', value: Omit<SignCompletion, 'requestId'>) => {
      this.inFlight.end(process);
      this.history.add({
        process,
        type,
        f: 'sign',
        value: { requestId: plan.requestId, ...value },
      });
    };
    const retry = (reason: string, type: 'fail' | 'info') => {
      complete(type, { code: 'CLIENT_E_UNREACHABLE', reason });
      if (tryNo + 1 >= limits.simRequestRetriesMax) this.running -= 1;
      else this.scheduler.schedule(retryDelayMs, () => this.attempt(plan, tryNo + 1));
    };
    if (!target) {
      retry('coordinator not running', 'fail');
      return;
    }
    const abandoned = this.inFlight.start(process, target.index, () =>
      retry('coordinator died during the request', 'info'),
    );
    void this.call(plan, target.coordinator).then((result) => {
      if (abandoned()) return;
      if (result.type === 'replica-lost') {
        // This replica lost its store lease (or its store): another replica can serve.
        this.inFlight.end(process);
        retry(`replica answered ${result.code}`, 'info');
        return;
      }
      complete(result.type, result.value);
      const failedRetries = this.failedRetries.get(plan.requestId) ?? 0;
      const again =
        result.type === 'fail' &&
        result.value.retryable === true &&
        failedRetries < limits.simFailedRetriesMax &&
        tryNo + 1 < limits.simRequestRetriesMax;
      if (!again) {
        this.running -= 1;
        return;
      }
      this.failedRetries.set(plan.requestId, failedRetries + 1);
      this.scheduler.schedule(failedRetryDelayMs, () => this.attempt(plan, tryNo + 1));
    });
  }

  private async call(
    plan: RequestPlan,
    coordinator: NonNullable<SimCluster['coordinator']>,
  ): Promise<
    | { type: 'ok' | 'fail'; value: Omit<SignCompletion, 'requestId'> }
    | { type: 'replica-lost'; code: string }
  > {
    const env = this.cluster.coordinatorNode.env();
    let record: SessionRecord;
    try {
      record = await coordinator.sign(plan.walletId ?? this.walletId, {
        messageHex: plan.messageHex,
        intentKey: plan.intentKey,
        deadlineMs: plan.deadlineMs,
        ...(plan.governed ? { context: plan.governed.governance.context } : {}),
        ...(plan.transaction ? { transaction: plan.transaction } : {}),
      });
    } catch (error) {
      if (replicaLost(error)) return { type: 'replica-lost', code: error.code };
      return { type: 'fail', value: errorValue(error) };
    }
    // The session deadline on the harness clock (the coordinator's wall clock may be skewed).
    const remainingMs = record.deadlineMs - env.nowMs();
    const sessionDeadlineAtMs = this.deadlineAt(record, env.nowMs());
    let final: SessionRecord;
    try {
      final = await coordinator.waitForSession(record.sessionId, Math.max(0, remainingMs) + 1);
      if (awaitingApprovals(final)) final = await this.awaitApprovals(plan, coordinator, final);
    } catch (error) {
      if (replicaLost(error)) return { type: 'replica-lost', code: error.code };
      return { type: 'fail', value: { ...errorValue(error), sessionId: record.sessionId } };
    }
    return this.answer(record, final, sessionDeadlineAtMs, env.nowMs());
  }

  /**
   * A session waiting for approvals: hand it to the approvers, then poll (a short wait answers
   * at once while approvals are missing) until it stops waiting and the wait for its signing
   * ends, bounded by `limits.simAwaitingPollsMax`.
   */
  private async awaitApprovals(
    plan: RequestPlan,
    coordinator: NonNullable<SimCluster['coordinator']>,
    awaiting: SessionRecord,
  ): Promise<SessionRecord> {
    const env = this.cluster.coordinatorNode.env();
    let record = awaiting;
    for (let i = 0; i < limits.simAwaitingPollsMax && awaitingApprovals(record); i++) {
      const approvalDeadlineMs = record.policy?.approvalDeadlineMs;
      this.approvers?.onAwaiting(
        plan,
        record,
        approvalDeadlineMs === undefined
          ? undefined
          : this.scheduler.nowMs + (approvalDeadlineMs - env.nowMs()),
      );
      await new Promise<void>((resolve) => this.scheduler.schedule(awaitingPollMs, resolve));
      const remainingMs = record.deadlineMs - env.nowMs();
      record = await coordinator.waitForSession(record.sessionId, Math.max(0, remainingMs) + 1);
    }
    return record;
  }

  /** What the client saw: the final record of the try it waited on. */
  private answer(
    record: SessionRecord,
    final: SessionRecord,
    sessionDeadlineAtMs: number,
    coordinatorNowMs: number,
  ): { type: 'ok' | 'fail'; value: Omit<SignCompletion, 'requestId'> } {
    // The answer's deadline is that of the try it reports (another request may have reopened
    // the session meanwhile), and its last token tells the checker which try that was.
    const finalDeadlineAtMs =
      final.deadlineMs === record.deadlineMs
        ? sessionDeadlineAtMs
        : this.deadlineAt(final, coordinatorNowMs);
    const lastToken = lastTokenOf(final.attempts);
    const base = { sessionId: final.sessionId, sessionDeadlineAtMs: finalDeadlineAtMs, lastToken };
    if (final.status === 'signed' && final.signature !== undefined)
      return {
        type: 'ok',
        value: { ...base, signature: final.signature, signers: final.signers ?? [] },
      };
    if (final.status === 'failed' && final.error) {
      const code = final.error.code;
      return {
        type: 'fail',
        value: { ...base, code, retryable: errorTable[code].retryable, detail: final.error.detail },
      };
    }
    // Our try failed and another request's retry reopened the session: answer that failure
    // (the record keeps its code), as the HTTP API's 202 for the new try says. Its deadline
    // and last token are those of the try that failed, not of the new one.
    const retry = final.retry;
    if (retry !== undefined && retry.count > (record.retry?.count ?? 0)) {
      const failedTry = final.attempts.filter((a) => a.attempt < retry.fromAttempt);
      const code = retry.previousError.code;
      return {
        type: 'fail',
        value: {
          sessionId: final.sessionId,
          sessionDeadlineAtMs,
          lastToken: lastTokenOf(failedTry),
          code,
          retryable: errorTable[code].retryable,
        },
      };
    }
    return { type: 'fail', value: { ...base, code: 'CLIENT_E_NOT_TERMINAL' } };
  }

  /** A session try's deadline on the harness clock, one entry per try (joins share it). */
  private deadlineAt(record: SessionRecord, coordinatorNowMs: number): number {
    const tryKey = `${record.sessionId}@${record.deadlineMs}`;
    const known = this.deadlines.get(tryKey);
    const atMs = known ?? this.scheduler.nowMs + (record.deadlineMs - coordinatorNowMs);
    this.deadlines.set(tryKey, atMs);
    return atMs;
  }
}

/** An answer that says "this replica cannot serve; another can": the client retries. */
function replicaLost(error: unknown): error is QuorateError {
  return (
    error instanceof QuorateError &&
    (error.code === 'QUORATE_E_NOT_OWNER' || error.code === 'QUORATE_E_STORE_UNAVAILABLE')
  );
}

function errorValue(error: unknown): Omit<SignCompletion, 'requestId'> {
  if (error instanceof QuorateError && isErrorCode(error.code))
    return { code: error.code, retryable: errorTable[error.code].retryable, detail: error.detail };
  return { code: 'CLIENT_E_EXCEPTION', reason: String(error) };
}
