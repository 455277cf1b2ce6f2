/**
 * Monte Carlo over time: an event-driven simulation of every share and group as an alternating
 * up/down process (exponential up times with mean MTTF; outage durations exponential, Weibull or
 * lognormal with mean MTTR) overlaid with deterministic schedules (maintenance, daily online
 * window). Months of 30 days run back to back after a warm-up; the result is the distribution of
 * monthly downtime. Pure: randomness comes from the seeded ChaCha20 stream of
 * src/core/seeded-random.ts.
 *
 * Speed (goal: 10^5 simulated months per second on one core, with schedules about 210 events per
 * month): the state is flat typed arrays built once, so the event loop allocates nothing; duration
 * laws are numbers drawn by one function (`drawDuration`), not a closure per component; schedules
 * step from boundary to boundary (`schedule-gates.ts`) instead of re-deriving phases with `%`;
 * exponentials come from a ziggurat instead of a logarithm per draw; and the system state is kept
 * as bit masks, so a change costs a popcount rather than a pass over shares and groups.
 */
import { QuorateError } from '../core/errors.ts';
import { seededRandom, type SeededRandom } from '../core/seeded-random.ts';
import type { CompiledPlacement } from './compile-placement.ts';
import { monthHours, monthMinutes, policyLimits } from '../core/limits.ts';
import type { ComponentSpec, DailyWindow } from './policy-schema.ts';
import { drawDuration, exponentialLaw, outageLaw, type DurationLaw } from './outage-sampler.ts';
import {
  advanceScheduleGates,
  compileScheduleGates,
  startScheduleGates,
  type ScheduleGates,
} from './schedule-gates.ts';

/** The label of the run's stream in src/core/seeded-random.ts (the seed is `simulation.seed`). */
const monteCarloStreamLabel = 'policy-monte-carlo';

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

/**
 * One run's model and mutable state in flat typed arrays, built once. Components are the shares
 * (0..n-1) followed by the groups (n..n+G-1).
 */
interface Simulation {
  readonly shareCount: number;
  readonly componentCount: number;
  readonly threshold: number;
  /** Law of the state being entered, as `drawDuration` arguments: 2i down time, 2i + 1 up time. */
  readonly lawKind: Uint8Array;
  readonly lawA: Float64Array;
  readonly lawB: Float64Array;
  /** Bit j set when share i needs group j. */
  readonly shareGroupMask: Int32Array;
  readonly gates: ScheduleGates;
  readonly randomUp: Uint8Array;
  readonly nextRandomHours: Float64Array;
  /** Per component min(nextRandomHours, gates.nextChangeHours): the event scan reads one array. */
  readonly nextEventHours: Float64Array;
  readonly prng: SeededRandom;
  /** Bit i set while share i is effectively up (random process and schedule both up). */
  shareUpMask: number;
  /** Bit j set while group j is effectively down. */
  groupDownMask: number;
  /** Shares that need a down group; recomputed only when a group changes (rare). */
  blockedShareMask: number;
  /** Whether the system is up, and since when it has been down if not (or the month start). */
  systemIsUp: boolean;
  downSinceHours: number;
  /** Outages begun after the warm-up. */
  outages: number;
  /** Events the run may still process (`monteCarloEventsMax` bounds the whole run). */
  eventsLeft: number;
}

function randomLaws(
  spec: ComponentSpec,
  mttrHoursDefault: number,
): { up: DurationLaw; down: DurationLaw } {
  const availability = spec.randomAvailability;
  const mttrHours = spec.rates?.mttrHours ?? mttrHoursDefault;
  const mttfHours =
    spec.rates?.mttfHours ??
    (availability >= 1 ? Infinity : (mttrHours * availability) / (1 - availability));
  return { up: exponentialLaw(mttfHours), down: outageLaw(spec.outage, mttrHours) };
}

/** Compiles the model and draws the initial state (same draw order as a component-wise start). */
function createSimulation(input: MonteCarloInput): Simulation {
  const { model } = input;
  const specs: readonly (ComponentSpec & { dailyOnline?: DailyWindow | null })[] = [
    ...model.shares,
    ...model.groups,
  ];
  const count = specs.length;
  const sim: Simulation = {
    shareCount: model.shares.length,
    componentCount: count,
    threshold: input.threshold,
    lawKind: new Uint8Array(2 * count),
    lawA: new Float64Array(2 * count),
    lawB: new Float64Array(2 * count),
    shareGroupMask: Int32Array.from(model.shareGroupMask),
    gates: compileScheduleGates(
      specs.map((s) => ({ maintenance: s.maintenance, dailyOnline: s.dailyOnline ?? null })),
    ),
    randomUp: new Uint8Array(count),
    nextRandomHours: new Float64Array(count),
    nextEventHours: new Float64Array(count),
    prng: seededRandom(input.seed, monteCarloStreamLabel),
    // Every component starts effectively up; those that begin down are flipped below.
    shareUpMask: (1 << model.shares.length) - 1,
    groupDownMask: 0,
    blockedShareMask: 0,
    systemIsUp: true,
    downSinceHours: 0,
    outages: 0,
    eventsLeft: policyLimits.monteCarloEventsMax,
  };
  specs.forEach((spec, i) => {
    const laws = randomLaws(spec, input.mttrHoursDefault);
    setLaw(sim, 2 * i, laws.down);
    setLaw(sim, 2 * i + 1, laws.up);
    const up = sim.prng.openUnit() < spec.randomAvailability ? 1 : 0;
    sim.randomUp[i] = up;
    sim.nextRandomHours[i] = drawLaw(sim, 2 * i + up);
  });
  startScheduleGates(sim.gates, 0);
  for (let i = 0; i < count; i++) {
    sim.nextEventHours[i] = Math.min(
      sim.nextRandomHours[i] as number,
      sim.gates.nextChangeHours[i] as number,
    );
    if (((sim.randomUp[i] as number) & (sim.gates.up[i] as number)) === 0) flipEffective(sim, i);
  }
  sim.systemIsUp = systemUp(sim);
  return sim;
}

