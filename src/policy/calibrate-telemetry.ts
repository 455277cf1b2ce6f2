/**
 * `policy calibrate`: fits availability, MTTF and MTTR per share and per common-cause group from
 * telemetry, handling censoring. For an exponential sojourn model with right censoring the MLE of
 * a mean sojourn is (total time observed in the state) / (number of completed transitions out of
 * it): censored sojourns add time but no transition. A group is down while all its members are;
 * a share's own process treats its groups' down time as unobserved, so the group's effect is not
 * counted twice. The result is a policy file ready for `analyze`.
 */
import {
  groupTimeline,
  mergeIntervals,
  overlapMs,
  sojournsOf,
  timelineOf,
  type Sojourn,
  type Timeline,
} from './interval-timeline.ts';
import { policyInvalid } from './policy-field-reader.ts';
import { policyLimits } from '../core/limits.ts';
import type { ShareType } from './policy-schema.ts';
import { parseTelemetry, type Telemetry } from './telemetry-parse.ts';

const msPerHour = 3_600_000;

/** The fit of one share or group. */
export interface ComponentFit {
  readonly id: string;
  readonly upHours: number;
  readonly downHours: number;
  /** Completed up→down transitions counted against this component. */
  readonly failures: number;
  /** Completed down→up transitions. */
  readonly repairs: number;
  /** Null when no failure (MTTF unbounded) or no repair (MTTR unbounded) was observed. */
  readonly mttfHours: number | null;
  readonly mttrHours: number | null;
  readonly availability: number;
  /** How the policy file states it: `rates`, or `availability` when a rate cannot be fitted. */
  readonly basis: 'rates' | 'availability';
}

/** A calibrated share. */
export interface ShareFit extends ComponentFit {
  readonly type: ShareType;
  readonly domain: string;
  readonly groups: readonly string[];
}

/** The calibration answer. */
export interface Calibration {
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  readonly shares: readonly ShareFit[];
  readonly groups: readonly ComponentFit[];
  /** A policy document (plain data) ready for YAML output and `analyze`. */
  readonly policyDocument: Record<string, unknown>;
}

function fit(
  kind: 'party' | 'group',
  id: string,
  upMs: number,
  downMs: number,
  failures: number,
  repairs: number,
): ComponentFit {
  const upHours = upMs / msPerHour;
  const downHours = downMs / msPerHour;
  const mttfHours = failures > 0 ? upHours / failures : null;
  const mttrHours = repairs > 0 ? downHours / repairs : null;
  const inRange = (h: number | null): h is number =>
    h !== null && h >= policyLimits.durationHoursMin && h <= policyLimits.durationHoursMax;
  if (inRange(mttfHours) && inRange(mttrHours)) {
    const availability = mttfHours / (mttfHours + mttrHours);
    return {
      id,
      upHours,
      downHours,
      failures,
      repairs,
      mttfHours,
      mttrHours,
      availability,
      basis: 'rates',
    };
  }
  if (upMs <= 0)
    throw policyInvalid(`${kind} ${id}`, 'was never observed up; availability cannot be fitted');
  // Without both kinds of transition the rates are unbounded; the observed fraction is the fit.
  const availability =
    mttfHours !== null && mttrHours !== null
      ? mttfHours / (mttfHours + mttrHours)
      : upMs / (upMs + downMs);
  return {
    id,
    upHours,
    downHours,
    failures,
    repairs,
    mttfHours,
    mttrHours,
    availability,
    basis: 'availability',
  };
}

/** Fit of a group from its own timeline. */
function fitGroup(id: string, timeline: Timeline, windowEndMs: number): ComponentFit {
  let upMs = 0;
  let downMs = 0;
  let failures = 0;
  let repairs = 0;
  for (const s of sojournsOf(timeline, windowEndMs)) {
    if (s.up) upMs += s.toMs - s.fromMs;
    else {
      downMs += s.toMs - s.fromMs;
      if (s.startsWithTransition) failures += 1;
      if (s.complete) repairs += 1;
    }
  }
  return fit('group', id, upMs, downMs, failures, repairs);
}

