/**
 * Deterministic schedules on the simulation clock (hours from 0, which is a day boundary):
 * periodic maintenance windows and daily online windows. A component is "schedule-up" when it is
 * outside maintenance and inside its online window.
 */
import type { DailyWindow, MaintenanceWindow } from './policy-schema.ts';

/** The schedules of one component. */
export interface Schedule {
  readonly maintenance: MaintenanceWindow | null;
  readonly dailyOnline: DailyWindow | null;
}

const dayHours = 24;

function positiveModulo(value: number, modulus: number): number {
  const r = value % modulus;
  return r < 0 ? r + modulus : r;
}

/** True when the schedule lets the component be up at `tHours`. */
export function scheduleUpAt(schedule: Schedule, tHours: number): boolean {
  const maintenance = schedule.maintenance;
  if (maintenance !== null) {
    const phase = positiveModulo(tHours - maintenance.offsetHours, maintenance.everyHours);
    if (phase < maintenance.durationHours) return false;
  }
  const online = schedule.dailyOnline;
  if (online === null) return true;
  const hour = positiveModulo(tHours, dayHours);
  return online.fromHour < online.toHour
    ? hour >= online.fromHour && hour < online.toHour
    : hour >= online.fromHour || hour < online.toHour;
}

/**
 * Boundaries closer to `tHours` than this count as reached: a tolerance above the rounding error
 * of t (t grows to ~1e9 hours over long runs), far below `durationHoursMin`.
 */
export function boundarySlackHours(tHours: number): number {
  return Math.max(1e-9, Math.abs(tHours) * 1e-13);
}

/** Smallest of the offsets that is above `slackHours` (Infinity if none). */
function smallestAbove(slackHours: number, a: number, b: number, c: number, d: number): number {
  let best = Infinity;
  if (a > slackHours && a < best) best = a;
  if (b > slackHours && b < best) best = b;
  if (c > slackHours && c < best) best = c;
  if (d > slackHours && d < best) best = d;
  return best;
}

/**
 * The first schedule boundary strictly after `tHours` (Infinity when there is no schedule).
 * Allocation-free: the simulator calls it for every schedule event.
 */
export function nextScheduleChangeHours(schedule: Schedule, tHours: number): number {
  const slackHours = boundarySlackHours(tHours);
  let next = Infinity;
  const maintenance = schedule.maintenance;
  if (maintenance !== null) {
    const phase = positiveModulo(tHours - maintenance.offsetHours, maintenance.everyHours);
    const toEnd = maintenance.durationHours - phase;
    const toStart = maintenance.everyHours - phase;
    next = smallestAbove(slackHours, toEnd, toStart, toStart + maintenance.durationHours, Infinity);
  }
  const online = schedule.dailyOnline;
  if (online !== null) {
    const hour = positiveModulo(tHours, dayHours);
    const toFrom = online.fromHour - hour;
    const toTo = online.toHour - hour;
    next = Math.min(
      next,
      smallestAbove(slackHours, toFrom, toTo, toFrom + dayHours, toTo + dayHours),
    );
  }
  return tHours + next;
}
