/**
 * How long a party asked as a hedge extra waits before it draws a nonce (src/party/runtime.ts):
 * twice the 90th percentile of how long the discards of its recent extra attempts took to
 * arrive after their sign-starts (so that most arrive within it), within [`hedgeExtraGraceMsMin`, `hedgeExtraGraceMsMax`]. A loaded
 * coordinator answers later, so its extras wait longer and spend less of the CPU that its
 * quorums need; an idle one gets its extras' commitments sooner. No sample yet: the initial.
 */
import { limits } from '../core/limits.ts';

export class HedgeGrace {
  private readonly samples: number[] = [];
  private next = 0;

  /** The grace to wait now (ms). */
  get ms(): number {
    if (this.samples.length === 0) return limits.hedgeExtraGraceMsInitial;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const p90 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))] ?? 0;
    return Math.min(limits.hedgeExtraGraceMsMax, Math.max(limits.hedgeExtraGraceMsMin, 2 * p90));
  }

  /** A discard of an extra attempt arrived `delayMs` after its sign-start. */
  observe(delayMs: number): void {
    if (!Number.isFinite(delayMs) || delayMs < 0) return;
    if (this.samples.length < limits.hedgeGraceSamples) this.samples.push(delayMs);
    else this.samples[this.next] = delayMs;
    this.next = (this.next + 1) % limits.hedgeGraceSamples;
  }
}
