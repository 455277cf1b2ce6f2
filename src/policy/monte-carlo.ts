/**
 * Monte Carlo over time: an event-driven simulation of every share and group as an alternating
 * up/down process (exponential up times with mean MTTF; outage durations exponential, Weibull or
 * lognormal with mean MTTR) overlaid with deterministic schedules (maintenance, daily online
 * window). Months of 30 days run back to back after a warm-up; the result is the distribution of
 * monthly downtime. Pure: randomness comes from a seeded xoshiro128** stream.
 */
import { QuorateError } from '../core/errors.ts';
import type { CompiledPlacement } from './compile-placement.ts';
import { monthHours, monthMinutes, policyLimits } from './policy-limits.ts';
import type { ComponentSpec, DailyWindow } from './policy-schema.ts';
import { exponentialSampler, outageSampler, type DurationSampler } from './outage-sampler.ts';
import { createSeededPrng, type SeededPrng } from './seeded-prng.ts';
import { nextScheduleChangeHours, scheduleUpAt, type Schedule } from './time-schedule.ts';

/** What to simulate. */
export interface MonteCarloInput {
  readonly model: CompiledPlacement;
  readonly threshold: number;
  readonly months: number;
  readonly seed: number;
  readonly slo: number;
  /** MTTR for components given only `availability`. */
  readonly mttrHoursDefault: number;
  /** Called every `monteCarloProgressMonths` simulated months. */
  readonly onProgress?: (monthsDone: number, monthsTotal: number) => void;
}

/** Distribution of monthly downtime from one seeded run. */
export interface MonteCarloResult {
  readonly months: number;
  readonly seed: number;
  readonly meanAvailability: number;
  /** 99 % confidence interval of the mean availability (batch means, 100 batches). */
  readonly availabilityCi99: readonly [number, number];
  readonly meanDowntimeMinutesPerMonth: number;
  readonly p95DowntimeMinutesPerMonth: number;
  /** Fraction of months whose availability is below the SLO. */
  readonly pMonthBreachesSlo: number;
  readonly outagesPerMonth: number;
  readonly meanOutageMinutes: number | null;
}

interface SimComponent {
  readonly upTime: DurationSampler;
  readonly downTime: DurationSampler;
  readonly randomAvailability: number;
  readonly schedule: Schedule;
}

function simComponent(
  spec: ComponentSpec & { dailyOnline?: DailyWindow | null },
  mttrHoursDefault: number,
): SimComponent {
  const availability = spec.randomAvailability;
  const mttrHours = spec.rates?.mttrHours ?? mttrHoursDefault;
  const mttfHours =
    spec.rates?.mttfHours ??
    (availability >= 1 ? Infinity : (mttrHours * availability) / (1 - availability));
  return {
    upTime: exponentialSampler(mttfHours),
    downTime: outageSampler(spec.outage, mttrHours),
    randomAvailability: availability,
    schedule: { maintenance: spec.maintenance, dailyOnline: spec.dailyOnline ?? null },
  };
}

/** Mutable state of the run, in flat typed arrays for speed. */
interface SimState {
  readonly components: readonly SimComponent[];
  readonly randomUp: Uint8Array;
  readonly scheduleUp: Uint8Array;
  readonly nextRandom: Float64Array;
  readonly nextSchedule: Float64Array;
  readonly prng: SeededPrng;
}

function initialState(components: readonly SimComponent[], prng: SeededPrng): SimState {
  const count = components.length;
  const state: SimState = {
    components,
    randomUp: new Uint8Array(count),
    scheduleUp: new Uint8Array(count),
    nextRandom: new Float64Array(count),
    nextSchedule: new Float64Array(count),
    prng,
  };
  components.forEach((c, i) => {
    const up = prng.nextOpenUnit() < c.randomAvailability;
    state.randomUp[i] = up ? 1 : 0;
    state.nextRandom[i] = up ? c.upTime(prng) : c.downTime(prng);
    applyScheduleChange(state, i, 0);
  });
  return state;
}

function applyScheduleChange(state: SimState, i: number, tHours: number): void {
  const schedule = (state.components[i] as SimComponent).schedule;
  const next = nextScheduleChangeHours(schedule, tHours);
  state.nextSchedule[i] = next;
  // Evaluate between boundaries so rounding at the boundary itself cannot flip the answer.
  state.scheduleUp[i] = Number.isFinite(next)
    ? scheduleUpAt(schedule, (tHours + next) / 2)
      ? 1
      : 0
    : 1;
}

function applyEvent(state: SimState, i: number, tHours: number): void {
  if ((state.nextRandom[i] as number) <= (state.nextSchedule[i] as number)) {
    const component = state.components[i] as SimComponent;
    const up = state.randomUp[i] === 0;
    state.randomUp[i] = up ? 1 : 0;
    state.nextRandom[i] =
      tHours + (up ? component.upTime(state.prng) : component.downTime(state.prng));
  } else {
    applyScheduleChange(state, i, tHours);
  }
}

