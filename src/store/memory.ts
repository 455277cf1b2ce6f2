/**
 * In-memory Store for the simulator and unit tests. Values are deep-copied in and out, so
 * callers cannot mutate stored state; "crash" of a coordinator keeps the store (it models the
 * durable store), matching the SQLite and etcd semantics. Lease expiry follows the injected
 * store clock, so the simulator drives it with virtual time.
 */
import { assert } from '../core/assert.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import {
  checkLeaseTtl,
  claimBlocker,
  createLeaseExpired,
  requireClock,
  staleOwnership,
  staleVersion,
  type StoreClock,
} from './lease.ts';
import {
  afterSession,
  checkPageLimit,
  comparePositions,
  intentArchived,
  matchesPage,
  pageOf,
  parseSessionCursor,
  parseWalletCursor,
  retainable,
  sessionPageStart,
  walletPage,
} from './paging.ts';
import { checkPartyRecordsRoom, invitationExpired, judgeRedeem } from './party-records.ts';
import { isTerminal } from '../session/record.ts';
import type {
  ClaimOptions,
  ClaimResult,
  CreateSessionResult,
  EvidenceRecord,
  Lease,
  LeaseGuard,
  Page,
  PartyInvitation,
  PartyRecord,
  RetainedSession,
  SessionHead,
  SessionPageQuery,
  SessionVersion,
  Store,
  Versioned,
  WalletRecord,
  WalletPageQuery,
  WalletSessions,
} from './store.ts';
import { countedAtMs } from './store.ts';
import type { SessionOwner, SessionRecord } from '../session/record.ts';

const copy = <T>(value: T): T => structuredClone(value);

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** The store's clock for lease expiry (required before any lease call). */
  clock?: StoreClock;
}

interface LeaseRow {
  ownerId: string;
  ttlMs: number;
  expiresMs: number;
}

/** `record` with its owner replaced by `owner` (or removed). */
function withOwner(record: SessionRecord, owner: SessionOwner | undefined): SessionRecord {
  const { owner: _ignored, ...rest } = copy(record);
  return owner ? { ...rest, owner: { ...owner } } : rest;
}

