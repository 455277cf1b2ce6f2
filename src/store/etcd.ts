/**
 * etcd Store (clusters of coordinator replicas), on etcd v3 through its JSON gateway (see
 * etcd-gateway.ts for the client choice). Rules:
 *
 * - Reads are linearizable (never `serializable`).
 * - Every session change is one txn whose compare includes the session key's `mod_revision`
 *   as last read; create-if-absent (intent locks, sessions, parties, wallets) compares
 *   `create_revision == 0`.
 * - The session version (fencing token) is the session key's etcd `version`: 1 when the txn
 *   creates it, +1 for every put. Only retention deletes a session (finished, and its id is
 *   never created again: the intent lock stays and ids are unique), so it is exactly the Store
 *   contract's `expectedVersion + 1` and strictly increasing.
 * - The `active/` index entry of a session holds its owner (`{ownerId, leaseId}` or null), so
 *   the takeover scan reads owners from the index and live leases from `lease/`, not bodies. The `mod_revision` compare is what
 *   makes each write atomic against the state we judged; a version and its `mod_revision` change
 *   together in one MVCC step, so they name the same state.
 * - Ownership: a store lease is an etcd lease with one key `lease/{id}` = ownerId attached;
 *   etcd deletes the key when the lease expires. Guarded writes compare that key's value, and a
 *   takeover compares the previous owner's key as absent, in the same txn as the revision.
 * - A write retried after a timeout may already have been applied; each stored session and
 *   wallet carries a random `writeId`, so a failed compare that finds our own `writeId` is
 *   recognised as our success, not misreported as a conflict.
 */
import { assert } from '../core/assert.ts';
import type { Env } from '../core/env.ts';
import { bytesToHex } from '../core/encoding.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import {
  EtcdGateway,
  etcd,
  parseEtcdEndpoints,
  type EtcdKv,
  type EtcdOp,
  type EtcdTlsOptions,
} from './etcd-gateway.ts';
import {
  checkLeaseTtl,
  claimBlocker,
  createLeaseExpired,
  staleOwnership,
  staleVersion,
} from './lease.ts';
import {
  checkPageLimit,
  intentArchived,
  matchesPage,
  parseSessionCursor,
  parseWalletCursor,
  retainable,
  sessionCursor,
  sessionPageStart,
  walletPage,
  type SessionPosition,
} from './paging.ts';
import { checkPartyRecordsRoom, invitationExpired, judgeRedeem } from './party-records.ts';
import { historyRevisions, type HistoryBatch, type HistoryImporter } from './seed.ts';
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

/** Options of {@link EtcdStore}. */
export interface EtcdStoreOptions {
  /** Gateway base URLs, e.g. `http://10.0.0.1:2379` (see {@link parseEtcdEndpoints}). */
  endpoints: readonly string[];
  /** Timers for request timeouts and backoff; randomness for write ids. */
  env: Env;
  /** Key prefix, so several deployments (or tests) can share one cluster. */
  prefix?: string;
  /** TLS to the gateway (https:// endpoints): etcd's CA and our client certificate. */
  tls?: EtcdTlsOptions;
}

/** What a session key holds: the record and the id of the write that stored it. */
interface StoredSession {
  writeId: string;
  record: SessionRecord;
}

/**
 * The last (version, mod_revision, owner, wallet index key) seen per session: lets a CAS skip
 * its read, and move the session's wallet index key in the same txn when the counted time moves.
 */
interface VersionEntry {
  version: number;
  modRevision: number;
  owner: SessionOwner | undefined;
  walletIndexKey: string;
}

/** The meta key holding the counted time from which every session is in the wallet index. */
const walletIndexSinceMeta = 'wallet-index-since-ms';

const seg = encodeURIComponent;
/** 16 digits hold every safe integer, so keys sort like the numbers. */
const pad = (ms: number): string => String(ms).padStart(16, '0');

/** `record` with its owner replaced by `owner` (or removed). */
function withOwner(record: SessionRecord, owner: SessionOwner | undefined): SessionRecord {
  const { owner: _ignored, ...rest } = structuredClone(record);
  return owner ? { ...rest, owner: { ...owner } } : rest;
}

const ownerOf = (lease: Lease): SessionOwner => ({
  ownerId: lease.ownerId,
  leaseId: lease.leaseId,
});

/** etcd implementation of {@link Store}. */
export class EtcdStore implements Store, HistoryImporter {
  readonly kind = 'etcd' as const;
  private readonly gateway: EtcdGateway;
  private readonly env: Env;
  private readonly prefix: string;
  private readonly versions = new Map<string, VersionEntry>();
  private closed = false;
  /** Every session counted at or after this time is in the wallet index (once known). */
  private walletIndexSinceMs: Promise<number> | undefined;

  constructor(options: EtcdStoreOptions) {
    this.gateway = new EtcdGateway(options.endpoints, options.env, options.tls);
    this.env = options.env;
    this.prefix = options.prefix ?? '/quorate/';
    assert(this.prefix.endsWith('/'), 'etcd key prefix ends with /');
  }

