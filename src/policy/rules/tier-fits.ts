/**
 * Whether a wallet's threshold and parties are exactly a tier's: the coordinator checks it before
 * a key generation, and every party checks it again against its own copy of the policy.
 */
import type { Tier } from './rule-schema.ts';

/** True if `threshold` and the set of `parties` are the tier's own. */
export function tierFits(tier: Tier, threshold: number, parties: readonly string[]): boolean {
  return (
    tier.threshold === threshold &&
    tier.shares.length === parties.length &&
    tier.shares.every((p) => parties.includes(p))
  );
}
