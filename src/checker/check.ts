/**
 * The one checker: safety invariants I1–I6 of ARCHITECTURE §4 over a history, the parties'
 * journals, state observations and the store, the governed-wallet invariants G1–G5
 * (check-governance.ts), one transaction per account nonce N1 (check-nonces.ts), plus availability, detection, fail-fast and recovery measurements.
 * Pure: the simulator and the chaos harness both feed it.
 */
import { checkEpochs } from './check-epochs.ts';
import { hexToBytes } from '@noble/hashes/utils.js';
import { coordinatorEngines as engines } from '../protocol/engines.ts';
import { checkGovernance, governedMetrics } from './check-governance.ts';
import { checkNonceSlots } from './check-nonces.ts';
import { faultSchedule, reachableThroughout, type FaultSchedule } from './fault-schedule.ts';
import type { HistoryEvent } from './history.ts';
import {
  expectedRefusal,
  operations,
  serves,
  type SignOperation as Operation,
} from './operations.ts';
import type {
  CheckInput,
  CheckOptions,
  CheckReport,
  RunMetrics,
  Violation,
  WalletFacts,
} from './types.ts';

/** Defaults matching limits.ts (cleanup 5 s, party TTL 65 s) and the users' 10 s detection bound. */
export const defaultCheckOptions: CheckOptions = {
  toleranceMs: 0,
  cleanupMs: 5_000,
  reachableWindowMs: 10_000,
  partyTtlMs: 65_000,
};

export { operations };

/** Runs every check. */
export function checkRun(
  input: CheckInput,
  options: CheckOptions = defaultCheckOptions,
): CheckReport {
  const ops = operations(input.history);
  const schedule = faultSchedule(input.history);
  const violations: Violation[] = [
    ...checkI1(input, ops),
    ...checkI2(input),
    ...checkI3(input),
    ...checkI4(input, ops),
    ...checkI5(input, ops, schedule, options),
    ...checkI6(input, ops, schedule, options),
    ...checkGovernance(input, ops, schedule, options),
    ...checkNonceSlots(input),
    ...(input.lifecycle ?? []).flatMap((facts) => checkEpochs(facts, schedule, options)),
  ];
  return { violations, metrics: measure(input, ops, schedule) };
}

const walletOf = (input: CheckInput, walletId: string): WalletFacts | undefined =>
  input.wallets.find((w) => w.walletId === walletId);

/** I1: at most one distinct signature per (wallet, intentKey), in the history and the store. */
function checkI1(input: CheckInput, ops: readonly Operation[]): Violation[] {
  const out: Violation[] = [];
  const seen = new Map<string, Set<string>>();
  const messages = new Map<string, Set<string>>();
  const note = (walletId: string, intentKey: string, signature: string) => {
    const key = `${walletId}/${intentKey}`;
    const set = seen.get(key) ?? new Set<string>();
    set.add(signature);
    seen.set(key, set);
  };
  for (const op of ops) {
    const key = `${op.invoke.walletId}/${op.invoke.intentKey}`;
    const set = messages.get(key) ?? new Set<string>();
    set.add(op.invoke.messageHex);
    messages.set(key, set);
    if (op.type === 'ok' && op.result?.signature !== undefined)
      note(op.invoke.walletId, op.invoke.intentKey, op.result.signature);
  }
  for (const s of input.sessions)
    if (s.signature !== undefined) note(s.walletId, s.intentKey, s.signature);
  for (const [key, set] of seen) {
    if (set.size > 1)
      out.push({
        invariant: 'I1',
        message: `${set.size} distinct signatures for one intent`,
        detail: { intent: key, signatures: [...set] },
      });
  }
  // INTENT_CONFLICT is only a correct answer if the intent was asked with another message.
  for (const op of ops) {
    if (op.type !== 'fail' || op.result?.code !== 'QUORATE_E_INTENT_CONFLICT') continue;
    const key = `${op.invoke.walletId}/${op.invoke.intentKey}`;
    if ((messages.get(key)?.size ?? 0) < 2)
      out.push({
        invariant: 'INTENT',
        message: 'intent conflict reported but only one message was ever requested',
        detail: { intent: key, requestId: op.invoke.requestId },
      });
  }
  return out;
}

