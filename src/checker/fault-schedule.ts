/**
 * The nemesis schedule read back from a history: for each party, the intervals during which
 * its process or its path to the coordinator was impaired, and when the coordinator was down.
 */
import type { HistoryEvent, NemesisValue } from './history.ts';

/** A closed-open interval on the harness clock; `endMs` is Infinity if never healed. */
export interface Interval {
  startMs: number;
  endMs: number;
}

/** Fault intervals by party, plus coordinator outages. */
export interface FaultSchedule {
  impaired: Map<string, Interval[]>;
  coordinatorDown: Interval[];
  nemeses: { value: NemesisValue; startMs: number; endMs: number }[];
}

/** Builds the schedule from the nemesis events of a history. */
export function faultSchedule(history: readonly HistoryEvent[]): FaultSchedule {
  const open = new Map<string, { value: NemesisValue; startMs: number }>();
  const nemeses: FaultSchedule['nemeses'] = [];
  for (const e of history) {
    if (e.process !== 'nemesis') continue;
    const value = e.value as NemesisValue;
    if (e.f === 'start') open.set(value.id, { value, startMs: e.timeMs });
    else if (e.f === 'stop') {
      const started = open.get(value.id);
      if (started) nemeses.push({ ...started, endMs: e.timeMs });
      open.delete(value.id);
    }
  }
  for (const started of open.values()) nemeses.push({ ...started, endMs: Infinity });
  const impaired = new Map<string, Interval[]>();
  const coordinatorDown: Interval[] = [];
  for (const n of nemeses) {
    for (const p of n.value.impaired) {
      const list = impaired.get(p) ?? [];
      list.push({ startMs: n.startMs, endMs: n.endMs });
      impaired.set(p, list);
    }
    if (n.value.coordinatorDown === true)
      coordinatorDown.push({ startMs: n.startMs, endMs: n.endMs });
  }
  return { impaired, coordinatorDown, nemeses };
}

const overlaps = (list: readonly Interval[], fromMs: number, toMs: number): boolean =>
  list.some((i) => i.startMs <= toMs && i.endMs >= fromMs);

/**
 * True if the party was reachable during all of [fromMs, toMs]: its own path and process were
 * fine and the coordinator was up.
 */
export function reachableThroughout(
  schedule: FaultSchedule,
  partyId: string,
  fromMs: number,
  toMs: number,
): boolean {
  return (
    !overlaps(schedule.impaired.get(partyId) ?? [], fromMs, toMs) &&
    !overlaps(schedule.coordinatorDown, fromMs, toMs)
  );
}
