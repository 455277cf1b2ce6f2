/**
 * The simulator's virtual time: a priority queue of timers ordered by (due time, insertion
 * sequence), so ties break deterministically in scheduling order. Between two timers the
 * microtask queue is drained (the runtimes use promises around the store), which is exactly
 * what Node's event loop does between two macrotasks; nothing else real is awaited, so a run
 * is a pure function of its seed.
 */
import { assert } from '../core/assert.ts';
import { nextMacrotask as macrotask } from '../core/env.ts';
import { limits } from '../core/limits.ts';

/** A scheduled callback. */
interface Timer {
  atMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

function before(a: Timer, b: Timer): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

/** Virtual clock plus timer heap. Time starts at 0 and only moves forward. */
export class Scheduler {
  private heap: Timer[] = [];
  private seq = 0;
  private now = 0;
  private steps = 0;
  /** Errors thrown by callbacks (a real process would have crashed); the run reports them. */
  readonly crashes: string[] = [];

  /** Virtual milliseconds since the start of the run. */
  get nowMs(): number {
    return this.now;
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Runs `fn` after `delayMs` of virtual time; returns a cancel function. */
  schedule(delayMs: number, fn: () => void): () => void {
    assert(Number.isFinite(delayMs), 'timer delay is finite');
    assert(this.heap.length < limits.simTimersPendingMax, 'pending timers within bound');
    const timer: Timer = {
      atMs: this.now + Math.max(0, delayMs),
      seq: this.seq++,
      fn,
      cancelled: false,
    };
    this.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /**
   * Fires timers in order until virtual time would pass `untilMs` or `stop()` returns true,
   * draining microtasks after each one. Bounded by `limits.simStepsMax` steps.
   */
  async runUntil(untilMs: number, stop: () => boolean = () => false): Promise<void> {
    await macrotask();
    for (; this.steps < limits.simStepsMax; this.steps++) {
      if (stop()) return;
      const next = this.heap[0];
      if (!next || next.atMs > untilMs) {
        this.now = Math.max(this.now, untilMs);
        return;
      }
      this.pop();
      if (next.cancelled) continue;
      this.now = next.atMs;
      try {
        next.fn();
      } catch (error) {
        this.crashes.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
      }
      await macrotask();
    }
    assert(false, `simulation exceeded ${limits.simStepsMax} steps`);
  }

  private push(timer: Timer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as Timer;
      if (!before(timer, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = timer;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (!last || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let mt: Timer = last;
      const lt = h[l];
      if (lt && before(lt, mt)) {
        m = l;
        mt = lt;
      }
      const rt = h[r];
      if (rt && before(rt, mt)) m = r;
      if (m === i) break;
      h[i] = h[m] as Timer;
      i = m;
    }
    h[i] = last;
  }
}
