/**
 * Validation of the fields shares and groups share: availability or rates, maintenance windows,
 * outage duration distributions and daily online windows.
 */
import { policyLimits } from '../core/limits.ts';
import {
  childPath,
  policyInvalid,
  readNumber,
  readObject,
  requireChoice,
  requireNumber,
  type RawObject,
} from './policy-field-reader.ts';
import type {
  DailyWindow,
  MaintenanceWindow,
  OutageDistribution,
  RateSpec,
} from './policy-schema.ts';

const durationRange = {
  min: policyLimits.durationHoursMin,
  max: policyLimits.durationHoursMax,
} as const;

/** The random process of a component: exactly one of `availability` or `mttfHours`+`mttrHours`. */
export function readRandomProcess(
  raw: RawObject,
  path: string,
): { randomAvailability: number; rates: RateSpec | null } {
  const availability = readNumber(raw['availability'], childPath(path, 'availability'), {
    min: 0,
    max: 1,
    minExclusive: true,
  });
  const mttfHours = readNumber(raw['mttfHours'], childPath(path, 'mttfHours'), durationRange);
  const mttrHours = readNumber(raw['mttrHours'], childPath(path, 'mttrHours'), durationRange);
  const hasRates = mttfHours !== undefined || mttrHours !== undefined;
  if (availability !== undefined && hasRates) {
    throw policyInvalid(path, 'give either availability or mttfHours+mttrHours, not both');
  }
  if (availability !== undefined) return { randomAvailability: availability, rates: null };
  if (mttfHours === undefined || mttrHours === undefined) {
    const missing = mttfHours === undefined ? 'mttfHours' : 'mttrHours';
    if (hasRates) throw policyInvalid(childPath(path, missing), 'is required with the other rate');
    throw policyInvalid(path, 'needs availability or mttfHours+mttrHours');
  }
  return {
    randomAvailability: mttfHours / (mttfHours + mttrHours),
    rates: { mttfHours, mttrHours },
  };
}

/** `maintenance: { everyHours, durationHours, offsetHours? }`. */
export function readMaintenance(value: unknown, path: string): MaintenanceWindow | null {
  if (value === undefined) return null;
  const raw = readObject(value, path, ['everyHours', 'durationHours', 'offsetHours']);
  const everyHours = requireNumber(raw['everyHours'], childPath(path, 'everyHours'), durationRange);
  const durationHours = requireNumber(raw['durationHours'], childPath(path, 'durationHours'), {
    min: policyLimits.durationHoursMin,
    max: everyHours,
    maxExclusive: true,
  });
  const offsetHours =
    readNumber(raw['offsetHours'], childPath(path, 'offsetHours'), {
      min: 0,
      max: everyHours,
      maxExclusive: true,
    }) ?? 0;
  return { everyHours, durationHours, offsetHours };
}

/** `outage: { distribution: exponential | weibull (shape) | lognormal (sigma) }`. */
export function readOutage(value: unknown, path: string): OutageDistribution {
  if (value === undefined) return { distribution: 'exponential' };
  const raw = readObject(value, path, ['distribution', 'shape', 'sigma']);
  const distribution = requireChoice(raw['distribution'], childPath(path, 'distribution'), [
    'exponential',
    'weibull',
    'lognormal',
  ] as const);
  const allowed = { exponential: [], weibull: ['shape'], lognormal: ['sigma'] }[distribution];
  for (const key of ['shape', 'sigma']) {
    if (raw[key] !== undefined && !(allowed as string[]).includes(key)) {
      throw policyInvalid(childPath(path, key), `does not apply to ${distribution}`);
    }
  }
  if (distribution === 'weibull') {
    const shape = requireNumber(raw['shape'], childPath(path, 'shape'), { min: 0.1, max: 20 });
    return { distribution, shape };
  }
  if (distribution === 'lognormal') {
    const sigma = requireNumber(raw['sigma'], childPath(path, 'sigma'), { min: 0.01, max: 4 });
    return { distribution, sigma };
  }
  return { distribution };
}

/** `dailyOnline: { fromHour, toHour }`, hours of the day in [0, 24), may wrap midnight. */
export function readDailyOnline(value: unknown, path: string): DailyWindow | null {
  if (value === undefined) return null;
  const raw = readObject(value, path, ['fromHour', 'toHour']);
  const hourRange = { min: 0, max: 24, maxExclusive: true } as const;
  const fromHour = requireNumber(raw['fromHour'], childPath(path, 'fromHour'), hourRange);
  const toHour = requireNumber(raw['toHour'], childPath(path, 'toHour'), hourRange);
  const onlineHours = (toHour - fromHour + 24) % 24;
  if (onlineHours < policyLimits.durationHoursMin) {
    throw policyInvalid(path, 'the online window is empty (fromHour equals toHour)');
  }
  return { fromHour, toHour };
}
