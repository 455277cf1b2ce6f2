/**
 * The key-lifecycle invariants (ARCHITECTURE §4) over what a harness saw of a wallet's epochs:
 * the store's record and every party's sealed shares, sampled while the run went on, and the
 * operations the store recorded.
 *
 * - **I7** never two usable epochs: the store's active epoch only moves forward, one step per
 *   operation that flipped, at most one operation flips to an epoch, and no party ever holds an
 *   active share of an epoch the store has not flipped to (a party promotes only after the flip).
 * - **I8** the group key never changes: the store's key, and the key of every active and staged
 *   share any party holds, is the wallet's key from the start.
 * - **I9** no share of an abandoned or retired epoch survives `cleanupMs` after its end: from
 *   then on, a party that stayed reachable since the end holds no staged share of an abandoned
 *   operation, and after a flip no share of an older epoch (and no staged copy of the new one).
 *   A retired party erases against the new parties' signed promotions, so its share is judged
 *   only while enough of them (both thresholds) stayed reachable too.
 */
import { reachableThroughout, type FaultSchedule } from './fault-schedule.ts';
import type { CheckOptions, Violation } from './types.ts';

/** One party's shares of the wallet at one instant (absent: it holds none of that kind). */
export interface PartyEpochView {
  partyId: string;
  up: boolean;
  active?: { epoch: number; publicKey: string };
  staged?: { epoch: number; operationId: string; publicKey: string };
}

/** The wallet's state at one instant: the store's record and every party's shares. */
export interface EpochObservation {
  timeMs: number;
  storeEpoch: number;
  publicKey: string;
  parties: PartyEpochView[];
}

/** One operation as the store recorded it at the end of the run. */
export interface LifecycleOperationFact {
  operationId: string;
  status: 'running' | 'done' | 'failed';
  fromEpoch: number;
  toEpoch: number;
  startedMs: number;
  endedMs?: number;
  /** The new epoch's parties and threshold, and the epoch's before it. */
  parties: string[];
  threshold: number;
  oldParties: string[];
  oldThreshold: number;
}

/** Everything the lifecycle checks read, for one wallet. */
export interface LifecycleFacts {
  walletId: string;
  /** The wallet's key when the run began. */
  publicKey: string;
  observations: EpochObservation[];
  operations: LifecycleOperationFact[];
}

/** I7, I8 and I9 over one wallet's lifecycle facts. */
export function checkEpochs(
  facts: LifecycleFacts,
  schedule: FaultSchedule,
  options: CheckOptions,
): Violation[] {
  return [...checkI7(facts), ...checkI8(facts), ...checkI9(facts, schedule, options)];
}

function checkI7(facts: LifecycleFacts): Violation[] {
  const out: Violation[] = [];
  const flippedTo = new Map<number, string>();
  for (const op of facts.operations) {
    if (op.status !== 'done') continue;
    const other = flippedTo.get(op.toEpoch);
    if (other !== undefined)
      out.push(violation('I7', 'two operations flipped to one epoch', { other, op }));
    flippedTo.set(op.toEpoch, op.operationId);
  }
  let last = 0;
  for (const o of facts.observations) {
    if (o.storeEpoch < last || (o.storeEpoch !== 0 && !flippedTo.has(o.storeEpoch)))
      out.push(violation('I7', 'the store epoch moved without a flip', { at: o.timeMs, last, o }));
    last = Math.max(last, o.storeEpoch);
    for (const p of o.parties)
      if (p.active !== undefined && p.active.epoch > o.storeEpoch)
        out.push(
          violation('I7', 'a party promoted an epoch before the store flipped to it', {
            at: o.timeMs,
            partyId: p.partyId,
            active: p.active.epoch,
            storeEpoch: o.storeEpoch,
          }),
        );
  }
  return out;
}

function checkI8(facts: LifecycleFacts): Violation[] {
  const out: Violation[] = [];
  for (const o of facts.observations) {
    const keys = [
      ['store', o.publicKey],
      ...o.parties.flatMap((p) => [
        ...(p.active ? [[`${p.partyId} active`, p.active.publicKey]] : []),
        ...(p.staged ? [[`${p.partyId} staged`, p.staged.publicKey]] : []),
      ]),
    ];
    for (const [holder, key] of keys)
      if (key !== facts.publicKey)
        out.push(violation('I8', 'the group key changed', { at: o.timeMs, holder, key }));
  }
  return out;
}

function checkI9(
  facts: LifecycleFacts,
  schedule: FaultSchedule,
  options: CheckOptions,
): Violation[] {
  const out: Violation[] = [];
  const ended = facts.operations.filter((op) => op.endedMs !== undefined);
  for (const op of ended) {
    const endMs = op.endedMs ?? 0;
    const fromMs = endMs + options.cleanupMs + options.toleranceMs;
    // Until the next operation starts: it stages and retires shares of its own.
    const next = facts.operations.filter((o) => o.startedMs > op.startedMs);
    const untilMs = Math.min(Infinity, ...next.map((o) => o.startedMs));
    for (const o of facts.observations) {
      if (o.timeMs < fromMs || o.timeMs >= untilMs) continue;
      const reachable = (id: string) => reachableThroughout(schedule, id, endMs, o.timeMs);
      const promoters = op.parties.filter(reachable).length;
      const provable = promoters >= Math.max(op.threshold, op.oldThreshold);
      for (const p of o.parties) {
        if (!p.up || !reachable(p.partyId)) continue;
        const retired = op.status === 'done' && !op.parties.includes(p.partyId);
        if (retired && !provable) continue;
        const problem = survivingShare(op, p);
        if (problem !== undefined)
          out.push(
            violation('I9', problem, {
              at: o.timeMs,
              endedMs: endMs,
              partyId: p.partyId,
              operationId: op.operationId,
            }),
          );
      }
    }
  }
  return out;
}

/** What `p` still holds that the end of `op` should have erased, if anything. */
function survivingShare(op: LifecycleOperationFact, p: PartyEpochView): string | undefined {
  if (p.staged?.operationId === op.operationId)
    return op.status === 'failed'
      ? 'a staged share of an abandoned operation survived'
      : 'a staged copy of a committed epoch survived';
  if (op.status !== 'done') return undefined;
  const involved = op.parties.includes(p.partyId) || op.oldParties.includes(p.partyId);
  if (involved && p.active !== undefined && p.active.epoch < op.toEpoch)
    return `a share of retired epoch ${p.active.epoch} survived`;
  return undefined;
}

function violation(
  invariant: 'I7' | 'I8' | 'I9',
  message: string,
  detail: Record<string, unknown>,
): Violation {
  return { invariant, message, detail };
}