/** Fit of a share's own process, with its groups' down intervals treated as unobserved. */
function fitShareOwn(
  id: string,
  sojourns: readonly Sojourn[],
  groupDown: readonly [number, number][],
): ComponentFit {
  const downAfter = (t: number): boolean => groupDown.some(([s, e]) => s <= t && t < e);
  const downBefore = (t: number): boolean => groupDown.some(([s, e]) => s < t && t <= e);
  let upMs = 0;
  let downMs = 0;
  let failures = 0;
  let repairs = 0;
  for (const s of sojourns) {
    if (s.up) {
      upMs += s.toMs - s.fromMs;
      continue;
    }
    downMs += s.toMs - s.fromMs - overlapMs(s.fromMs, s.toMs, groupDown);
    if (s.startsWithTransition && !downAfter(s.fromMs)) failures += 1;
    if (s.complete && !downBefore(s.toMs)) repairs += 1;
  }
  return fit('party', id, upMs, downMs, failures, repairs);
}

/** Calibrates from telemetry text. */
export function calibrateTelemetry(text: string): Calibration {
  const telemetry = parseTelemetry(text);
  const timelines = new Map<string, Timeline>();
  const partyIds = [...new Set(telemetry.events.map((e) => e.partyId))];
  for (const id of partyIds)
    timelines.set(id, timelineOf(telemetry.events.filter((e) => e.partyId === id)));
  const groupDownById = new Map<string, [number, number][]>();
  const groups = [...telemetry.groups].map(([groupId, members]) => {
    const timeline = groupTimeline(members.map((m) => timelines.get(m) as Timeline));
    const down = sojournsOf(timeline, telemetry.windowEndMs).filter((s) => !s.up);
    groupDownById.set(
      groupId,
      down.map((s): [number, number] => [s.fromMs, s.toMs]),
    );
    return fitGroup(groupId, timeline, telemetry.windowEndMs);
  });
  const shares = partyIds.map((id) => fitShare(id, telemetry, timelines, groupDownById));
  return {
    windowStartMs: telemetry.windowStartMs,
    windowEndMs: telemetry.windowEndMs,
    shares,
    groups,
    policyDocument: policyDocumentOf(shares, groups),
  };
}

function fitShare(
  id: string,
  telemetry: Telemetry,
  timelines: ReadonlyMap<string, Timeline>,
  groupDownById: ReadonlyMap<string, [number, number][]>,
): ShareFit {
  const groupIds = [...telemetry.groups]
    .filter(([, members]) => members.includes(id))
    .map(([g]) => g);
  const groupDown = mergeIntervals(groupIds.flatMap((g) => groupDownById.get(g) ?? []));
  const sojourns = sojournsOf(timelines.get(id) as Timeline, telemetry.windowEndMs);
  const attributes = telemetry.parties.get(id) ?? { type: 'backend' as const, domain: id };
  return { ...fitShareOwn(id, sojourns, groupDown), ...attributes, groups: groupIds };
}

function componentFields(c: ComponentFit): Record<string, number> {
  if (c.basis === 'rates')
    return { mttfHours: round(c.mttfHours as number), mttrHours: round(c.mttrHours as number) };
  return { availability: Math.min(1, round(c.availability)) };
}

function round(value: number): number {
  return Number(value.toPrecision(6));
}

function policyDocumentOf(
  shares: readonly ShareFit[],
  groups: readonly ComponentFit[],
): Record<string, unknown> {
  const ids = shares.map((s) => s.id).slice(0, policyLimits.sharesPerPolicyMax);
  return {
    slo: 0.999,
    groups: groups.map((g) => ({ id: g.id, ...componentFields(g) })),
    shares: shares.map((s) => ({
      id: s.id,
      type: s.type,
      domain: s.domain,
      ...componentFields(s),
      ...(s.groups.length > 0 ? { groups: s.groups } : {}),
    })),
    policies: [
      { id: 'calibrated-majority', threshold: Math.floor(ids.length / 2) + 1, shares: ids },
    ],
  };
}