  /**
   * Opens a store on `etcd://h1:2379,h2:2379` and checks that the cluster answers a
   * linearizable read; throws `QUORATE_E_STORE_UNAVAILABLE` otherwise.
   */
  static async open(url: string, env: Env, prefix?: string): Promise<EtcdStore> {
    const endpoints = parseEtcdEndpoints(url);
    const store = new EtcdStore({ endpoints, env, ...(prefix === undefined ? {} : { prefix }) });
    await store.walletIndexSince();
    return store;
  }

  // ---- keys -------------------------------------------------------------------------------

  private key = {
    party: (id: string) => `${this.prefix}party/${seg(id)}`,
    parties: () => `${this.prefix}party/`,
    invitation: (id: string) => `${this.prefix}invitation/${seg(id)}`,
    invitations: () => `${this.prefix}invitation/`,
    wallet: (id: string) => `${this.prefix}wallet/${seg(id)}`,
    wallets: () => `${this.prefix}wallet/`,
    session: (id: string) => `${this.prefix}session/${seg(id)}`,
    intent: (walletId: string, intentKey: string) =>
      `${this.prefix}intent/${seg(walletId)}/${seg(intentKey)}`,
    created: (ms: number, id: string) => `${this.prefix}by-created/${pad(ms)}/${seg(id)}`,
    createdAll: () => `${this.prefix}by-created/`,
    /** The velocity index: `by-wallet/{walletId}/{countedMs}/{sessionId}`. */
    walletSession: (record: SessionRecord) =>
      `${this.prefix}by-wallet/${seg(record.walletId)}/${pad(countedAtMs(record))}/${seg(record.sessionId)}`,
    walletSessions: (walletId: string) => `${this.prefix}by-wallet/${seg(walletId)}/`,
    active: (ms: number, id: string) => `${this.prefix}active/${pad(ms)}/${seg(id)}`,
    activeAll: () => `${this.prefix}active/`,
    evidence: (sessionId: string, writeId: string) =>
      `${this.prefix}evidence/${seg(sessionId)}/${writeId}`,
    evidenceOf: (sessionId: string) => `${this.prefix}evidence/${seg(sessionId)}/`,
    lease: (leaseId: string) => `${this.prefix}lease/${leaseId}`,
    meta: (key: string) => `${this.prefix}meta/${seg(key)}`,
  };

  /**
   * The counted time from which every session is in the wallet index. Sessions written by a
   * version before the index existed are not in it, so the first store to run with it records
   * when that was (0 for a store without sessions); velocity windows reaching back further
   * cannot be counted and fail closed. Known before this store's first session write.
   */
  private walletIndexSince(): Promise<number> {
    if (this.walletIndexSinceMs === undefined) {
      const pending = (async () => {
        const any = await this.gateway.range(`${this.prefix}session/`, {
          prefix: true,
          limit: 1,
          keysOnly: true,
        });
        const sinceMs = any.length === 0 ? 0 : this.env.nowMs();
        return Number(await this.putMetaIfAbsent(walletIndexSinceMeta, String(sinceMs)));
      })();
      // A failed read is asked again next time, not remembered.
      void pending.catch(() => {
        if (this.walletIndexSinceMs === pending) this.walletIndexSinceMs = undefined;
      });
      this.walletIndexSinceMs = pending;
    }
    return this.walletIndexSinceMs;
  }

  private check(): void {
    if (this.closed) throw new QuorateError('QUORATE_E_STORE_UNAVAILABLE', 'store is closed');
  }

  private newWriteId(): string {
    return bytesToHex(this.env.randomBytes(8));
  }

  private remember(sessionId: string, entry: VersionEntry): void {
    this.versions.delete(sessionId);
    if (this.versions.size >= limits.etcdVersionCacheEntriesMax) {
      const oldest = this.versions.keys().next();
      if (!oldest.done) this.versions.delete(oldest.value);
    }
    this.versions.set(sessionId, entry);
  }

  /** Decodes a session kv and records its version for later CAS calls. */
  private decodeSession(kv: EtcdKv): { writeId: string; session: Versioned<SessionRecord> } {
    const stored = JSON.parse(kv.value) as StoredSession;
    const session = { value: stored.record, version: kv.version };
    this.remember(stored.record.sessionId, {
      version: kv.version,
      modRevision: kv.modRevision,
      owner: stored.record.owner,
      walletIndexKey: this.key.walletSession(stored.record),
    });
    return { writeId: stored.writeId, session };
  }

  private async readSessionKv(sessionId: string): Promise<EtcdKv | undefined> {
    return (await this.gateway.range(this.key.session(sessionId)))[0];
  }

  /**
   * The index put or delete that keeps `active/` equal to the non-terminal sessions, each
   * entry holding the session's owner (JSON, or `null`).
   */
  private activeIndexOp(record: SessionRecord): EtcdOp {
    const key = this.key.active(record.createdMs, record.sessionId);
    return isTerminal(record.status)
      ? etcd.del(key)
      : etcd.put(key, JSON.stringify(record.owner ?? null));
  }

  // ---- parties and wallets ----------------------------------------------------------------

  async pinParty(record: PartyRecord): Promise<PartyRecord> {
    this.check();
    const key = this.key.party(record.partyId);
    const r = await this.gateway.txn(
      [etcd.absent(key)],
      [etcd.put(key, JSON.stringify(record))],
      [etcd.get(key)],
    );
    const existing = r.ranges[0]?.[0];
    return r.succeeded || !existing ? record : (JSON.parse(existing.value) as PartyRecord);
  }

