/**
 * Recent round-trip times of one party: a bounded ring of samples whose sorted copy is built
 * at most once per new sample, so percentile queries (every listing, quorum selection and round
 * deadline) cost O(1) until the next pong instead of a sort each.
 */
export class RttWindow {
  private readonly samples: number[] = [];
  private next = 0;
  private sorted: number[] | undefined;

  constructor(private readonly size: number) {}

  /** Records one round trip (ms), replacing the oldest once the window is full. */
  push(rttMs: number): void {
    if (this.samples.length < this.size) this.samples.push(rttMs);
    else {
      this.samples[this.next] = rttMs;
      this.next = (this.next + 1) % this.size;
    }
    this.sorted = undefined;
  }

  /** The `p`th percentile (0..100) of the window, undefined if it is empty. */
  percentile(p: number): number | undefined {
    if (this.samples.length === 0) return undefined;
    this.sorted ??= [...this.samples].sort((a, b) => a - b);
    const sorted = this.sorted;
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }
}
