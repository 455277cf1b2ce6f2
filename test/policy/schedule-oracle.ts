/**
 * The direct formulas of a schedule (src/policy/schedule-gates.ts): whether it lets a component
 * be up at an instant, and its next boundary, each computed from scratch with `%`. The Monte Carlo
 * steps gates instead; the tests check the gates against these.
 */
import { boundarySlackHours, type Schedule } from '../../src/policy/schedule-gates.ts';

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

/** Smallest of the offsets that is above `slackHours` (Infinity if none). */
function smallestAbove(slackHours: number, a: number, b: number, c: number, d: number): number {
  let best = Infinity;
  if (a > slackHours && a < best) best = a;
  if (b > slackHours && b < best) best = b;
  if (c > slackHours && c < best) best = c;
  if (d > slackHours && d < best) best = d;
  return best;
}

/** The first schedule boundary strictly after `tHours` (Infinity when there is no schedule). */
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
