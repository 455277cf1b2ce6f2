/**
 * The client's requests, planned from the seed: a set rate with seeded jitter, about 15 % of
 * requests repeating an earlier intentKey with the same message (must join the same session)
 * and about 10 % repeating one with a different message (must be refused, never signed). Pure.
 */
import { chaosLimits } from '../core/limits.ts';
import { seededRandom } from '../core/seeded-random.ts';

/** One logical request (its tries share the intent and message). */
export interface PlannedRequest {
  requestId: string;
  /** ms after the workload starts. */
  atMs: number;
  intentKey: string;
  messageHex: string;
  deadlineMs: number;
}

/** Plans requests at `ratePerS` over `[0, untilMs)`. */
export function planWorkload(
  seed: number,
  ratePerS: number,
  untilMs: number,
  deadlineMs: number = chaosLimits.requestDeadlineMs,
): PlannedRequest[] {
  if (!(ratePerS > 0 && ratePerS <= chaosLimits.ratePerSMax))
    throw new RangeError(`rate must be in (0, ${chaosLimits.ratePerSMax}] per second`);
  const rng = seededRandom(seed, 'workload');
  const gapMs = 1_000 / ratePerS;
  const plans: PlannedRequest[] = [];
  for (let at = gapMs / 2; at < untilMs && plans.length < chaosLimits.requestsMax; at += gapMs) {
    const i = plans.length;
    const previous = i > 0 ? rng.pick(plans.slice(-20)) : undefined;
    const roll = rng.unit();
    const fresh = { intentKey: `intent-${seed}-${i}`, messageHex: rng.hex(32) };
    const shape =
      previous && roll < 0.15
        ? { intentKey: previous.intentKey, messageHex: previous.messageHex }
        : previous && roll < 0.25
          ? { intentKey: previous.intentKey, messageHex: rng.hex(32) }
          : fresh;
    const jitter = (rng.unit() - 0.5) * gapMs * 0.5;
    plans.push({
      requestId: `r${i}`,
      atMs: Math.max(0, Math.round(at + jitter)),
      ...shape,
      deadlineMs,
    });
  }
  return plans;
}
