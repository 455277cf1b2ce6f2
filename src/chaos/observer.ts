/**
 * Reads each live party's journal during the run (read-only) for the nonces it still holds
 * `issued` (invariant I6). A killed party is skipped until its restarted process has reopened
 * the journal (which voids the dead process's nonces); a paused one is skipped until resumed.
 */
import { existsSync } from 'node:fs';
import type { StateObservation } from '../checker/types.ts';
import { chaosLimits } from '../core/limits.ts';
import { JournalFileReader } from '../party/journal-sqlite.ts';
import type { ChaosProcesses } from './processes.ts';

export class JournalObserver {
  readonly observations: StateObservation[] = [];
  private readonly dbs = new Map<string, JournalFileReader>();
  /** Party → op-log seq of the last `open` before it was killed. */
  private readonly staleUntilOpenAfter = new Map<string, number>();

  constructor(
    private readonly processes: ChaosProcesses,
    private readonly parties: readonly string[],
  ) {}

  private db(partyId: string): JournalFileReader | undefined {
    const existing = this.dbs.get(partyId);
    if (existing) return existing;
    const path = this.processes.journalPath(partyId);
    if (!existsSync(path)) return undefined;
    const db = new JournalFileReader(path);
    this.dbs.set(partyId, db);
    return db;
  }

  /** Call before killing a party: its ledger is stale until the next process opens it. */
  markKilled(partyId: string): void {
    const db = this.db(partyId);
    if (db) this.staleUntilOpenAfter.set(partyId, db.lastOpenSeq());
  }

  /** One observation round at harness time `timeMs` (only non-empty snapshots unless `always`). */
  observe(timeMs: number, always = false): void {
    for (const partyId of this.parties) {
      if (!this.processes.isRunning(partyId) || this.processes.isPaused(partyId)) continue;
      try {
        const db = this.db(partyId);
        if (!db) continue;
        const stale = this.staleUntilOpenAfter.get(partyId);
        if (stale !== undefined) {
          if (db.lastOpenSeq() <= stale) continue;
          this.staleUntilOpenAfter.delete(partyId);
        }
        const issued = db.issuedNonces();
        if (!always && issued.length === 0) continue;
        if (this.observations.length >= chaosLimits.historyEventsMax) return;
        this.observations.push({ timeMs, partyId, activeSessions: 0, issued });
      } catch {
        // The file is busy or being created; the next round reads it.
      }
    }
  }

  close(): void {
    for (const db of this.dbs.values()) db.close();
    this.dbs.clear();
  }
}