/** I2: no nonce commitment consumed twice, within or across parties' journals. */
function checkI2(input: CheckInput): Violation[] {
  const out: Violation[] = [];
  const consumedBy = new Map<string, string[]>();
  for (const j of input.journals) {
    for (const n of j.nonces) {
      if (n.state !== 'consumed') continue;
      const list = consumedBy.get(n.commitment) ?? [];
      list.push(j.partyId);
      consumedBy.set(n.commitment, list);
    }
    // The op log catches a journal that let one commitment be consumed twice over time.
    const okConsumes = new Map<string, number>();
    for (const op of j.ops ?? []) {
      if (op.op !== 'consume' || !op.ok) continue;
      okConsumes.set(op.commitment, (okConsumes.get(op.commitment) ?? 0) + 1);
    }
    for (const [commitment, count] of okConsumes) {
      if (count > 1)
        out.push({
          invariant: 'I2',
          message: 'a nonce was consumed more than once by one party',
          detail: { partyId: j.partyId, commitment, count },
        });
    }
  }
  for (const [commitment, parties] of consumedBy) {
    if (parties.length > 1)
      out.push({
        invariant: 'I2',
        message: 'one nonce commitment consumed more than once',
        detail: { commitment, parties },
      });
  }
  return out;
}

/**
 * I3: replaying each party's journal log in order, no action (nonce issued, nonce consumed,
 * token accepted) ever used a token lower than the highest already seen for that session.
 */
function checkI3(input: CheckInput): Violation[] {
  const out: Violation[] = [];
  for (const j of input.journals) {
    const highest = new Map<string, number>();
    for (const op of j.ops ?? []) {
      if (op.op === 'open' || op.op === 'discard') continue;
      const seen = highest.get(op.sessionId) ?? 0;
      // A refused action (ok false) acted on nothing.
      if (op.ok && op.token < seen)
        out.push({
          invariant: 'I3',
          message: `party acted on token ${op.token} after seeing ${seen}`,
          detail: { partyId: j.partyId, op: op.op, sessionId: op.sessionId, atMs: op.atMs },
        });
      if (op.op === 'observe') highest.set(op.sessionId, Math.max(seen, op.token));
    }
  }
  return out;
}

/** I4: every returned signature verifies under the wallet key (by the engine's verifier). */
function checkI4(input: CheckInput, ops: readonly Operation[]): Violation[] {
  const out: Violation[] = [];
  for (const op of ops) {
    if (op.type !== 'ok') continue;
    const wallet = walletOf(input, op.invoke.walletId);
    const sig = op.result?.signature;
    let ok = false;
    try {
      ok =
        wallet !== undefined &&
        sig !== undefined &&
        engines[wallet.scheme].verify(
          hexToBytes(sig),
          hexToBytes(op.invoke.messageHex),
          hexToBytes(wallet.publicKey),
        );
    } catch {
      ok = false;
    }
    if (!ok)
      out.push({
        invariant: 'I4',
        message: 'returned signature does not verify under the wallet key',
        detail: { requestId: op.invoke.requestId, signature: sig ?? null },
      });
  }
  return out;
}

/**
 * I5: every request terminal by its session deadline (or at once if the deadline already
 * passed when it was asked); QUORUM_UNAVAILABLE only if fewer than t parties were reachable.
 * `info` (the coordinator died under the request) is exempt: the client retries.
 */
function checkI5(
  input: CheckInput,
  ops: readonly Operation[],
  schedule: FaultSchedule,
  options: CheckOptions,
): Violation[] {
  const out: Violation[] = [];
  for (const op of ops) {
    const id = op.invoke.requestId;
    if (op.type === undefined) {
      out.push({ invariant: 'I5', message: 'request never completed', detail: { requestId: id } });
      continue;
    }
    if (op.type === 'info') continue;
    const deadlineAt = op.result?.sessionDeadlineAtMs ?? op.invokeMs + op.invoke.deadlineMs;
    const boundMs = Math.max(deadlineAt, op.invokeMs) + options.toleranceMs;
    if ((op.completeMs ?? Infinity) > boundMs)
      out.push({
        invariant: 'I5',
        message: 'request not terminal by its deadline',
        detail: { requestId: id, completeMs: op.completeMs, boundMs },
      });
    if (op.type === 'fail' && op.result?.code === 'CLIENT_E_NOT_TERMINAL')
      out.push({
        invariant: 'I5',
        message: 'session still running when the client gave up at its deadline',
        detail: { requestId: id },
      });
    if (op.type === 'fail' && op.result?.code === 'QUORATE_E_QUORUM_UNAVAILABLE') {
      const wallet = walletOf(input, op.invoke.walletId);
      const at = op.completeMs ?? op.invokeMs;
      const reachable = (wallet?.parties ?? []).filter((p) =>
        reachableThroughout(schedule, p, at - options.reachableWindowMs, at),
      );
      if (wallet && reachable.length >= wallet.threshold)
        out.push({
          invariant: 'I5',
          message: `QUORUM_UNAVAILABLE while ${reachable.length} of t=${wallet.threshold} parties were reachable`,
          detail: { requestId: id, atMs: at, reachable },
        });
    }
  }
  return out;
}

