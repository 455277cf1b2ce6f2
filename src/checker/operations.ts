/**
 * Client operations read back from a history: each invoke paired with the completion that
 * followed it on the same process (one operation in flight per process), for signing requests
 * and for approvals. What counts as serving a request lives here too, so the checker's metrics
 * and the per-window figures agree.
 */
import type {
  ApproveCompletion,
  ApproveInvoke,
  HistoryEvent,
  SignCompletion,
  SignInvoke,
} from './history.ts';

/** One client operation: its invoke and its completion (if any). */
export interface Operation<I, C> {
  process: string;
  invokeMs: number;
  invoke: I;
  completeMs?: number;
  type?: 'ok' | 'fail' | 'info';
  result?: C;
}

/** A signing request's try. */
export type SignOperation = Operation<SignInvoke, SignCompletion>;

/** One try of an approval. */
export type ApproveOperation = Operation<ApproveInvoke, ApproveCompletion>;

/** What one history event means for operations of one kind: an invoke, a completion, neither. */
type Step<I, C> = { invoke: I } | { type: 'ok' | 'fail' | 'info'; result: C } | undefined;

/** Pairs invokes with the completion that follows on the same process. */
function pair<I, C>(
  history: readonly HistoryEvent[],
  read: (e: HistoryEvent) => Step<I, C>,
): Operation<I, C>[] {
  const pending = new Map<string, Operation<I, C>>();
  const ops: Operation<I, C>[] = [];
  for (const e of history) {
    const step = read(e);
    if (step === undefined) continue;
    if ('invoke' in step) {
      const op: Operation<I, C> = { process: e.process, invokeMs: e.timeMs, invoke: step.invoke };
      pending.set(e.process, op);
      ops.push(op);
      continue;
    }
    const op = pending.get(e.process);
    if (!op) continue;
    pending.delete(e.process);
    op.completeMs = e.timeMs;
    op.type = step.type;
    op.result = step.result;
  }
  return ops;
}

/** Pairs signing invokes with completions per process (one op in flight per process). */
export function operations(history: readonly HistoryEvent[]): SignOperation[] {
  return pair(history, (e): Step<SignInvoke, SignCompletion> => {
    if (e.f !== 'sign') return undefined;
    return e.type === 'invoke' ? { invoke: e.value } : { type: e.type, result: e.value };
  });
}

/** Pairs approval invokes with their answers per process. */
export function approveOperations(history: readonly HistoryEvent[]): ApproveOperation[] {
  return pair(history, (e): Step<ApproveInvoke, ApproveCompletion> => {
    if (e.f !== 'approve') return undefined;
    return e.type === 'invoke' ? { invoke: e.value } : { type: e.type, result: e.value };
  });
}

/**
 * True for a governed refusal the request was planned to get: POLICY_DENIED for a request a
 * deny rule or a velocity limit refuses, APPROVAL_TIMEOUT for one whose approvals were withheld.
 */
export function expectedRefusal(invoke: SignInvoke, code: string | undefined): boolean {
  const g = invoke.governance;
  if (g === undefined) return false;
  if (code === 'QUORATE_E_POLICY_DENIED') return g.expected === 'deny' || g.expected === 'metered';
  if (code === 'QUORATE_E_APPROVAL_TIMEOUT')
    return g.approvalPlan === 'too-few' || g.approvalPlan === 'late' || g.approvalPlan === 'none';
  return false;
}

/**
 * A try served its request if it signed, or gave the answer the request asked for: an intent
 * conflict (the intent was asked with another message), a taken account nonce (a transaction
 * whose nonce another transaction holds; N1 checks that the holder is the only content signed)
 * or a planned governed refusal.
 */
export function serves(op: Pick<SignOperation, 'type' | 'result' | 'invoke'>): boolean {
  if (op.type === 'ok') return true;
  if (op.type !== 'fail') return false;
  const code = op.result?.code;
  return (
    code === 'QUORATE_E_INTENT_CONFLICT' ||
    (code === 'QUORATE_E_NONCE_TAKEN' && op.invoke.transaction !== undefined) ||
    expectedRefusal(op.invoke, code)
  );
}