/** True when at least `threshold` shares are up and have all their groups up. */
function systemUp(state: SimState, model: CompiledPlacement, threshold: number): boolean {
  const n = model.shares.length;
  let groupDown = 0;
  for (let j = 0; j < model.groups.length; j++) {
    if (((state.randomUp[n + j] as number) & (state.scheduleUp[n + j] as number)) === 0)
      groupDown |= 1 << j;
  }
  let up = 0;
  for (let i = 0; i < n; i++) {
    if (
      ((state.randomUp[i] as number) & (state.scheduleUp[i] as number)) === 1 &&
      ((model.shareGroupMask[i] as number) & groupDown) === 0
    )
      up++;
  }
  return up >= threshold;
}

/** Runs the simulation. Throws `QUORATE_E_POLICY_INVALID` if the event budget runs out. */
export function simulateMonths(input: MonteCarloInput): MonteCarloResult {
  const { model, threshold } = input;
  const components = [...model.shares, ...model.groups].map((c) =>
    simComponent(c, input.mttrHoursDefault),
  );
  const state = initialState(components, createSeededPrng(input.seed));
  const warmup = policyLimits.monteCarloWarmupMonths;
  const totalMonths = warmup + input.months;
  const downtimeMinutes = new Float64Array(input.months);
  let tHours = 0;
  let month = 0;
  let monthDownHours = 0;
  let up = systemUp(state, model, threshold);
  let outages = 0;
  for (let events = 0; events < policyLimits.monteCarloEventsMax; events++) {
    let next = -1;
    let nextHours = Infinity;
    for (let i = 0; i < components.length; i++) {
      const at = Math.min(state.nextRandom[i] as number, state.nextSchedule[i] as number);
      if (at < nextHours) {
        next = i;
        nextHours = at;
      }
    }
    const monthEndHours = (month + 1) * monthHours;
    if (nextHours >= monthEndHours) {
      if (!up) monthDownHours += monthEndHours - tHours;
      tHours = monthEndHours;
      if (month >= warmup) downtimeMinutes[month - warmup] = monthDownHours * 60;
      month += 1;
      monthDownHours = 0;
      if (month > warmup && (month - warmup) % policyLimits.monteCarloProgressMonths === 0) {
        input.onProgress?.(month - warmup, input.months);
      }
      if (month === totalMonths) return summarise(input, downtimeMinutes, outages);
      continue;
    }
    if (!up) monthDownHours += nextHours - tHours;
    tHours = nextHours;
    const wasUp = (state.randomUp[next] as number) & (state.scheduleUp[next] as number);
    applyEvent(state, next, tHours);
    // Only a change of the component's effective state can change the system's.
    if (((state.randomUp[next] as number) & (state.scheduleUp[next] as number)) === wasUp) continue;
    const nowUp = systemUp(state, model, threshold);
    if (up && !nowUp && month >= warmup) outages += 1;
    up = nowUp;
  }
  throw new QuorateError('QUORATE_E_POLICY_INVALID', 'simulation: event budget exhausted', {
    path: 'simulation.months',
    problem: `more than ${policyLimits.monteCarloEventsMax} events; lower simulation.months`,
  });
}

function summarise(
  input: MonteCarloInput,
  downtime: Float64Array,
  outages: number,
): MonteCarloResult {
  const months = downtime.length;
  let totalMinutes = 0;
  let breaches = 0;
  const allowedMinutes = (1 - input.slo) * monthMinutes;
  for (let m = 0; m < months; m++) {
    const minutes = downtime[m] as number;
    totalMinutes += minutes;
    if (minutes > allowedMinutes) breaches += 1;
  }
  const sorted = Float64Array.from(downtime).sort();
  const p95 = sorted[Math.max(0, Math.ceil(0.95 * months) - 1)] as number;
  const meanDowntime = totalMinutes / months;
  return {
    months,
    seed: input.seed,
    meanAvailability: 1 - meanDowntime / monthMinutes,
    availabilityCi99: batchMeansCi99(downtime),
    meanDowntimeMinutesPerMonth: meanDowntime,
    p95DowntimeMinutesPerMonth: p95,
    pMonthBreachesSlo: breaches / months,
    outagesPerMonth: outages / months,
    meanOutageMinutes: outages > 0 ? totalMinutes / outages : null,
  };
}

/** 99 % interval from batch means: robust to the small correlation between adjacent months. */
function batchMeansCi99(downtime: Float64Array): readonly [number, number] {
  const batches = policyLimits.monteCarloBatches;
  const months = downtime.length;
  const means = new Float64Array(batches);
  for (let b = 0; b < batches; b++) {
    const from = Math.floor((b * months) / batches);
    const to = Math.floor(((b + 1) * months) / batches);
    let sum = 0;
    for (let m = from; m < to; m++) sum += downtime[m] as number;
    means[b] = 1 - sum / (to - from) / monthMinutes;
  }
  const mean = means.reduce((a, b) => a + b, 0) / batches;
  const variance = means.reduce((a, b) => a + (b - mean) ** 2, 0) / (batches - 1);
  // Student t quantile for 99 % two-sided with 99 degrees of freedom.
  const halfWidth = 2.6264 * Math.sqrt(variance / batches);
  return [mean - halfWidth, mean + halfWidth];
}
