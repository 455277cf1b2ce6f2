/**
 * In-memory Store for the simulator and unit tests. Values are deep-copied in and out, so
 * callers cannot mutate stored state; "crash" of a coordinator keeps the store (it models the
 * durable store), matching the SQLite and etcd semantics.
 */
import { QuorateError } from '../core/errors.ts';
import { isTerminal } from './store.ts';
import type {
  CreateSessionResult,
  EvidenceRecord,
  PartyRecord,
  SessionRecord,
  Store,
  Versioned,
  WalletRecord,
} from './store.ts';

const copy = <T>(value: T): T => structuredClone(value);

/** Memory implementation of {@link Store}. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly parties = new Map<string, PartyRecord>();
  private readonly wallets = new Map<string, WalletRecord>();
  private readonly sessions = new Map<string, Versioned<SessionRecord>>();
  private readonly intents = new Map<string, string>();
  private readonly evidence: EvidenceRecord[] = [];
  private closed = false;

  private check(): void {
    if (this.closed) throw new QuorateError('QUORATE_E_STORE_UNAVAILABLE', 'store is closed');
  }

  async pinParty(record: PartyRecord): Promise<PartyRecord> {
    this.check();
    const existing = this.parties.get(record.partyId);
    if (existing) return copy(existing);
    this.parties.set(record.partyId, copy(record));
    return copy(record);
  }

  async getParty(partyId: string): Promise<PartyRecord | undefined> {
    this.check();
    const p = this.parties.get(partyId);
    return p && copy(p);
  }

  async listParties(): Promise<PartyRecord[]> {
    this.check();
    return [...this.parties.values()].map(copy).sort((a, b) => a.partyId.localeCompare(b.partyId));
  }

  async createWallet(record: WalletRecord): Promise<boolean> {
    this.check();
    if (this.wallets.has(record.walletId)) return false;
    this.wallets.set(record.walletId, copy(record));
    return true;
  }

  async getWallet(walletId: string): Promise<WalletRecord | undefined> {
    this.check();
    const w = this.wallets.get(walletId);
    return w && copy(w);
  }

  async createSession(record: SessionRecord): Promise<CreateSessionResult> {
    this.check();
    const lockKey = `${record.walletId}\u0000${record.intentKey}`;
    const lockedId = this.intents.get(lockKey);
    if (lockedId !== undefined) {
      const existing = this.sessions.get(lockedId);
      if (!existing) throw new QuorateError('QUORATE_E_INTERNAL', 'intent lock without session');
      return { created: false, session: copy(existing) };
    }
    if (this.sessions.has(record.sessionId)) {
      throw new QuorateError('QUORATE_E_INTERNAL', 'session id collision');
    }
    const session = { value: copy(record), version: 1 };
    this.intents.set(lockKey, record.sessionId);
    this.sessions.set(record.sessionId, session);
    return { created: true, session: copy(session) };
  }

  async getSession(sessionId: string): Promise<Versioned<SessionRecord> | undefined> {
    this.check();
    const s = this.sessions.get(sessionId);
    return s && copy(s);
  }

  async casSession(
    sessionId: string,
    expectedVersion: number,
    next: SessionRecord,
  ): Promise<Versioned<SessionRecord>> {
    this.check();
    const current = this.sessions.get(sessionId);
    if (!current || current.version !== expectedVersion) {
      throw new QuorateError('QUORATE_E_STALE_TOKEN', 'session version moved on', {
        sessionId,
        expectedVersion,
        actualVersion: current?.version ?? null,
      });
    }
    const updated = { value: copy(next), version: expectedVersion + 1 };
    this.sessions.set(sessionId, updated);
    return copy(updated);
  }

  async listActiveSessions(limit: number): Promise<Versioned<SessionRecord>[]> {
    this.check();
    return [...this.sessions.values()]
      .filter((s) => !isTerminal(s.value.status))
      .sort((a, b) => a.value.createdMs - b.value.createdMs)
      .slice(0, limit)
      .map(copy);
  }

  async listSessions(limit: number): Promise<Versioned<SessionRecord>[]> {
    this.check();
    return [...this.sessions.values()]
      .sort((a, b) => b.value.createdMs - a.value.createdMs)
      .slice(0, limit)
      .map(copy);
  }

  async putEvidence(record: EvidenceRecord): Promise<void> {
    this.check();
    this.evidence.push(copy(record));
  }

  async listEvidence(sessionId: string): Promise<EvidenceRecord[]> {
    this.check();
    return this.evidence.filter((e) => e.sessionId === sessionId).map(copy);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Simulation: the store survives a coordinator crash; reopening gives the same state. */
  reopen(): void {
    this.closed = false;
  }
}