  async getParty(partyId: string): Promise<PartyRecord | undefined> {
    this.check();
    const kv = (await this.gateway.range(this.key.party(partyId)))[0];
    return kv && (JSON.parse(kv.value) as PartyRecord);
  }

  async listParties(): Promise<PartyRecord[]> {
    this.check();
    const kvs = await this.gateway.range(this.key.parties(), { prefix: true });
    return kvs
      .map((kv) => JSON.parse(kv.value) as PartyRecord)
      .sort((a, b) => a.partyId.localeCompare(b.partyId));
  }

  async putParty(record: PartyRecord): Promise<void> {
    this.check();
    await this.gateway.txn(
      [],
      [etcd.put(this.key.party(record.partyId), JSON.stringify(record))],
      [],
    );
  }

  async deleteParty(partyId: string): Promise<boolean> {
    this.check();
    const key = this.key.party(partyId);
    // One txn reads the pin and deletes it with the invitation: the read is of the state deleted.
    const r = await this.gateway.txn(
      [],
      [etcd.get(key, { keysOnly: true }), etcd.del(key), etcd.del(this.key.invitation(partyId))],
      [],
    );
    return (r.ranges[0]?.length ?? 0) > 0;
  }

  async putInvitation(inv: PartyInvitation): Promise<void> {
    this.check();
    const partyIds = new Set<string>();
    const bound = { prefix: true, limit: limits.storePartyRecordsMax + 1 };
    for (const kv of await this.gateway.range(this.key.invitations(), bound)) {
      const old = JSON.parse(kv.value) as PartyInvitation;
      // Drop an expired invitation only if nobody replaced it since we read it.
      if (!invitationExpired(old, inv.issuedMs)) partyIds.add(old.partyId);
      else
        await this.gateway.txn([etcd.modRevision(kv.key, kv.modRevision)], [etcd.del(kv.key)], []);
    }
    const pins = await this.gateway.range(this.key.parties(), { ...bound, keysOnly: true });
    for (const kv of pins)
      partyIds.add(decodeURIComponent(kv.key.slice(kv.key.lastIndexOf('/') + 1)));
    // Not atomic with the put: concurrent issuers can overshoot the bound by their number.
    if (!partyIds.has(inv.partyId)) checkPartyRecordsRoom(partyIds.size);
    const key = this.key.invitation(inv.partyId);
    await this.gateway.txn([], [etcd.put(key, JSON.stringify(inv))], []);
  }

  async getInvitation(partyId: string): Promise<PartyInvitation | undefined> {
    this.check();
    const kv = (await this.gateway.range(this.key.invitation(partyId)))[0];
    return kv && (JSON.parse(kv.value) as PartyInvitation);
  }

  async redeemInvitation(macKey: string, record: PartyRecord): Promise<PartyRecord | undefined> {
    this.check();
    const invitationKey = this.key.invitation(record.partyId);
    const partyKey = this.key.party(record.partyId);
    const reads = [etcd.get(invitationKey), etcd.get(partyKey)];
    let snapshot = (await this.gateway.txn([], reads, [])).ranges;
    for (let tries = 0; tries < limits.partyRedeemTriesMax; tries++) {
      const invitationKv = snapshot[0]?.[0];
      const partyKv = snapshot[1]?.[0];
      const invitation = invitationKv && (JSON.parse(invitationKv.value) as PartyInvitation);
      const existing = partyKv && (JSON.parse(partyKv.value) as PartyRecord);
      const outcome = judgeRedeem(invitation, macKey, existing, record);
      if (!outcome || !invitationKv) return undefined;
      const compare = [
        etcd.modRevision(invitationKey, invitationKv.modRevision),
        partyKv ? etcd.modRevision(partyKey, partyKv.modRevision) : etcd.absent(partyKey),
      ];
      const write = outcome.write ? [etcd.put(partyKey, JSON.stringify(record))] : [];
      const r = await this.gateway.txn(compare, [etcd.del(invitationKey), ...write], reads);
      if (r.succeeded) return outcome.pin;
      snapshot = r.ranges;
      // Our own write, applied by an attempt whose answer was lost, has spent the invitation.
      const pinned = snapshot[1]?.[0]?.value;
      if (!snapshot[0]?.[0] && outcome.write && pinned === JSON.stringify(record)) return record;
    }
    throw new QuorateError('QUORATE_E_STORE_UNAVAILABLE', 'party record kept moving', {
      partyId: record.partyId,
    });
  }

  async createWallet(record: WalletRecord): Promise<boolean> {
    this.check();
    const key = this.key.wallet(record.walletId);
    const writeId = this.newWriteId();
    const r = await this.gateway.txn(
      [etcd.absent(key)],
      [etcd.put(key, JSON.stringify({ writeId, record }))],
      [etcd.get(key)],
    );
    if (r.succeeded) return true;
    const existing = r.ranges[0]?.[0];
    // Our own earlier attempt (applied, answer lost) counts as created.
    return (
      existing !== undefined && (JSON.parse(existing.value) as StoredSession).writeId === writeId
    );
  }

