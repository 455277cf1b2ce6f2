/**
 * Bounds of the signing-time rule engine, unit last. They keep a rule file, one evaluation and one
 * velocity computation small and finite. Relations between them are asserted at load.
 */
import { assert } from '../../core/assert.ts';
import { limits } from '../../core/limits.ts';

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;

/** Rule-engine bounds. */
export const ruleLimits = {
  /** Tiers (rule sets) in one file. */
  tiersMax: 64,
  /** Wallet → tier bindings in one file. */
  walletBindingsMax: 10_000,
  /** Rules in one tier. */
  rulesPerTierMax: 64,
  /** Characters of one CEL condition; bounds parse depth. */
  conditionCharsMax: 2_000,
  /**
   * Worst-case evaluation steps of one condition, and of all conditions of one tier (one
   * request evaluates every rule of its tier), estimated at load (cel-cost.ts). A `destination
   * in lists.allowed` over a full 10 000-entry list costs ≈10 000; `exists` over it ≈80 000.
   */
  conditionCostMax: 100_000,
  tierCostMax: 250_000,
  /** Named approvers in one file, and approvers in one approval group. */
  approversMax: 64,
  /** Assets declared in one file. */
  assetsMax: 256,
  /** Decimals of an asset: 10^18 is the largest power of ten below 2^63. */
  assetDecimalsMax: 18,
  /** Named lists, and entries per list (allowlists of destinations). */
  listsMax: 64,
  listEntriesMax: 10_000,
  /** Length of one list entry (a destination address), as for request context fields. */
  listEntryCharsMax: limits.contextFieldLengthMax,
  /** Velocity limits on one rule. */
  velocityLimitsPerRuleMax: 8,
  /** Shortest and longest velocity window. */
  velocityWindowMsMin: 60_000,
  velocityWindowMsMax: 30 * dayMs,
  /** Counted events one evaluation reads; beyond it the request is denied (fail closed). */
  velocityEventsMax: 1_000_000,
  /** Signed approvals one check reads. */
  approvalsPerCheckMax: 256,
} as const;

/** Windows exposed to CEL as `velocity.count<name>` and `velocity.amount<name>`. */
export const celVelocityWindows = [
  { name: '1h', windowMs: hourMs },
  { name: '24h', windowMs: dayMs },
  { name: '7d', windowMs: 7 * dayMs },
  { name: '30d', windowMs: 30 * dayMs },
] as const;

/** Largest int64 (CEL `int`): amounts and sums saturate here. */
export const int64Max = 2n ** 63n - 1n;

assert(ruleLimits.velocityWindowMsMin < ruleLimits.velocityWindowMsMax, 'window range');
assert(
  celVelocityWindows.every((w) => w.windowMs <= ruleLimits.velocityWindowMsMax),
  'CEL windows within the retention window',
);
assert(10n ** BigInt(ruleLimits.assetDecimalsMax) <= int64Max, 'one unit fits in an int64');
assert(ruleLimits.listEntryCharsMax > 0, 'list entries hold something');
