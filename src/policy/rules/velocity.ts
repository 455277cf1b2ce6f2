/**
 * Velocity: sliding-window counters over the signatures already counted for a wallet, and the
 * limits rules put on them. Pure: the store keeps the events durably and passes them in.
 *
 * A window of W ms at time `nowMs` holds the events with `atMs > nowMs − W`. Events stamped in the
 * future (another replica's clock runs ahead) are inside every window: over-counting is the safe
 * side. `count` counts every event of the wallet; `amount` sums the events of the request's asset.
 */
import { amountMinorRounded, formatMinor } from './decimal-amount.ts';
import { int64Max, ruleLimits } from '../../core/limits.ts';
import type { AssetSpec, VelocityLimit } from './rule-schema.ts';

/** One counted signature request, as the store keeps it. */
export interface VelocityEvent {
  /** The session that was counted; a re-check of the same session excludes its own event. */
  readonly sessionId: string;
  readonly atMs: number;
  /** The request's asset and decimal amount, or null when it had none. */
  readonly asset: string | null;
  readonly amount: string | null;
}

/** Count and amount (minor units of one asset) inside one window. */
export interface WindowTotals {
  readonly count: number;
  /** Null when no asset was given (amounts of different assets do not add up). */
  readonly amountMinor: bigint | null;
}

const windowPattern = /^([1-9]\d{0,5})(m|h|d)$/;
const unitMs = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `90m`, `24h`, `7d` into ms; null if malformed or outside the allowed range. */
export function parseWindowMs(text: string): number | null {
  const match = windowPattern.exec(text);
  if (match === null) return null;
  const windowMs = Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
  const inRange =
    windowMs >= ruleLimits.velocityWindowMsMin && windowMs <= ruleLimits.velocityWindowMsMax;
  return inRange ? windowMs : null;
}

/**
 * Totals of `events` inside the window ending at `nowMs`, excluding `excludeSessionId`'s own
 * event. Amounts are summed for `asset` only, rounded up to its minor units, saturating at int64.
 */
export function windowTotals(
  events: readonly VelocityEvent[],
  nowMs: number,
  windowMs: number,
  asset: AssetSpec | null,
  excludeSessionId: string | null,
): WindowTotals {
  const startMs = nowMs - windowMs;
  let count = 0;
  let amountMinor = 0n;
  for (const event of events) {
    if (event.atMs <= startMs || event.sessionId === excludeSessionId) continue;
    count += 1;
    if (asset === null || event.asset !== asset.id || event.amount === null) continue;
    amountMinor += amountMinorRounded(event.amount, asset.decimals, 'up');
    if (amountMinor > int64Max) amountMinor = int64Max;
  }
  return { count, amountMinor: asset === null ? null : amountMinor };
}

/** The request being checked against a limit. */
export interface VelocityRequest {
  readonly asset: AssetSpec | null;
  readonly amountMinor: bigint | null;
}

/**
 * Checks one limit with the current request included: count + 1 against `maxCount`, window sum
 * + request amount against `maxAmount` (in the request's asset). Returns null when within the
 * limit, otherwise the reason. An amount limit on a request without amount or declared asset
 * denies (it cannot be checked).
 */
export function velocityLimitExceeded(
  limit: VelocityLimit,
  totals: WindowTotals,
  request: VelocityRequest,
): string | null {
  if (limit.maxCount !== null && totals.count + 1 > limit.maxCount) {
    return `${totals.count + 1} requests in ${limit.window} would exceed maxCount ${limit.maxCount}`;
  }
  if (limit.maxAmount === null) return null;
  if (request.asset === null || request.amountMinor === null || totals.amountMinor === null) {
    return `maxAmount ${limit.maxAmount} per ${limit.window} needs the request's amount and a declared asset`;
  }
  const { decimals, id } = request.asset;
  const maxMinor = amountMinorRounded(limit.maxAmount, decimals, 'down');
  const total = totals.amountMinor + request.amountMinor;
  if (total <= maxMinor) return null;
  return `${formatMinor(total, decimals)} ${id} in ${limit.window} would exceed maxAmount ${limit.maxAmount}`;
}
