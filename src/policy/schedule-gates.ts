/**
 * Deterministic schedules on the simulation clock (hours from 0, which is a day boundary):
 * periodic maintenance windows and daily online windows. A component is "schedule-up" when it is
 * outside maintenance and inside its online window.
 *
 * The Monte Carlo steps them incrementally. Each component's schedule is split into
 * at most two periodic gates: its maintenance window (down inside the window) and its daily online
 * window (up inside the window, period 24 h). A gate only ever moves from one boundary to the
 * next, so a schedule event costs a multiply-add instead of re-deriving the phase with `%`, which
 * V8 compiles to a call of C `fmod` and which dominated the simulator's profile. Boundaries are
 * computed as `start + k·period` (+ window) from a whole cycle count k, so they do not drift over
 * long runs the way summed durations would. Everything lives in flat typed arrays: no allocation
 * per event.
 */
import type { DailyWindow, MaintenanceWindow } from './policy-schema.ts';

/** The schedules of one component. */
export interface Schedule {
  readonly maintenance: MaintenanceWindow | null;
  readonly dailyOnline: DailyWindow | null;
}

/**
 * Boundaries closer to `tHours` than this count as reached: a tolerance above the rounding error
 * of t (t grows to ~1e9 hours over long runs), far below `durationHoursMin`.
 */
export function boundarySlackHours(tHours: number): number {
  return Math.max(1e-9, Math.abs(tHours) * 1e-13);
}

const dayHours = 24;

/**
 * Steps one gate may take at one instant. The two phases of a gate together last one period,
 * at least `durationHoursMin` (0.01 h), which is far above the boundary slack (below 2e-4 h up to
 * `monteCarloMonthsMax`), so two steps always carry a reached gate past the slack.
 */
const gateStepsPerInstantMax = 2;

/**
 * Compiled schedules of `componentCount` components. Component i owns gate 2i (maintenance) and
 * gate 2i + 1 (daily online window). An absent gate has period 0, never reaches a boundary and
 * always lets its component be up.
 */
export interface ScheduleGates {
  readonly componentCount: number;
  /** Per gate: period, start of the window within it (from hour 0) and window length. */
  readonly periodHours: Float64Array;
  readonly windowStartHours: Float64Array;
  readonly windowHours: Float64Array;
  /** Per gate: 1 when inside the window means up (online window), 0 when down (maintenance). */
  readonly upInWindow: Uint8Array;
  /** Per gate, mutable: 1 while t is inside a window. */
  readonly inWindow: Uint8Array;
  /** Per gate, mutable: the cycle k of the current window or, outside one, of the next. */
  readonly cycle: Float64Array;
  /** Per gate, mutable: its next boundary (Infinity for an absent gate). */
  readonly nextBoundaryHours: Float64Array;
  /** Per component, mutable: 1 when the schedule lets it be up, and its next gate boundary. */
  readonly up: Uint8Array;
  readonly nextChangeHours: Float64Array;
}

/** Compiles one gate pair per schedule; call `startScheduleGates` before use. */
export function compileScheduleGates(schedules: readonly Schedule[]): ScheduleGates {
  const count = schedules.length;
  const gates: ScheduleGates = {
    componentCount: count,
    periodHours: new Float64Array(2 * count),
    windowStartHours: new Float64Array(2 * count),
    windowHours: new Float64Array(2 * count),
    upInWindow: new Uint8Array(2 * count),
    inWindow: new Uint8Array(2 * count),
    cycle: new Float64Array(2 * count),
    nextBoundaryHours: new Float64Array(2 * count).fill(Infinity),
    up: new Uint8Array(count).fill(1),
    nextChangeHours: new Float64Array(count).fill(Infinity),
  };
  schedules.forEach((schedule, i) => {
    const maintenance = schedule.maintenance;
    if (maintenance !== null) {
      gates.periodHours[2 * i] = maintenance.everyHours;
      gates.windowStartHours[2 * i] = maintenance.offsetHours;
      gates.windowHours[2 * i] = maintenance.durationHours;
      gates.upInWindow[2 * i] = 0;
    }
    const online = schedule.dailyOnline;
    if (online !== null) {
      gates.periodHours[2 * i + 1] = dayHours;
      gates.windowStartHours[2 * i + 1] = online.fromHour;
      // A window that wraps midnight starts at fromHour and runs into the next day.
      gates.windowHours[2 * i + 1] = (online.toHour - online.fromHour + dayHours) % dayHours;
      gates.upInWindow[2 * i + 1] = 1;
    }
  });
  return gates;
}

/** Puts every gate in its state at `tHours` (after any boundary at exactly `tHours`). */
export function startScheduleGates(gates: ScheduleGates, tHours: number): void {
  for (let g = 0; g < 2 * gates.componentCount; g++) {
    const period = gates.periodHours[g] as number;
    if (period === 0) continue;
    const start = gates.windowStartHours[g] as number;
    const cycle = Math.floor((tHours - start) / period);
    const inWindow = tHours - (start + cycle * period) < (gates.windowHours[g] as number);
    // Outside a window, the cycle counts the next window (see `boundaryAfter`).
    gates.cycle[g] = inWindow ? cycle : cycle + 1;
    gates.inWindow[g] = inWindow ? 1 : 0;
    gates.nextBoundaryHours[g] = boundaryAfter(gates, g);
  }
  for (let i = 0; i < gates.componentCount; i++) advanceScheduleGates(gates, i, tHours);
}

/**
 * Moves component i's gates past every boundary reached by `tHours` (within the rounding slack,
 * so boundaries of its two gates that coincide count as one change), then updates its schedule
 * state and next change.
 */
export function advanceScheduleGates(gates: ScheduleGates, i: number, tHours: number): void {
  const reachedHours = tHours + boundarySlackHours(tHours);
  stepGate(gates, 2 * i, reachedHours);
  stepGate(gates, 2 * i + 1, reachedHours);
  const maintenanceUp = gates.inWindow[2 * i] === gates.upInWindow[2 * i];
  const onlineUp = gates.inWindow[2 * i + 1] === gates.upInWindow[2 * i + 1];
  gates.up[i] = maintenanceUp && onlineUp ? 1 : 0;
  gates.nextChangeHours[i] = Math.min(
    gates.nextBoundaryHours[2 * i] as number,
    gates.nextBoundaryHours[2 * i + 1] as number,
  );
}

function stepGate(gates: ScheduleGates, g: number, reachedHours: number): void {
  for (let step = 0; step < gateStepsPerInstantMax; step++) {
    if ((gates.nextBoundaryHours[g] as number) > reachedHours) return;
    if (gates.inWindow[g] === 1) {
      gates.inWindow[g] = 0;
      gates.cycle[g] = (gates.cycle[g] as number) + 1;
    } else {
      gates.inWindow[g] = 1;
    }
    gates.nextBoundaryHours[g] = boundaryAfter(gates, g);
  }
}

/** The end of the current window when inside it, else the start of cycle k's window. */
function boundaryAfter(gates: ScheduleGates, g: number): number {
  const windowStart =
    (gates.windowStartHours[g] as number) +
    (gates.cycle[g] as number) * (gates.periodHours[g] as number);
  return gates.inWindow[g] === 1 ? windowStart + (gates.windowHours[g] as number) : windowStart;
}
