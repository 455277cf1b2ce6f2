/**
 * A virtual {@link Env} for one simulated node: wall clock = true virtual time + epoch + the
 * node's skew (which a nemesis may change mid-run), in whole milliseconds as a real wall clock gives
 * them (virtual time itself is fractional: link latencies are), monotonic clock = true virtual time + a
 * per-node offset (processes start at different times; monotonic clocks never jump), timers
 * on the shared {@link Scheduler}, seeded randomness, and a silent log.
 *
 * Each node has an incarnation: a crash ends it, and timers armed by a dead incarnation never
 * fire, exactly as a killed process never runs its callbacks again.
 */
import type { Env } from '../core/env.ts';
import { silentLog } from '../core/env.ts';
import type { Scheduler } from './scheduler.ts';
import type { SeededRandom } from '../core/seeded-random.ts';

/** 2024-01-01T00:00:00Z: virtual time 0 on an unskewed wall clock. */
export const simEpochMs = 1_704_067_200_000;

/** One process lifetime of a node. */
export interface Incarnation {
  readonly number: number;
  alive: boolean;
}

/** A simulated host: its clock error and its current process. */
export class SimNode {
  skewMs = 0;
  incarnation: Incarnation = { number: 1, alive: true };

  constructor(
    readonly name: string,
    private readonly scheduler: Scheduler,
    private readonly rng: SeededRandom,
    private readonly monoOffsetMs: number,
  ) {}

  get up(): boolean {
    return this.incarnation.alive;
  }

  /** Kills the current process: its timers never fire again. */
  crash(): void {
    this.incarnation.alive = false;
  }

  /** Starts a new process on this host. */
  restart(): void {
    this.incarnation = { number: this.incarnation.number + 1, alive: true };
  }

  /** The Env handed to the process of the current incarnation. */
  env(): Env {
    const incarnation = this.incarnation;
    const scheduler = this.scheduler;
    return {
      nowMs: () => Math.floor(simEpochMs + scheduler.nowMs + this.skewMs),
      monoMs: () => scheduler.nowMs + this.monoOffsetMs,
      setTimer: (delayMs, fn) =>
        scheduler.schedule(delayMs, () => {
          if (incarnation.alive) fn();
        }),
      randomBytes: (length) => this.rng.bytes(length),
      log: silentLog,
    };
  }
}