  async replaceWallet(next: WalletRecord, expectedRevision: number): Promise<boolean> {
    this.check();
    assert(next.revision === expectedRevision + 1, 'a replaced wallet bumps its revision');
    const key = this.key.wallet(next.walletId);
    const kv = (await this.gateway.range(key))[0];
    if (!kv) return false;
    const stored = JSON.parse(kv.value) as { record: WalletRecord };
    if ((stored.record.revision ?? 0) !== expectedRevision) return false;
    const writeId = this.newWriteId();
    const r = await this.gateway.txn(
      [etcd.modRevision(key, kv.modRevision)],
      [etcd.put(key, JSON.stringify({ writeId, record: next }))],
      [etcd.get(key)],
    );
    if (r.succeeded) return true;
    // Our own earlier attempt (applied, answer lost) counts as replaced.
    const now = r.ranges[0]?.[0];
    return now !== undefined && (JSON.parse(now.value) as { writeId?: string }).writeId === writeId;
  }

  async countWallets(limit: number): Promise<number> {
    this.check();
    assert(Number.isSafeInteger(limit) && limit >= 0, 'count limit is a whole number');
    if (limit === 0) return 0; // etcd reads limit 0 as "no limit"
    const keys = await this.gateway.range(this.key.wallets(), {
      prefix: true,
      limit,
      keysOnly: true,
    });
    return keys.length;
  }

  async getWallet(walletId: string): Promise<WalletRecord | undefined> {
    this.check();
    const kv = (await this.gateway.range(this.key.wallet(walletId)))[0];
    return kv && (JSON.parse(kv.value) as { record: WalletRecord }).record;
  }

  // ---- sessions ---------------------------------------------------------------------------

  async createSession(
    record: SessionRecord,
    options: LeaseGuard = {},
  ): Promise<CreateSessionResult> {
    this.check();
    assert(Number.isSafeInteger(record.createdMs) && record.createdMs >= 0, 'createdMs >= 0');
    await this.walletIndexSince();
    const { lease } = options;
    const owner = lease && ownerOf(lease);
    const value = withOwner(record, owner);
    const writeId = this.newWriteId();
    const intentKey = this.key.intent(record.walletId, record.intentKey);
    const sessionKey = this.key.session(record.sessionId);
    const walletIndexKey = this.key.walletSession(record);
    const compare = [etcd.absent(intentKey), etcd.absent(sessionKey)];
    if (lease) compare.push(etcd.valueIs(this.key.lease(lease.leaseId), lease.ownerId));
    const lock = { sessionId: record.sessionId, messageHash: record.messageHash };
    const r = await this.gateway.txn(
      compare,
      [
        etcd.put(intentKey, JSON.stringify(lock)),
        etcd.put(sessionKey, JSON.stringify({ writeId, record: value })),
        etcd.put(this.key.created(record.createdMs, record.sessionId), ''),
        etcd.put(walletIndexKey, ''),
        this.activeIndexOp(value),
      ],
      [etcd.get(intentKey), etcd.get(sessionKey)],
    );
    if (r.succeeded) {
      const entry = { version: 1, modRevision: r.revision, owner, walletIndexKey };
      this.remember(record.sessionId, entry);
      return { created: true, session: { value, version: 1 } };
    }
    const intent = r.ranges[0]?.[0];
    if (intent) return this.lockedSession(record, intent, writeId);
    if (r.ranges[1]?.[0]) throw new QuorateError('QUORATE_E_INTERNAL', 'session id collision');
    assert(lease, 'a create txn without a lease fails only on the intent or the session key');
    throw createLeaseExpired(record.sessionId, lease);
  }

  /** The session an existing intent lock points at (ours, if our retried write took it). */
  private async lockedSession(
    record: SessionRecord,
    intent: EtcdKv,
    writeId: string,
  ): Promise<CreateSessionResult> {
    const lock = JSON.parse(intent.value) as { sessionId: string; messageHash: string };
    const kv = await this.readSessionKv(lock.sessionId);
    // A lock without its session is retention's tombstone: that intent is spent for good.
    if (!kv) throw intentArchived(record, lock.sessionId, lock.messageHash);
    const decoded = this.decodeSession(kv);
    return { created: decoded.writeId === writeId, session: decoded.session };
  }

  async getSession(sessionId: string): Promise<Versioned<SessionRecord> | undefined> {
    this.check();
    const kv = await this.readSessionKv(sessionId);
    return kv && this.decodeSession(kv).session;
  }

  /** The (version, mod_revision, owner) for a CAS at `expectedVersion`, read if not cached. */
  private async versionFor(sessionId: string, expectedVersion: number): Promise<VersionEntry> {
    const cached = this.versions.get(sessionId);
    if (cached?.version === expectedVersion) return cached;
    const kv = await this.readSessionKv(sessionId);
    if (kv) this.decodeSession(kv);
    if (kv?.version !== expectedVersion) {
      throw staleVersion(sessionId, expectedVersion, kv?.version ?? null);
    }
    return this.versions.get(sessionId)!;
  }

