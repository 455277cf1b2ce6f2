/**
 * What the harness watches while a seed runs, as an operator would: party liveness as the
 * coordinator reports it (recorded in the history), and what each live party holds (nonces
 * still issued, sessions in memory) for the checker's I6.
 */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { StateObservation } from '../checker/types.ts';
import type { SimCluster } from './cluster.ts';
import type { HistoryRecorder } from './history-recorder.ts';
import type { Scheduler } from './scheduler.ts';

const monitorEveryMs = 100;
const observeEveryMs = 250;

/** True when no live party holds a session or an issued nonce. */
export function partiesIdle(cluster: SimCluster): boolean {
  for (const party of cluster.parties.values()) {
    if (!party.node.up) continue;
    if ((party.runtime?.activeSessions ?? 0) > 0 || party.journal.countIssued() > 0) return false;
  }
  return true;
}

/** Polls party liveness as `GET /v1/parties` would, recording changes. */
export function startMonitor(
  scheduler: Scheduler,
  cluster: SimCluster,
  history: HistoryRecorder,
): void {
  const last = new Map<string, string>();
  const tick = () => {
    const coordinator = cluster.coordinator;
    if (coordinator) {
      for (const p of coordinator.parties()) {
        if (last.get(p.partyId) === p.state) continue;
        last.set(p.partyId, p.state);
        history.add({
          process: 'monitor',
          type: 'info',
          f: 'party-state',
          value: { partyId: p.partyId, state: p.state },
        });
      }
    } else last.clear();
    scheduler.schedule(monitorEveryMs, tick);
  };
  tick();
}

/** Records what each live party holds every `observeEveryMs`. */
export function startObserver(
  scheduler: Scheduler,
  cluster: SimCluster,
  observations: StateObservation[],
): void {
  const tick = () => {
    observe(scheduler, cluster, observations, false);
    scheduler.schedule(observeEveryMs, tick);
  };
  scheduler.schedule(observeEveryMs, tick);
}

/** Records what each live party holds (only non-empty snapshots, unless `always`). */
export function observe(
  scheduler: Scheduler,
  cluster: SimCluster,
  observations: StateObservation[],
  always: boolean,
): void {
  for (const party of cluster.parties.values()) {
    if (!party.node.up) continue;
    const issued = party.journal
      .nonces()
      .filter((e) => e.state === 'issued')
      .map((e) => ({ sessionId: e.sessionId, attempt: e.attempt, token: e.token }));
    const activeSessions = party.runtime?.activeSessions ?? 0;
    if (!always && issued.length === 0 && activeSessions === 0) continue;
    assert(observations.length < limits.simHistoryEventsMax, 'observations within bound');
    observations.push({ timeMs: scheduler.nowMs, partyId: party.partyId, activeSessions, issued });
  }
}