/** Memory implementation of {@link Store}. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly parties = new Map<string, PartyRecord>();
  private readonly invitations = new Map<string, PartyInvitation>();
  private readonly wallets = new Map<string, WalletRecord>();
  private readonly sessions = new Map<string, Versioned<SessionRecord>>();
  /** Intent locks: session id and message hash; kept after retention removes the session. */
  private readonly intents = new Map<string, { sessionId: string; messageHash: string }>();
  /** Session ids per wallet: the velocity index (counted time is read from the record). */
  private readonly walletSessions = new Map<string, Set<string>>();
  private readonly evidence: EvidenceRecord[] = [];
  private readonly leases = new Map<string, LeaseRow>();
  private readonly meta = new Map<string, string>();
  /** Lease ids are never reused, even across `reopen`. */
  private leaseSeq = 0;
  private closed = false;
  private readonly clock: StoreClock | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock;
  }

  /** True iff `leaseId` is live now and (when given) held by `ownerId`. */
  private leaseLive(leaseId: string, ownerId?: string): boolean {
    const row = this.leases.get(leaseId);
    if (!row) return false;
    if (requireClock(this.clock, 'memory').nowMs() >= row.expiresMs) {
      this.leases.delete(leaseId);
      return false;
    }
    return ownerId === undefined || row.ownerId === ownerId;
  }

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

  async putParty(record: PartyRecord): Promise<void> {
    this.check();
    this.parties.set(record.partyId, copy(record));
  }

  async deleteParty(partyId: string): Promise<boolean> {
    this.check();
    this.invitations.delete(partyId);
    return this.parties.delete(partyId);
  }

  async putInvitation(inv: PartyInvitation): Promise<void> {
    this.check();
    for (const [id, old] of this.invitations) {
      if (invitationExpired(old, inv.issuedMs)) this.invitations.delete(id);
    }
    if (!this.parties.has(inv.partyId) && !this.invitations.has(inv.partyId)) {
      const ids = new Set([...this.parties.keys(), ...this.invitations.keys()]);
      checkPartyRecordsRoom(ids.size);
    }
    this.invitations.set(inv.partyId, copy(inv));
  }

  async getInvitation(partyId: string): Promise<PartyInvitation | undefined> {
    this.check();
    const inv = this.invitations.get(partyId);
    return inv && copy(inv);
  }

  async redeemInvitation(macKey: string, record: PartyRecord): Promise<PartyRecord | undefined> {
    this.check();
    const { partyId } = record;
    const outcome = judgeRedeem(
      this.invitations.get(partyId),
      macKey,
      this.parties.get(partyId),
      record,
    );
    if (!outcome) return undefined;
    this.invitations.delete(partyId);
    if (outcome.write) this.parties.set(partyId, copy(record));
    return copy(outcome.pin);
  }

  async createWallet(record: WalletRecord): Promise<boolean> {
    this.check();
    if (this.wallets.has(record.walletId)) return false;
    this.wallets.set(record.walletId, copy(record));
    return true;
  }

  async replaceWallet(next: WalletRecord, expectedRevision: number): Promise<boolean> {
    this.check();
    assert(next.revision === expectedRevision + 1, 'a replaced wallet bumps its revision');
    const stored = this.wallets.get(next.walletId);
    if (!stored || (stored.revision ?? 0) !== expectedRevision) return false;
    this.wallets.set(next.walletId, copy(next));
    return true;
  }

  async countWallets(limit: number): Promise<number> {
    this.check();
    return Math.min(this.wallets.size, limit);
  }

  async getWallet(walletId: string): Promise<WalletRecord | undefined> {
    this.check();
    const w = this.wallets.get(walletId);
    return w && copy(w);
  }

  async createSession(
    record: SessionRecord,
    options: LeaseGuard = {},
  ): Promise<CreateSessionResult> {
    this.check();
    const lockKey = `${record.walletId}\u0000${record.intentKey}`;
    const lock = this.intents.get(lockKey);
    if (lock !== undefined) {
      const existing = this.sessions.get(lock.sessionId);
      // A lock without its session is retention's tombstone: that intent is spent for good.
      if (!existing) throw intentArchived(record, lock.sessionId, lock.messageHash);
      return { created: false, session: copy(existing) };
    }
    if (this.sessions.has(record.sessionId)) {
      throw new QuorateError('QUORATE_E_INTERNAL', 'session id collision');
    }
    const { lease } = options;
    if (lease && !this.leaseLive(lease.leaseId, lease.ownerId)) {
      throw createLeaseExpired(record.sessionId, lease);
    }
    const owner = lease && { ownerId: lease.ownerId, leaseId: lease.leaseId };
    const session = { value: withOwner(record, owner), version: 1 };
    this.intents.set(lockKey, { sessionId: record.sessionId, messageHash: record.messageHash });
    this.sessions.set(record.sessionId, session);
    const ofWallet = this.walletSessions.get(record.walletId) ?? new Set<string>();
    this.walletSessions.set(record.walletId, ofWallet.add(record.sessionId));
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
    options: LeaseGuard = {},
  ): Promise<Versioned<SessionRecord>> {
    this.check();
    const current = this.sessions.get(sessionId);
    if (!current || current.version !== expectedVersion) {
      throw staleVersion(sessionId, expectedVersion, current?.version ?? null);
    }
    const owner = current.value.owner;
    const { lease } = options;
    if (lease && owner?.leaseId !== lease.leaseId) {
      throw staleOwnership(sessionId, lease, 'not-owner');
    }
    if (lease && !this.leaseLive(lease.leaseId, lease.ownerId)) {
      throw staleOwnership(sessionId, lease, 'lease-expired');
    }
    const updated = { value: withOwner(next, owner), version: expectedVersion + 1 };
    this.sessions.set(sessionId, updated);
    return copy(updated);
  }

  async claimSession(
    sessionId: string,
    expectedVersion: number,
    lease: Lease,
    options: ClaimOptions = {},
  ): Promise<ClaimResult> {
    this.check();
    const current = this.sessions.get(sessionId);
    if (!current) return { claimed: false, reason: 'not-found' };
    if (current.version !== expectedVersion) {
      return { claimed: false, reason: 'version-moved', session: copy(current) };
    }
    if (!this.leaseLive(lease.leaseId, lease.ownerId)) {
      return { claimed: false, reason: 'lease-expired', session: copy(current) };
    }
    const blocker = claimBlocker(current.value, lease, options);
    if (blocker && this.leaseLive(blocker.leaseId)) {
      return { claimed: false, reason: 'owned', session: copy(current) };
    }
    const owner = { ownerId: lease.ownerId, leaseId: lease.leaseId };
    const updated = { value: withOwner(current.value, owner), version: expectedVersion + 1 };
    this.sessions.set(sessionId, updated);
    return { claimed: true, session: copy(updated) };
  }

  async acquireLease(ownerId: string, ttlMs: number): Promise<Lease> {
    this.check();
    checkLeaseTtl(ttlMs);
    const nowMs = requireClock(this.clock, 'memory').nowMs();
    if (this.leases.size >= limits.storeLeasesMax) {
      for (const [id, row] of this.leases) if (nowMs >= row.expiresMs) this.leases.delete(id);
    }
    if (this.leases.size >= limits.storeLeasesMax) {
      throw new QuorateError('QUORATE_E_STORE_UNAVAILABLE', 'too many live leases', {
        leasesMax: limits.storeLeasesMax,
      });
    }
    this.leaseSeq += 1;
    const leaseId = `lease-${this.leaseSeq}`;
    this.leases.set(leaseId, { ownerId, ttlMs, expiresMs: nowMs + ttlMs });
    return { leaseId, ownerId, ttlMs };
  }

  async renewLease(lease: Lease): Promise<Lease | undefined> {
    this.check();
    if (!this.leaseLive(lease.leaseId, lease.ownerId)) return undefined;
    const row = this.leases.get(lease.leaseId)!;
    row.expiresMs = requireClock(this.clock, 'memory').nowMs() + row.ttlMs;
    return { leaseId: lease.leaseId, ownerId: row.ownerId, ttlMs: row.ttlMs };
  }

  async revokeLease(lease: Lease): Promise<void> {
    this.check();
    this.leases.delete(lease.leaseId);
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

  async listWalletSessions(
    walletId: string,
    sinceMs: number,
    limit: number,
  ): Promise<WalletSessions> {
    this.check();
    const counted: SessionRecord[] = [];
    for (const id of this.walletSessions.get(walletId) ?? []) {
      const stored = this.sessions.get(id);
      if (!stored) throw new QuorateError('QUORATE_E_INTERNAL', 'wallet index without session');
      if (countedAtMs(stored.value) >= sinceMs) counted.push(stored.value);
    }
    counted.sort((a, b) => countedAtMs(a) - countedAtMs(b));
    return { sessions: counted.slice(0, limit).map(copy), complete: counted.length <= limit };
  }

  async listTakeoverCandidates(lease: Lease, limit: number): Promise<SessionHead[]> {
    this.check();
    return [...this.sessions.values()]
      .filter((s) => {
        if (isTerminal(s.value.status)) return false;
        const owner = s.value.owner;
        return !owner || owner.ownerId === lease.ownerId || !this.leaseLive(owner.leaseId);
      })
      .sort((a, b) => a.value.createdMs - b.value.createdMs)
      .slice(0, limit)
      .map(({ value: { sessionId, owner } }) =>
        owner ? { sessionId, owner: { ...owner } } : { sessionId },
      );
  }

  /** Every session by (createdMs, sessionId) ascending (the simulator's stores are small). */
  private sessionsByCreation(): Versioned<SessionRecord>[] {
    return [...this.sessions.values()].sort((a, b) => comparePositions(a.value, b.value));
  }

  async listSessionsPage(query: SessionPageQuery): Promise<Page<Versioned<SessionRecord>>> {
    this.check();
    const start = sessionPageStart(query);
    const matching = this.sessionsByCreation()
      .reverse()
      .filter((s) => !start || comparePositions(s.value, start) < 0)
      .filter((s) => matchesPage(s.value, query));
    return pageOf(matching.slice(0, query.limit + 1).map(copy), query.limit, afterSession);
  }

  async listWalletsPage(query: WalletPageQuery): Promise<Page<WalletRecord>> {
    this.check();
    checkPageLimit(query.limit);
    const after = query.cursor === undefined ? undefined : parseWalletCursor(query.cursor);
    const ids = [...this.wallets.keys()].filter((id) => after === undefined || id > after).sort();
    const wallets = ids.slice(0, query.limit + 1).map((id) => copy(this.wallets.get(id)!));
    return walletPage(wallets, query.limit);
  }

  async listRetainable(
    beforeMs: number,
    cursor: string | undefined,
    limit: number,
  ): Promise<Page<RetainedSession>> {
    this.check();
    const start = cursor === undefined ? undefined : parseSessionCursor(cursor);
    const matching = this.sessionsByCreation()
      .filter((s) => !start || comparePositions(s.value, start) > 0)
      .filter((s) => retainable(s.value, beforeMs));
    const page = pageOf(matching.slice(0, limit + 1), limit, afterSession);
    const items = page.items.map((session) => ({
      session: copy(session),
      evidence: this.evidence.filter((e) => e.sessionId === session.value.sessionId).map(copy),
    }));
    return page.nextCursor === undefined ? { items } : { items, nextCursor: page.nextCursor };
  }

  async removeSessions(sessions: readonly SessionVersion[]): Promise<number> {
    this.check();
    const removed = new Set<string>();
    for (const { sessionId, version } of sessions) {
      const stored = this.sessions.get(sessionId);
      if (stored?.version !== version || !isTerminal(stored.value.status)) continue;
      this.sessions.delete(sessionId);
      this.walletSessions.get(stored.value.walletId)?.delete(sessionId);
      removed.add(sessionId);
    }
    for (let i = this.evidence.length - 1; i >= 0; i--) {
      if (removed.has(this.evidence[i]!.sessionId)) this.evidence.splice(i, 1);
    }
    return removed.size;
  }

  async getMeta(key: string): Promise<string | undefined> {
    this.check();
    return this.meta.get(key);
  }

  async putMetaIfAbsent(key: string, value: string): Promise<string> {
    this.check();
    const existing = this.meta.get(key);
    if (existing !== undefined) return existing;
    this.meta.set(key, value);
    return value;
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