  async casSession(
    sessionId: string,
    expectedVersion: number,
    next: SessionRecord,
    options: LeaseGuard = {},
  ): Promise<Versioned<SessionRecord>> {
    this.check();
    const { lease } = options;
    let entry = await this.versionFor(sessionId, expectedVersion);
    if (lease && entry.owner?.leaseId !== lease.leaseId) {
      // The cache may be behind: judge ownership on a fresh read before refusing.
      this.versions.delete(sessionId);
      entry = await this.versionFor(sessionId, expectedVersion);
      if (entry.owner?.leaseId !== lease.leaseId) {
        throw staleOwnership(sessionId, lease, 'not-owner');
      }
    }
    const value = withOwner(next, entry.owner);
    const writeId = this.newWriteId();
    const sessionKey = this.key.session(sessionId);
    const compare = [etcd.modRevision(sessionKey, entry.modRevision)];
    if (lease) compare.push(etcd.valueIs(this.key.lease(lease.leaseId), lease.ownerId));
    // The wallet index key moves with the counted time (a retry), in the same txn.
    const walletIndexKey = this.key.walletSession(value);
    const moveIndex =
      walletIndexKey === entry.walletIndexKey
        ? []
        : [etcd.del(entry.walletIndexKey), etcd.put(walletIndexKey, '')];
    const r = await this.gateway.txn(
      compare,
      [
        etcd.put(sessionKey, JSON.stringify({ writeId, record: value })),
        this.activeIndexOp(value),
        ...moveIndex,
      ],
      [etcd.get(sessionKey)],
    );
    const version = expectedVersion + 1;
    if (r.succeeded) {
      const owner = entry.owner;
      this.remember(sessionId, { version, modRevision: r.revision, owner, walletIndexKey });
      return { value, version };
    }
    const kv = r.ranges[0]?.[0];
    const current = kv && this.decodeSession(kv);
    if (current?.writeId === writeId) return current.session;
    if (current?.session.version !== expectedVersion) {
      throw staleVersion(sessionId, expectedVersion, current?.session.version ?? null);
    }
    assert(lease, 'an unguarded CAS fails only on the revision');
    throw staleOwnership(sessionId, lease, 'lease-expired');
  }

  async claimSession(
    sessionId: string,
    expectedVersion: number,
    lease: Lease,
    options: ClaimOptions = {},
  ): Promise<ClaimResult> {
    this.check();
    const kv = await this.readSessionKv(sessionId);
    if (!kv) return { claimed: false, reason: 'not-found' };
    const { session } = this.decodeSession(kv);
    if (kv.version !== expectedVersion) return { claimed: false, reason: 'version-moved', session };
    const sessionKey = this.key.session(sessionId);
    const leaseKey = this.key.lease(lease.leaseId);
    const blocker = claimBlocker(session.value, lease, options);
    const compare = [
      etcd.modRevision(sessionKey, kv.modRevision),
      etcd.valueIs(leaseKey, lease.ownerId),
    ];
    if (blocker) compare.push(etcd.absent(this.key.lease(blocker.leaseId)));
    const owner = ownerOf(lease);
    const value = withOwner(session.value, owner);
    const writeId = this.newWriteId();
    const r = await this.gateway.txn(
      compare,
      [etcd.put(sessionKey, JSON.stringify({ writeId, record: value })), this.activeIndexOp(value)],
      [etcd.get(sessionKey), etcd.get(leaseKey)],
    );
    const version = expectedVersion + 1;
    if (r.succeeded) {
      const walletIndexKey = this.key.walletSession(value);
      this.remember(sessionId, { version, modRevision: r.revision, owner, walletIndexKey });
      return { claimed: true, session: { value, version } };
    }
    return this.claimRefusal(r.ranges, writeId, expectedVersion, lease);
  }

  /** Why a claim txn failed, judged on the snapshot its failure branch read. */
  private claimRefusal(
    ranges: (EtcdKv[] | undefined)[],
    writeId: string,
    expectedVersion: number,
    lease: Lease,
  ): ClaimResult {
    const kv = ranges[0]?.[0];
    if (!kv) return { claimed: false, reason: 'not-found' };
    const current = this.decodeSession(kv);
    if (current.writeId === writeId) return { claimed: true, session: current.session };
    const session = current.session;
    if (kv.version !== expectedVersion) return { claimed: false, reason: 'version-moved', session };
    if (ranges[1]?.[0]?.value !== lease.ownerId) {
      return { claimed: false, reason: 'lease-expired', session };
    }
    return { claimed: false, reason: 'owned', session };
  }

  async listActiveSessions(limit: number): Promise<Versioned<SessionRecord>[]> {
    this.check();
    const ids = await this.indexedIds(this.key.activeAll(), limit, 'ASCEND');
    return (await this.fetchSessions(ids)).filter((s) => !isTerminal(s.value.status));
  }

  async listSessions(limit: number): Promise<Versioned<SessionRecord>[]> {
    this.check();
    return this.fetchSessions(await this.indexedIds(this.key.createdAll(), limit, 'DESCEND'));
  }

