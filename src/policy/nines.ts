/** Availability expressed in "nines": −log10(unavailability), capped at `policyLimits.ninesMax`. */
import { policyLimits } from '../core/limits.ts';

/** Nines of an unavailability; 0.001 → 3. Capped because doubles cannot resolve 1 − 1e-16. */
export function ninesOf(unavailability: number): number {
  if (unavailability <= 0) return policyLimits.ninesMax;
  return Math.min(policyLimits.ninesMax, Math.max(0, -Math.log10(unavailability)));
}