/** One answer that named a session: a session reopened for a retry is answered once per try. */
interface SessionEnd {
  endMs?: number;
  deadlineAtMs?: number;
  lastToken: number;
}

/** Every answer that named a session, grouped by session, in history order. */
function sessionEnds(ops: readonly Operation[]): Map<string, SessionEnd[]> {
  const ends = new Map<string, SessionEnd[]>();
  for (const op of ops) {
    const sid = op.result?.sessionId;
    if (sid === undefined || op.completeMs === undefined) continue;
    const terminal =
      op.type === 'ok' || (op.type === 'fail' && op.result?.code !== 'CLIENT_E_NOT_TERMINAL');
    const list = ends.get(sid) ?? [];
    list.push({
      ...(terminal ? { endMs: op.completeMs } : {}),
      ...(op.result?.sessionDeadlineAtMs === undefined
        ? {}
        : { deadlineAtMs: op.result.sessionDeadlineAtMs }),
      lastToken: op.result?.lastToken ?? Infinity,
    });
    ends.set(sid, list);
  }
  return ends;
}

/**
 * The end and deadline that bound a nonce of `token`: the earliest end among answers given
 * once the session had reached that token, and the last deadline among those answers (else
 * the last deadline known). Without retries (no `lastToken`) every answer covers every token:
 * the earliest end and the last deadline, as before retries existed.
 */
function boundsFor(
  ends: readonly SessionEnd[] | undefined,
  token: number,
): { endMs?: number; deadlineAtMs?: number } {
  let endMs: number | undefined;
  let coveringDeadlineMs: number | undefined;
  let lastDeadlineMs: number | undefined;
  for (const e of ends ?? []) {
    if (e.deadlineAtMs !== undefined) lastDeadlineMs = e.deadlineAtMs;
    if (e.lastToken < token) continue;
    if (e.endMs !== undefined && (endMs === undefined || e.endMs < endMs)) endMs = e.endMs;
    if (e.deadlineAtMs !== undefined) coveringDeadlineMs = e.deadlineAtMs;
  }
  const deadlineAtMs = coveringDeadlineMs ?? lastDeadlineMs;
  return {
    ...(endMs === undefined ? {} : { endMs }),
    ...(deadlineAtMs === undefined ? {} : { deadlineAtMs }),
  };
}

/**
 * I6: a party holds no state (issued nonce) for a session later than cleanup after the
 * session ended if it was reachable meanwhile, and never later than its local TTL.
 */
function checkI6(
  input: CheckInput,
  ops: readonly Operation[],
  schedule: FaultSchedule,
  options: CheckOptions,
): Violation[] {
  const out: Violation[] = [];
  const ends = sessionEnds(ops);
  const skewed = new Set(schedule.nemeses.flatMap((n) => Object.keys(n.value.skewMs ?? {})));
  for (const o of input.observations) {
    for (const held of o.issued) {
      const { endMs: end, deadlineAtMs: deadline } = boundsFor(
        ends.get(held.sessionId),
        held.token,
      );
      const late = end !== undefined && o.timeMs > end + options.cleanupMs + options.toleranceMs;
      if (late && reachableThroughout(schedule, o.partyId, end, o.timeMs)) {
        out.push({
          invariant: 'I6',
          message: 'nonce still issued after the session ended and cleanup passed',
          detail: { partyId: o.partyId, ...held, endedMs: end, atMs: o.timeMs },
        });
        continue;
      }
      const ttlBound =
        deadline === undefined || skewed.size > 0
          ? (end ?? Infinity) + options.partyTtlMs
          : deadline + options.cleanupMs;
      if (o.timeMs > ttlBound + options.toleranceMs)
        out.push({
          invariant: 'I6',
          message: 'nonce outlived the party-side TTL',
          detail: { partyId: o.partyId, ...held, atMs: o.timeMs, ttlBound },
        });
    }
  }
  return out;
}