  async listWalletSessions(
    walletId: string,
    sinceMs: number,
    limit: number,
  ): Promise<WalletSessions> {
    this.check();
    const walletIndexSinceMs = await this.walletIndexSince();
    if (sinceMs < walletIndexSinceMs) {
      throw new QuorateError(
        'QUORATE_E_STORE_UNAVAILABLE',
        'the wallet index does not reach back that far (sessions written before it existed)',
        { walletId, sinceMs, walletIndexSinceMs },
      );
    }
    // Newest first: the keys at or after sinceMs are a prefix of this order.
    const kvs = await this.gateway.range(this.key.walletSessions(walletId), {
      prefix: true,
      limit: limit + 1,
      keysOnly: true,
      sortTarget: 'KEY',
      sortOrder: 'DESCEND',
    });
    const inWindow = kvs
      .map((kv) => kv.key.slice(this.key.walletSessions(walletId).length).split('/'))
      .filter(([ms]) => Number(ms) >= sinceMs);
    const ids = inWindow.slice(0, limit).map(([, id]) => decodeURIComponent(id ?? ''));
    const sessions = await this.fetchSessions(ids);
    if (sessions.length !== ids.length) {
      throw new QuorateError('QUORATE_E_INTERNAL', 'wallet index without session', { walletId });
    }
    return {
      // A retry may have moved a counted time since the index read: order and filter on the
      // records themselves.
      sessions: sessions
        .map((s) => s.value)
        .filter((s) => countedAtMs(s) >= sinceMs)
        .sort((a, b) => countedAtMs(a) - countedAtMs(b)),
      complete: inWindow.length <= limit,
    };
  }

  async listTakeoverCandidates(lease: Lease, limit: number): Promise<SessionHead[]> {
    this.check();
    if (limit === 0) return []; // etcd reads limit 0 as "no limit"
    const r = await this.gateway.txn(
      [],
      [
        etcd.get(this.key.activeAll(), { prefix: true, limit, sortTarget: 'KEY' }),
        etcd.get(`${this.prefix}lease/`, { prefix: true, limit: limits.storeLeasesMax }),
      ],
      [],
    );
    const live = new Set(
      (r.ranges[1] ?? []).map((kv) => kv.key.slice(kv.key.lastIndexOf('/') + 1)),
    );
    const heads: SessionHead[] = [];
    for (const kv of r.ranges[0] ?? []) {
      const sessionId = decodeURIComponent(kv.key.slice(kv.key.lastIndexOf('/') + 1));
      // An entry written before the index held owners ('') is a candidate: the scan reads it.
      const owner = kv.value === '' ? null : (JSON.parse(kv.value) as SessionOwner | null);
      if (owner && owner.ownerId !== lease.ownerId && live.has(owner.leaseId)) continue;
      heads.push(owner ? { sessionId, owner } : { sessionId });
    }
    return heads;
  }

  /**
   * Reads the `by-created/` index from `position` (exclusive) in `order`, at most
   * `limits.storePageScanMax` entries, and returns the sessions `keep` accepts, up to `limit`.
   * `nextCursor` is the last entry examined whenever the scan stopped before the index end
   * (`endKey`, exclusive, when given).
   */
  private async scanByCreation(
    position: SessionPosition | undefined,
    order: 'ASCEND' | 'DESCEND',
    limit: number,
    keep: (s: SessionRecord) => boolean,
    endKey?: string,
  ): Promise<Page<Versioned<SessionRecord>>> {
    const all = this.key.createdAll();
    const at = position && this.key.created(position.createdMs, position.sessionId);
    const indexEnd = endKey ?? `${all.slice(0, -1)}0`;
    const bounds =
      order === 'DESCEND'
        ? { end: at ?? indexEnd }
        : { end: indexEnd, from: at === undefined ? all : `${at}\u0000` };
    const items: Versioned<SessionRecord>[] = [];
    let from = order === 'DESCEND' ? all : (bounds.from ?? all);
    let end = bounds.end;
    let scanned = 0;
    let last: SessionPosition | undefined;
    while (scanned < limits.storePageScanMax) {
      const batch = Math.min(limits.etcdTxnOpsMax, limits.storePageScanMax - scanned);
      const kvs = await this.gateway.range(from, {
        end,
        limit: batch,
        keysOnly: true,
        sortTarget: 'KEY',
        sortOrder: order,
      });
      if (kvs.length === 0) return { items };
      scanned += kvs.length;
      const ids = kvs.map((kv) => decodeURIComponent(kv.key.slice(kv.key.lastIndexOf('/') + 1)));
      const sessions = await this.fetchSessions(ids);
      for (const [i, s] of sessions.entries()) {
        if (!keep(s.value)) continue;
        items.push(s);
        if (items.length < limit) continue;
        const more = i < sessions.length - 1 || kvs.length === batch;
        return more ? { items, nextCursor: sessionCursor(s.value) } : { items };
      }
      const lastKey = kvs[kvs.length - 1]!.key;
      const [ms, id] = lastKey.slice(all.length).split('/');
      last = { createdMs: Number(ms), sessionId: decodeURIComponent(id ?? '') };
      if (kvs.length < batch) return { items };
      if (order === 'DESCEND') end = lastKey;
      else from = `${lastKey}\u0000`;
    }
    // The scan budget ran out before the page filled: the next page starts after what was read.
    return last ? { items, nextCursor: sessionCursor(last) } : { items };
  }

  async listSessionsPage(query: SessionPageQuery): Promise<Page<Versioned<SessionRecord>>> {
    this.check();
    const start = sessionPageStart(query);
    return this.scanByCreation(start, 'DESCEND', query.limit, (s) => matchesPage(s, query));
  }

