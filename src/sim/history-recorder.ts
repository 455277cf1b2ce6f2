/** Appends events to a bounded history, stamped with the scheduler's virtual time. */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { HistoryEvent, NewHistoryEvent } from '../checker/history.ts';
import type { Scheduler } from './scheduler.ts';

/** The history of one run. */
export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];

  constructor(private readonly scheduler: Scheduler) {}

  /** Records `event` at the current virtual time. */
  add(event: Omit<NewHistoryEvent, 'timeMs'>): void {
    assert(this.events.length < limits.simHistoryEventsMax, 'history within bound');
    this.events.push({
      ...event,
      index: this.events.length,
      timeMs: this.scheduler.nowMs,
    } as HistoryEvent);
  }
}
