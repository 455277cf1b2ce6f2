/**
 * Up/down timelines built from telemetry: sojourns (maximal intervals in one state) and the
 * times at which a common-cause group is down (all its members down at once).
 */
import type { TelemetryEvent } from './telemetry-parse.ts';

/** A maximal interval in one state. `startsWithTransition` is false for the first sojourn (the
 * state before observation began is unknown); `complete` is false for the last one, which the
 * end of the window censors. */
export interface Sojourn {
  readonly fromMs: number;
  readonly toMs: number;
  readonly up: boolean;
  readonly startsWithTransition: boolean;
  readonly complete: boolean;
}

/** A state-change list: `changes[k]` holds from `tMs` until the next change. */
export interface Timeline {
  readonly changes: readonly { tMs: number; up: boolean }[];
}

/** Keeps only events that change the state (repeats are heartbeats). */
export function timelineOf(events: readonly TelemetryEvent[]): Timeline {
  const changes: { tMs: number; up: boolean }[] = [];
  for (const event of events) {
    const previous = changes[changes.length - 1];
    if (previous === undefined || previous.up !== event.up)
      changes.push({ tMs: event.tMs, up: event.up });
  }
  return { changes };
}

/** Sojourns of a timeline up to `windowEndMs`. */
export function sojournsOf(timeline: Timeline, windowEndMs: number): Sojourn[] {
  return timeline.changes
    .map((change, k) => {
      const next = timeline.changes[k + 1];
      return {
        fromMs: change.tMs,
        toMs: next?.tMs ?? windowEndMs,
        up: change.up,
        startsWithTransition: k > 0,
        complete: next !== undefined,
      };
    })
    .filter((s) => s.toMs > s.fromMs || s.complete);
}

/** State at `tMs` (after any change at exactly `tMs`); undefined before the first event. */
function stateAt(timeline: Timeline, tMs: number): boolean | undefined {
  let low = 0;
  let high = timeline.changes.length - 1;
  let found: boolean | undefined;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const change = timeline.changes[mid] as { tMs: number; up: boolean };
    if (change.tMs <= tMs) {
      found = change.up;
      low = mid + 1;
    } else high = mid - 1;
  }
  return found;
}

/**
 * The group's own timeline: down exactly while every member is down, observed from the moment
 * every member has reported at least once.
 */
export function groupTimeline(members: readonly Timeline[]): Timeline {
  const startMs = Math.max(...members.map((m) => m.changes[0]?.tMs ?? Infinity));
  if (!Number.isFinite(startMs)) return { changes: [] };
  const times = [
    ...new Set(members.flatMap((m) => m.changes.map((c) => c.tMs)).filter((t) => t >= startMs)),
  ];
  times.sort((a, b) => a - b);
  const changes: { tMs: number; up: boolean }[] = [];
  for (const tMs of times) {
    const up = !members.every((m) => stateAt(m, tMs) === false);
    const previous = changes[changes.length - 1];
    if (previous === undefined || previous.up !== up) changes.push({ tMs, up });
  }
  return { changes };
}

/** Total length of the overlap between [fromMs, toMs) and a list of disjoint intervals. */
export function overlapMs(
  fromMs: number,
  toMs: number,
  intervals: readonly [number, number][],
): number {
  let total = 0;
  for (const [s, e] of intervals) total += Math.max(0, Math.min(toMs, e) - Math.max(fromMs, s));
  return total;
}

/** Merges intervals into a sorted disjoint list. */
export function mergeIntervals(intervals: readonly [number, number][]): [number, number][] {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged;
}