  async listWalletsPage(query: WalletPageQuery): Promise<Page<WalletRecord>> {
    this.check();
    checkPageLimit(query.limit);
    const all = this.key.wallets();
    const after = query.cursor === undefined ? undefined : parseWalletCursor(query.cursor);
    const from = after === undefined ? all : `${this.key.wallet(after)}\u0000`;
    const kvs = await this.gateway.range(from, {
      end: `${all.slice(0, -1)}0`,
      limit: query.limit + 1,
      sortTarget: 'KEY',
      sortOrder: 'ASCEND',
    });
    const wallets = kvs.map((kv) => (JSON.parse(kv.value) as { record: WalletRecord }).record);
    return walletPage(wallets, query.limit);
  }

  async listRetainable(
    beforeMs: number,
    cursor: string | undefined,
    limit: number,
  ): Promise<Page<RetainedSession>> {
    this.check();
    const start = cursor === undefined ? undefined : parseSessionCursor(cursor);
    if (start && start.createdMs >= beforeMs) return { items: [] };
    // The index ends at beforeMs: once nothing older is left, a pass reads no session at all
    // (reading on would fetch storePageScanMax bodies of recent sessions every pass).
    const endKey = this.key.created(beforeMs, '');
    const keep = (s: SessionRecord) => retainable(s, beforeMs);
    const page = await this.scanByCreation(start, 'ASCEND', limit, keep, endKey);
    const items: RetainedSession[] = [];
    for (const session of page.items) {
      items.push({ session, evidence: await this.listEvidence(session.value.sessionId) });
    }
    const next = page.nextCursor && parseSessionCursor(page.nextCursor);
    // Nothing created at or after beforeMs can be retained: the walk ends there.
    return next && next.createdMs < beforeMs ? { items, nextCursor: page.nextCursor! } : { items };
  }

  async removeSessions(sessions: readonly SessionVersion[]): Promise<number> {
    this.check();
    let removed = 0;
    for (const { sessionId, version } of sessions) {
      const kv = await this.readSessionKv(sessionId);
      if (kv?.version !== version) continue;
      const record = (JSON.parse(kv.value) as StoredSession).record;
      if (!isTerminal(record.status)) continue;
      const sessionKey = this.key.session(sessionId);
      // The intent lock is not deleted: it is the tombstone that keeps the intent spent (I1).
      const r = await this.gateway.txn(
        [etcd.modRevision(sessionKey, kv.modRevision)],
        [
          etcd.del(sessionKey),
          etcd.del(this.key.created(record.createdMs, sessionId)),
          etcd.del(this.key.walletSession(record)),
          etcd.del(this.key.active(record.createdMs, sessionId)),
          etcd.delPrefix(this.key.evidenceOf(sessionId)),
        ],
        [],
      );
      this.versions.delete(sessionId);
      if (r.succeeded) removed += 1;
    }
    return removed;
  }

  /**
   * Bulk load of finished history (src/store/seed.ts), for an offline store: the keys
   * {@link createSession} and the CAS would have left, and every revision of each session
   * ({@link historyRevisions}), so its etcd version matches the SQLite import's. Puts go in
   * unconditional txns within etcd's op and request-size limits, `etcdImportTxnsInFlightMax` at
   * a time; a revision is written only after the previous revision of every session.
   */
  async importHistory(batch: HistoryBatch): Promise<void> {
    this.check();
    const stages = batch.sessions.map(historyRevisions);
    const first: EtcdOp[] = batch.wallets.map((w) =>
      etcd.put(
        this.key.wallet(w.walletId),
        JSON.stringify({ writeId: this.newWriteId(), record: w }),
      ),
    );
    for (const [created] of stages) {
      assert(created, 'a session has a first revision');
      const lock = { sessionId: created.sessionId, messageHash: created.messageHash };
      first.push(
        etcd.put(this.key.intent(created.walletId, created.intentKey), JSON.stringify(lock)),
        etcd.put(this.key.created(created.createdMs, created.sessionId), ''),
        etcd.put(this.key.walletSession(created), ''),
      );
    }
    const revisions = Math.max(0, ...stages.map((st) => st.length));
    for (let r = 0; r < revisions; r++) {
      const ops = r === 0 ? first : [];
      for (const stage of stages) {
        const record = stage[r];
        if (!record) continue;
        const stored: StoredSession = { writeId: this.newWriteId(), record };
        ops.push(etcd.put(this.key.session(record.sessionId), JSON.stringify(stored)));
      }
      await this.putUnconditionally(ops);
    }
  }

  /** Puts `ops` in txns of at most etcdTxnOpsMax ops and half the request size limit. */
  private async putUnconditionally(ops: readonly EtcdOp[]): Promise<void> {
    const txns: EtcdOp[][] = [];
    let current: EtcdOp[] = [];
    let bytes = 0;
    for (const op of ops) {
      // base64 in the gateway's JSON: 4/3 of the key and value, plus field names.
      const opBytes = Math.ceil((JSON.stringify(op).length * 4) / 3);
      const full =
        current.length >= limits.etcdTxnOpsMax || bytes + opBytes > limits.etcdRequestBytesMax / 2;
      if (full && current.length > 0) {
        txns.push(current);
        current = [];
        bytes = 0;
      }
      current.push(op);
      bytes += opBytes;
    }
    if (current.length > 0) txns.push(current);
    for (let i = 0; i < txns.length; i += limits.etcdImportTxnsInFlightMax) {
      const window = txns.slice(i, i + limits.etcdImportTxnsInFlightMax);
      await Promise.all(window.map((success) => this.gateway.txn([], success, [])));
    }
  }

