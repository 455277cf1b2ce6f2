/**
 * Adaptive per-round deadline: from the slowest chosen party's observed RTT percentile plus a
 * compute allowance, clamped to [floor, cap]. The deadline is fixed when the round starts and
 * never restarts on traffic (the go-tss/Vultisig bug).
 */
import { limits } from '../core/limits.ts';

/** Tunables for {@link roundTimeoutMs}. */
export interface TimeoutPolicy {
  floorMs: number;
  capMs: number;
  /** Multiplier on the RTT percentile (head-room for jitter). */
  rttMultiplier: number;
  /** Fixed allowance for party-side compute and fsync. */
  computeAllowanceMs: number;
  /** Used when a party has no RTT history yet. */
  defaultMs: number;
}

export const defaultTimeoutPolicy: TimeoutPolicy = {
  floorMs: limits.roundTimeoutMsFloor,
  capMs: limits.roundTimeoutMsCap,
  rttMultiplier: 4,
  computeAllowanceMs: 500,
  defaultMs: limits.roundTimeoutMsDefault,
};

/**
 * Round deadline for a quorum given each party's RTT p99 (ms, undefined = unknown), bounded by
 * the time left until the session deadline.
 */
export function roundTimeoutMs(
  policy: TimeoutPolicy,
  rttP99ByParty: readonly (number | undefined)[],
  sessionRemainingMs: number,
): number {
  const known = rttP99ByParty.filter((r): r is number => r !== undefined);
  const base =
    known.length < rttP99ByParty.length || known.length === 0
      ? policy.defaultMs
      : Math.max(...known) * policy.rttMultiplier + policy.computeAllowanceMs;
  const clamped = Math.min(policy.capMs, Math.max(policy.floorMs, base));
  return Math.max(0, Math.min(clamped, sessionRemainingMs));
}
