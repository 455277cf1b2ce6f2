/**
 * Phi-accrual failure detector (Hayashibara et al.), pure: it is fed heartbeat arrival times
 * and asked for phi at a given time. phi = -log10(P(next heartbeat arrives later than now)),
 * with inter-arrival times modelled as a normal distribution over a bounded window.
 */

/** Tunables. */
export interface PhiOptions {
  /** phi at or above which a party is `suspect`. */
  threshold: number;
  /** Inter-arrival samples kept (bounded window). */
  windowSize: number;
  /** Lower bound on the standard deviation (ms) so a very regular stream is not over-eager. */
  minStdDevMs: number;
  /** Extra pause tolerated on top of the mean (ms), e.g. for GC. */
  acceptablePauseMs: number;
  /** Expected interval, used to seed the window before samples exist. */
  firstIntervalMs: number;
  /** Intervals longer than this many expected intervals are outages and are not learned. */
  outageFactor: number;
}

export const defaultPhiOptions: PhiOptions = {
  threshold: 8,
  windowSize: 100,
  minStdDevMs: 100,
  acceptablePauseMs: 0,
  firstIntervalMs: 1000,
  outageFactor: 3,
};

/**
 * Per-party detector state. The window is a ring buffer with running sums, so a heartbeat and
 * a phi query cost O(1) whatever `windowSize` is: the coordinator asks for phi of every
 * connected party (10 000 of them at scale) on every listing and quorum selection.
 */
export class PhiAccrualDetector {
  private readonly intervals: number[] = [];
  /** Next slot of `intervals` to overwrite once the window is full. */
  private next = 0;
  private sum = 0;
  private sumSquares = 0;
  /** Samples added since the sums were last recomputed exactly (bounds float drift). */
  private addedSinceExact = 0;
  private lastArrivalMs: number | undefined;

  constructor(private readonly options: PhiOptions = defaultPhiOptions) {}

  /**
   * Records a heartbeat arrival at `nowMs` (monotonic). With `learn` false the arrival only
   * restarts the silence, and the interval since the previous one is not learned (the first
   * answer on a new connection comes after an arbitrary part of an interval).
   */
  heartbeat(nowMs: number, learn = true): void {
    if (this.lastArrivalMs !== undefined && learn) {
      const interval = nowMs - this.lastArrivalMs;
      // An interval far beyond the expected one is an outage (a pause, a partition), not
      // jitter: learning it would make the next outage take ever longer to detect.
      // Likewise an interval long enough to have made the party suspect.
      const outage =
        interval > this.options.firstIntervalMs * this.options.outageFactor ||
        this.phi(nowMs) >= this.options.threshold;
      if (interval > 0 && !outage) this.learn(interval);
    } else if (this.lastArrivalMs === undefined) {
      // Seed with the expected interval so phi is meaningful after the first heartbeat.
      this.learn(this.options.firstIntervalMs);
    }
    this.lastArrivalMs = nowMs;
  }

  private learn(interval: number): void {
    if (this.intervals.length < this.options.windowSize) {
      this.intervals.push(interval);
    } else {
      const old = this.intervals[this.next] ?? 0;
      this.intervals[this.next] = interval;
      this.next = (this.next + 1) % this.options.windowSize;
      this.sum -= old;
      this.sumSquares -= old * old;
    }
    this.sum += interval;
    this.sumSquares += interval * interval;
    this.addedSinceExact += 1;
    if (this.addedSinceExact >= this.options.windowSize) {
      // Once per window: exact sums again, so subtracting never accumulates rounding error.
      this.sum = this.intervals.reduce((s, x) => s + x, 0);
      this.sumSquares = this.intervals.reduce((s, x) => s + x * x, 0);
      this.addedSinceExact = 0;
    }
  }

  /** Time of the last heartbeat, if any. */
  get lastHeartbeatMs(): number | undefined {
    return this.lastArrivalMs;
  }

  /** phi at `nowMs`; Infinity-free (capped) so it serialises. */
  phi(nowMs: number): number {
    if (this.lastArrivalMs === undefined) return 0;
    const n = this.intervals.length;
    const mean = this.sum / n;
    const variance = Math.max(0, this.sumSquares / n - mean * mean);
    const std = Math.max(Math.sqrt(variance), this.options.minStdDevMs);
    const elapsed = nowMs - this.lastArrivalMs;
    const z = (elapsed - mean - this.options.acceptablePauseMs) / std;
    // Logistic approximation of the normal tail (as in Akka's detector).
    const e = Math.exp(-z * (1.5976 + 0.070566 * z * z));
    const pLater = z > 0 ? e / (1 + e) : 1 - 1 / (1 + e);
    return Math.min(100, -Math.log10(Math.max(pLater, 1e-100)));
  }

  /** True if phi is at or above the threshold. */
  isSuspect(nowMs: number): boolean {
    return this.phi(nowMs) >= this.options.threshold;
  }
}