/** Coordinator faults (crash, clock jump) put a run outside the party-fault SLO. */
const coordinatorFaulty = (s: FaultSchedule): boolean =>
  s.coordinatorDown.length > 0 ||
  s.nemeses.some((n) => Object.keys(n.value.skewMs ?? {}).includes('coordinator'));

/** Availability, detection, fail-fast and recovery figures. */
function measure(
  input: CheckInput,
  ops: readonly Operation[],
  schedule: FaultSchedule,
): RunMetrics {
  const faulty = new Set<string>();
  for (const n of schedule.nemeses) {
    for (const p of n.value.impaired) faulty.add(p);
    for (const p of Object.keys(n.value.skewMs ?? {})) if (p !== 'coordinator') faulty.add(p);
  }
  const wallet = input.wallets[0];
  const maxFaulty = wallet ? wallet.parties.length - wallet.threshold : 0;
  // A logical request is served if any of its tries signed, or was correctly refused.
  const byRequest = new Map<string, boolean>();
  for (const op of ops) {
    const id = op.invoke.requestId;
    byRequest.set(id, (byRequest.get(id) ?? false) || serves(op));
  }
  // Time to an explicit failure under faults: a refusal the request asked for is no failure.
  const failFastMs = ops
    .filter((o) => o.type === 'fail' && (o.result?.code ?? '').startsWith('QUORATE_E_'))
    .filter((o) => o.result?.code !== 'QUORATE_E_INTENT_CONFLICT')
    .filter((o) => !expectedRefusal(o.invoke, o.result?.code))
    .map((o) => (o.completeMs ?? 0) - o.invokeMs);
  return {
    requests: byRequest.size,
    served: [...byRequest.values()].filter(Boolean).length,
    sloApplies: faulty.size <= maxFaulty && !coordinatorFaulty(schedule),
    faultyParties: [...faulty].sort(),
    sessions: new Set(ops.map((o) => o.result?.sessionId).filter((s) => s !== undefined)).size,
    detectionMs: detection(input.history, schedule),
    failFastMs,
    recoveryMs: recovery(ops, schedule),
    ...retriesOf(ops),
    governed: governedMetrics(input.history, ops),
  };
}

/** Tries that followed a retryable failure of the same logical request, and those that signed. */
function retriesOf(ops: readonly Operation[]): {
  retriesAfterFailure: number;
  signedAfterRetry: number;
} {
  const lastFailedRetryably = new Set<string>();
  let retriesAfterFailure = 0;
  let signedAfterRetry = 0;
  for (const op of ops) {
    const id = op.invoke.requestId;
    if (lastFailedRetryably.has(id)) {
      retriesAfterFailure += 1;
      if (op.type === 'ok') signedAfterRetry += 1;
    }
    if (op.type === 'fail' && op.result?.retryable === true) lastFailedRetryably.add(id);
    else lastFailedRetryably.delete(id);
  }
  return { retriesAfterFailure, signedAfterRetry };
}

/** Fault start → the monitor first sees the party not `alive` (detectable faults only). */
function detection(history: readonly HistoryEvent[], schedule: FaultSchedule): number[] {
  const out: number[] = [];
  for (const n of schedule.nemeses) {
    if (n.value.detectable !== true) continue;
    for (const p of n.value.impaired) {
      const seen = history.find(
        (e) =>
          e.process === 'monitor' &&
          e.f === 'party-state' &&
          e.value.partyId === p &&
          e.value.state !== 'alive' &&
          e.timeMs >= n.startMs &&
          e.timeMs <= n.endMs,
      );
      if (seen) out.push(seen.timeMs - n.startMs);
    }
  }
  return out;
}

/** Heal → first signature of a request invoked after the heal. */
function recovery(ops: readonly Operation[], schedule: FaultSchedule): number[] {
  const out: number[] = [];
  for (const n of schedule.nemeses) {
    if (!Number.isFinite(n.endMs)) continue;
    const first = ops
      .filter((o) => o.type === 'ok' && o.invokeMs >= n.endMs)
      .map((o) => o.completeMs ?? Infinity)
      .sort((a, b) => a - b)[0];
    if (first !== undefined && Number.isFinite(first)) out.push(first - n.endMs);
  }
  return out;
}