function setLaw(sim: Simulation, law: number, value: DurationLaw): void {
  sim.lawKind[law] = value.kind;
  sim.lawA[law] = value.a;
  sim.lawB[law] = value.b;
}

/** A duration from law `law` (see `Simulation.lawKind`). */
function drawLaw(sim: Simulation, law: number): number {
  return drawDuration(
    sim.lawKind[law] as number,
    sim.lawA[law] as number,
    sim.lawB[law] as number,
    sim.prng,
  );
}

/** Records that component i's effective state flipped. */
function flipEffective(sim: Simulation, i: number): void {
  if (i < sim.shareCount) {
    sim.shareUpMask ^= 1 << i;
    return;
  }
  sim.groupDownMask ^= 1 << (i - sim.shareCount);
  let blocked = 0;
  for (let s = 0; s < sim.shareCount; s++) {
    if (((sim.shareGroupMask[s] as number) & sim.groupDownMask) !== 0) blocked |= 1 << s;
  }
  sim.blockedShareMask = blocked;
}

/**
 * Processes component i's next event at `tHours`; true when its effective state (random process
 * and schedule both up) changed. A random flip changes it only while the schedule is up, and a
 * schedule change only while the random process is up.
 */
function applyEvent(sim: Simulation, i: number, tHours: number): boolean {
  const gates = sim.gates;
  const randomUp = sim.randomUp[i] as number;
  const scheduleUp = gates.up[i] as number;
  const nextScheduleHours = gates.nextChangeHours[i] as number;
  if ((sim.nextRandomHours[i] as number) <= nextScheduleHours) {
    const up = 1 - randomUp;
    sim.randomUp[i] = up;
    const nextRandomHours = tHours + drawLaw(sim, 2 * i + up);
    sim.nextRandomHours[i] = nextRandomHours;
    sim.nextEventHours[i] = Math.min(nextRandomHours, nextScheduleHours);
    return scheduleUp === 1;
  }
  advanceScheduleGates(gates, i, tHours);
  sim.nextEventHours[i] = Math.min(
    sim.nextRandomHours[i] as number,
    gates.nextChangeHours[i] as number,
  );
  return randomUp === 1 && gates.up[i] !== scheduleUp;
}

/** True when at least `threshold` shares are up and have all their groups up. */
function systemUp(sim: Simulation): boolean {
  return bitCount(sim.shareUpMask & ~sim.blockedShareMask) >= sim.threshold;
}

/** Set bits of a 32-bit integer (SWAR popcount). */
function bitCount(mask: number): number {
  let v = mask - ((mask >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** The component with the earliest event before `monthEndHours` (ties: lowest index), or -1. */
function nextEventComponent(sim: Simulation, monthEndHours: number): number {
  let next = -1;
  let nextHours = monthEndHours;
  for (let i = 0; i < sim.componentCount; i++) {
    const at = sim.nextEventHours[i] as number;
    if (at < nextHours) {
      next = i;
      nextHours = at;
    }
  }
  return next;
}

/** Runs the simulation. Throws `QUORATE_E_POLICY_INVALID` if the event budget runs out. */
export function simulateMonths(input: MonteCarloInput): MonteCarloResult {
  const sim = createSimulation(input);
  const warmup = policyLimits.monteCarloWarmupMonths;
  const downtimeMinutes = new Float64Array(input.months);
  for (let month = 0; month < warmup; month++) simulateMonth(sim, (month + 1) * monthHours, false);
  for (let m = 0; m < input.months; m++) {
    downtimeMinutes[m] = simulateMonth(sim, (warmup + m + 1) * monthHours, true) * 60;
    if ((m + 1) % policyLimits.monteCarloProgressMonths === 0)
      input.onProgress?.(m + 1, input.months);
  }
  return summarise(input, downtimeMinutes, sim.outages);
}

/**
 * Processes every event up to `monthEndHours` and returns the system's downtime in the month, in
 * hours. The event loop lives here, in a function called once per month, so V8 optimises it as a
 * whole with the helpers inlined rather than through on-stack replacement of one long loop.
 */
function simulateMonth(sim: Simulation, monthEndHours: number, countOutages: boolean): number {
  let downHours = 0;
  let eventsLeft = sim.eventsLeft;
  for (; eventsLeft > 0; eventsLeft--) {
    const next = nextEventComponent(sim, monthEndHours);
    if (next < 0) break;
    const tHours = sim.nextEventHours[next] as number;
    // Only a change of the component's effective state can change the system's.
    if (!applyEvent(sim, next, tHours)) continue;
    flipEffective(sim, next);
    const up = systemUp(sim);
    if (up === sim.systemIsUp) continue;
    sim.systemIsUp = up;
    // Downtime is added when an outage ends or the month ends, not at every event.
    if (up) downHours += tHours - sim.downSinceHours;
    else {
      sim.downSinceHours = tHours;
      if (countOutages) sim.outages += 1;
    }
  }
  sim.eventsLeft = eventsLeft;
  if (eventsLeft === 0) {
    throw new QuorateError('QUORATE_E_POLICY_INVALID', 'simulation: event budget exhausted', {
      path: 'simulation.months',
      problem: `more than ${policyLimits.monteCarloEventsMax} events; lower simulation.months`,
    });
  }
  if (!sim.systemIsUp) downHours += monthEndHours - sim.downSinceHours;
  sim.downSinceHours = monthEndHours;
  return downHours;
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