  /**
   * Compacts etcd's key history up to `keepRevisions` behind the current revision (default
   * `etcdCompactKeepRevisions`, what the retention pass keeps; 0 compacts to the head), so the space of overwritten and deleted values (every CAS writes a new revision
   * of a session) can be reused. Returns the revision compacted to, or undefined if too young.
   */
  async compactHistory(
    keepRevisions: number = limits.etcdCompactKeepRevisions,
  ): Promise<number | undefined> {
    this.check();
    assert(Number.isSafeInteger(keepRevisions) && keepRevisions >= 0, 'revisions kept >= 0');
    const head = await this.gateway.revision(this.key.meta(walletIndexSinceMeta));
    const target = head - keepRevisions;
    if (target <= 0) return undefined;
    await this.gateway.compact(target);
    return target;
  }

  /** Session ids from an index `…/{createdMs}/{sessionId}`, in key order. */
  private async indexedIds(
    prefix: string,
    limit: number,
    sortOrder: 'ASCEND' | 'DESCEND',
  ): Promise<string[]> {
    assert(Number.isSafeInteger(limit) && limit >= 0, 'list limit is a whole number');
    if (limit === 0) return []; // etcd reads limit 0 as "no limit"
    const kvs = await this.gateway.range(prefix, {
      prefix: true,
      limit,
      keysOnly: true,
      sortTarget: 'KEY',
      sortOrder,
    });
    return kvs.map((kv) => decodeURIComponent(kv.key.slice(kv.key.lastIndexOf('/') + 1)));
  }

  /** Reads sessions by id, `limits.etcdTxnOpsMax` ranges per (linearizable) txn. */
  private async fetchSessions(ids: readonly string[]): Promise<Versioned<SessionRecord>[]> {
    const sessions: Versioned<SessionRecord>[] = [];
    for (let i = 0; i < ids.length; i += limits.etcdTxnOpsMax) {
      const gets = ids
        .slice(i, i + limits.etcdTxnOpsMax)
        .map((id) => etcd.get(this.key.session(id)));
      const r = await this.gateway.txn([], gets, []);
      for (const range of r.ranges) {
        const kv = range?.[0];
        if (kv) sessions.push(this.decodeSession(kv).session);
      }
    }
    return sessions;
  }

  // ---- leases -----------------------------------------------------------------------------

  async acquireLease(ownerId: string, ttlMs: number): Promise<Lease> {
    this.check();
    checkLeaseTtl(ttlMs);
    const grant = await this.gateway.leaseGrant(Math.ceil(ttlMs / 1000));
    const r = await this.gateway.txn(
      [],
      [etcd.put(this.key.lease(grant.id), ownerId, grant.id)],
      [],
    );
    assert(r.succeeded, 'an unconditional txn succeeds');
    return { leaseId: grant.id, ownerId, ttlMs: grant.ttlSeconds * 1000 };
  }

  async renewLease(lease: Lease): Promise<Lease | undefined> {
    this.check();
    const ttlSeconds = await this.gateway.leaseKeepAlive(lease.leaseId);
    return ttlSeconds > 0 ? { ...lease, ttlMs: ttlSeconds * 1000 } : undefined;
  }

  async revokeLease(lease: Lease): Promise<void> {
    this.check();
    await this.gateway.leaseRevoke(lease.leaseId);
  }

  // ---- meta ------------------------------------------------------------------------------

  async getMeta(key: string): Promise<string | undefined> {
    this.check();
    return (await this.gateway.range(this.key.meta(key)))[0]?.value;
  }

  async putMetaIfAbsent(key: string, value: string): Promise<string> {
    this.check();
    const k = this.key.meta(key);
    // create_revision == 0: a retried write whose answer was lost finds its own value (or a
    // racing replica's, which then wins for everyone).
    const r = await this.gateway.txn([etcd.absent(k)], [etcd.put(k, value)], [etcd.get(k)]);
    return r.succeeded ? value : (r.ranges[0]?.[0]?.value ?? value);
  }

  // ---- evidence ---------------------------------------------------------------------------

  async putEvidence(record: EvidenceRecord): Promise<void> {
    this.check();
    const key = this.key.evidence(record.sessionId, this.newWriteId());
    await this.gateway.txn([], [etcd.put(key, JSON.stringify(record))], []);
  }

  async listEvidence(sessionId: string): Promise<EvidenceRecord[]> {
    this.check();
    const kvs = await this.gateway.range(this.key.evidenceOf(sessionId), {
      prefix: true,
      // One record per party per attempt at most, over every try of the intent.
      limit: limits.attemptsPerIntentMax * limits.partiesMax,
      sortTarget: 'CREATE',
      sortOrder: 'ASCEND',
    });
    return kvs.map((kv) => JSON.parse(kv.value) as EvidenceRecord);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.gateway.close();
  }
}
