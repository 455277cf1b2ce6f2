/**
 * The Store: the single source of truth for parties, wallets, sessions, intent locks, fencing
 * tokens and session ownership. Every session change is a compare-and-set on its version; the
 * version is the fencing token, strictly increasing per session. A session's owner is the
 * coordinator replica holding a live store lease (see docs/store.md). Implementations: memory
 * (simulation), SQLite (default), etcd (clusters). One contract suite tests them all
 * (test/helpers/store-contract.ts).
 */
import type { Payload, Scheme } from '../protocol/engine.ts';
import type { SessionOwner, SessionRecord, SessionStatus } from '../session/record.ts';

/** An enrolled party: identity pinned on first contact. */
export interface PartyRecord {
  partyId: string;
  /** Ed25519 identity public key (hex), pinned at enrolment. */
  identityKey: string;
  /** X25519 public key (hex) for DKG share encryption, signed by the identity key. */
  boxKey: string;
  enrolledMs: number;
  /** Set when an admin revoked the party: it is refused until it redeems a new invitation. */
  revokedMs?: number;
}

/** A one-time enrolment invitation for one party id (issued by an admin through the API). */
export interface PartyInvitation {
  partyId: string;
  /**
   * hex(sha256(utf8(token))): the enrolment MAC key derived from the token (the token itself is
   * never stored). The store compares it exactly and never interprets it.
   */
  macKey: string;
  issuedMs: number;
  /** The caller checks expiry before redeeming; the store only drops expired invitations. */
  expiresMs: number;
  /** May replace an existing pin (key rotation, or re-enrolment after revocation). */
  rotate: boolean;
}

/** A wallet created by DKG. */
export interface WalletRecord {
  walletId: string;
  scheme: Scheme;
  threshold: number;
  parties: string[];
  publicKey: string;
  publicPackage: Payload;
  createdMs: number;
  /** Policy tier whose signing-time rules govern this wallet (absent: ungoverned). */
  tier?: string;
  /**
   * The active key epoch (absent: 0, the key generation's). `threshold`, `parties` and
   * `publicPackage` are the active epoch's; refresh and reshare move them to the next epoch
   * with one {@link Store.replaceWallet} (docs/key-lifecycle.md).
   */
  epoch?: number;
  /** Bumped by every {@link Store.replaceWallet} (absent: 0): the record's compare-and-set token. */
  revision?: number;
  /** The lifecycle operation running now, or the last one to end (src/coordinator/lifecycle.ts). */
  operation?: OperationRecord;
  /** Earlier operations, newest first, at most `limits.walletOperationsKeptMax`. */
  pastOperations?: OperationRecord[];
  /** Refresh the shares every this many days (absent or 0: never on its own). */
  refreshEveryDays?: number;
  /** When the shares were last renewed by a flip (absent: never since `createdMs`). */
  renewedMs?: number;
}

/** A lifecycle operation's status: `running` until it is `done` or `failed` (rolled back). */
export type OperationStatus = 'running' | 'done' | 'failed';

/** One refresh or reshare of a wallet, kept in its wallet's record. */
export interface OperationRecord {
  operationId: string;
  /** The coordinator replica that runs it (a restarted replica rolls back its own at once). */
  ownerId?: string;
  kind: 'refresh' | 'reshare';
  status: OperationStatus;
  /**
   * Where a running operation is: `staging` (new shares dealt and confirmed), `testing` (a test
   * signature under the new epoch), `retiring` (flipped: old shares are being erased).
   */
  phase: 'staging' | 'testing' | 'retiring' | 'ended';
  fromEpoch: number;
  toEpoch: number;
  /** The new epoch's threshold and parties. */
  threshold: number;
  parties: string[];
  /** The current epoch's parties that deal (a threshold of them). */
  dealers: string[];
  startedMs: number;
  deadlineMs: number;
  endedMs?: number;
  /** Per party: what it has done (`staged`, `confirmed`, `signed`, `promoted`, `erased`…). */
  progress: Record<string, string>;
  /** Old-epoch parties that still hold a share the flip retired (told again when they return). */
  retirePending?: string[];
  error?: { code: string; message: string; blamed?: string[] };
  /** The wallet's group key (the same in every epoch). */
  publicKey?: string;
  /** A reshare: the operator's authorization the caller gave (relayed to the dealers). */
  authorization?: string;
  /**
   * After the flip, each new party's signed promotion (`{signature, certificate}`, validated
   * again when read back): the evidence on which a retired party erases its share.
   */
  promotions?: Record<string, Payload>;
}

/**
 * A store lease: ownership that lapses unless renewed within `ttlMs`. Lease ids are never
 * reused, and an expired or revoked lease never comes back (renewal fails for good).
 */
export interface Lease {
  leaseId: string;
  ownerId: string;
  /** Time to live granted by the store (etcd rounds up to whole seconds). */
  ttlMs: number;
}

/** Why {@link Store.claimSession} did not take a session. */
export type ClaimRefusal =
  /** No session with this id. */
  | 'not-found'
  /** The session's version is not `expectedVersion`: re-read it and decide again. */
  | 'version-moved'
  /** Another replica's lease is still live. */
  | 'owned'
  /** The claimer's own lease has expired or was revoked: it must stop driving sessions. */
  | 'lease-expired';

/** Result of {@link Store.claimSession}. */
export type ClaimResult =
  | { claimed: true; session: Versioned<SessionRecord> }
  | { claimed: false; reason: ClaimRefusal; session?: Versioned<SessionRecord> };

/** Options of {@link Store.claimSession}. */
export interface ClaimOptions {
  /**
   * The claim is for an approval that reached this replica: a session waiting for approvals
   * (no attempt open) may then be claimed from a live owner. The takeover scan never sets it, so
   * replicas do not pass such a session back and forth.
   */
  forApproval?: boolean;
}

/** Options of a session write made on behalf of a lease holder. */
export interface LeaseGuard {
  /**
   * When set, the write happens only while this lease is live (and, for `casSession`, only if
   * the session's stored owner holds this lease), in the same atomic step as the version check.
   */
  lease?: Lease;
}

/** A value with its version (fencing token). */
export interface Versioned<T> {
  value: T;
  version: number;
}

/** Blame evidence for one party in one attempt. */
export interface EvidenceRecord {
  sessionId: string;
  attempt: number;
  partyId: string;
  reason: string;
  evidence: Record<string, unknown>;
  recordedMs: number;
}

/** Result of creating a session under an intent lock. */
export type CreateSessionResult =
  | { created: true; session: Versioned<SessionRecord> }
  | { created: false; session: Versioned<SessionRecord> };

/**
 * When a session's amount is spent for velocity: its current try's start. A session reopened
 * for a retry counts from then, so a transfer retried a day later spends in today's window.
 */
export const countedAtMs = (s: SessionRecord): number => s.retry?.lastMs ?? s.createdMs;

/** Result of {@link Store.listWalletSessions}. */
export interface WalletSessions {
  /** Oldest counted time first. */
  sessions: SessionRecord[];
  /** False iff the wallet has more such sessions than the limit: the list is not the count. */
  complete: boolean;
}

/** An active session's id and owner, read without its body (what the takeover scan needs). */
export interface SessionHead {
  sessionId: string;
  owner?: SessionOwner;
}

/** One page of a listing; `nextCursor` is absent at the end. */
export interface Page<T> {
  items: T[];
  /**
   * Where the next page starts. A page may hold fewer than `limit` items (even none) and still
   * have a `nextCursor`: the store stopped after reading `limits.storePageScanMax` entries.
   */
  nextCursor?: string;
}

/** A page request of {@link Store.listSessionsPage}. */
export interface SessionPageQuery {
  /** From an earlier page's `nextCursor`; absent for the first page. */
  cursor?: string;
  /** 1..`limits.storePageSizeMax`; beyond it `QUORATE_E_BAD_REQUEST`. */
  limit: number;
  walletId?: string;
  status?: SessionStatus;
}

/** A page request of {@link Store.listWalletsPage}. */
export interface WalletPageQuery {
  cursor?: string;
  limit: number;
}

/** A finished session as retention archives it: the record, its version and its evidence. */
export interface RetainedSession {
  session: Versioned<SessionRecord>;
  evidence: EvidenceRecord[];
}

/** A session retention removes iff it is still at `version`. */
export interface SessionVersion {
  sessionId: string;
  version: number;
}

/** The store contract. All methods are linearizable. */
export interface Store {
  readonly kind: 'memory' | 'sqlite' | 'etcd';
  /** Pins a party if absent; returns the pinned record (existing one wins). */
  pinParty(record: PartyRecord): Promise<PartyRecord>;
  getParty(partyId: string): Promise<PartyRecord | undefined>;
  listParties(): Promise<PartyRecord[]>;
  /** Upserts a party record (revocation writes `revokedMs`). */
  putParty(record: PartyRecord): Promise<void>;
  /** Removes a party's pin and any invitation for it; true iff a pin existed. */
  deleteParty(partyId: string): Promise<boolean>;
  /**
   * Stores `inv`, replacing any previous invitation for `inv.partyId`. Invitations that expired
   * before `inv.issuedMs` are dropped first. Throws `QUORATE_E_OVERLOADED` (`detail.reason`
   * `'party-records-max'`) if `inv` would add a party id beyond `limits.storePartyRecordsMax`
   * pins and pending invitations together.
   */
  putInvitation(inv: PartyInvitation): Promise<void>;
  getInvitation(partyId: string): Promise<PartyInvitation | undefined>;
  /**
   * Atomically: iff an invitation for `record.partyId` with exactly this `macKey` exists, deletes
   * it (it is spent whatever follows) and pins `record` — replacing an existing pin only if the
   * invitation has `rotate` or the existing pin is revoked; otherwise the existing pin wins and
   * is unchanged. Returns the pin now in force (compare it with `record`), or `undefined` if the
   * invitation was absent or different (e.g. spent by a concurrent redeem): nothing changed then.
   * Expiry is the caller's check, made before the call.
   */
  redeemInvitation(macKey: string, record: PartyRecord): Promise<PartyRecord | undefined>;
  /** Creates a wallet; returns false if the id exists. */
  createWallet(record: WalletRecord): Promise<boolean>;
  getWallet(walletId: string): Promise<WalletRecord | undefined>;
  /**
   * Replaces the wallet iff it exists and its `revision` (absent: 0) equals `expectedRevision`;
   * `next.revision` must be `expectedRevision + 1`. Returns false if the revision moved (or the
   * wallet is absent): nothing was written. Lifecycle operations start, flip the active epoch
   * and end through this one compare-and-set, so exactly one of a flip and an abort wins.
   */
  replaceWallet(next: WalletRecord, expectedRevision: number): Promise<boolean>;
  /** The number of wallets, counted up to `limit` (the answer is `min(count, limit)`). */
  countWallets(limit: number): Promise<number>;
  /**
   * Atomically takes the intent lock `(walletId, intentKey)` and creates the session at
   * version 1. If the lock exists, nothing is written and the locked session is returned.
   * With `options.lease`, the new session is owned by that lease's holder (`owner` set from
   * the lease); if the lock is free but the lease is not live, nothing is written and it
   * throws `QUORATE_E_STORE_UNAVAILABLE` (retryable: another replica can serve the request)
   * with `detail.reason = 'lease-expired'`. `record.owner` is ignored.
   */
  createSession(record: SessionRecord, options?: LeaseGuard): Promise<CreateSessionResult>;
  getSession(sessionId: string): Promise<Versioned<SessionRecord> | undefined>;
  /**
   * Replaces the session iff its version equals `expectedVersion`; the new version is
   * `expectedVersion + 1`. Throws `QUORATE_E_STALE_TOKEN` otherwise (`detail.reason`:
   * `'version-moved'`). The stored owner is kept (`next.owner` is ignored). With
   * `options.lease`, also requires that lease to be live and to be the session's owner, else
   * `QUORATE_E_STALE_TOKEN` with `detail.reason` `'lease-expired'` or `'not-owner'`.
   */
  casSession(
    sessionId: string,
    expectedVersion: number,
    next: SessionRecord,
    options?: LeaseGuard,
  ): Promise<Versioned<SessionRecord>>;
  /** Sessions not yet terminal (pending or running), oldest first, at most `limit`. */
  listActiveSessions(limit: number): Promise<Versioned<SessionRecord>[]>;
  /** Sessions of any status, newest first, at most `limit` (for checkers and operators). */
  listSessions(limit: number): Promise<Versioned<SessionRecord>[]>;
  /**
   * The sessions of `walletId` (any status) whose {@link countedAtMs} is `>= sinceMs`, from a
   * per-wallet index that `createSession` and `casSession` keep in the same atomic write as the
   * session, so a retry that moves the counted time moves its entry. At most `limit`; with
   * `complete: false` when there are more (which `limit` sessions are then returned is not
   * specified: the list is not a count). Velocity counts come from here (docs/policy.md).
   */
  listWalletSessions(walletId: string, sinceMs: number, limit: number): Promise<WalletSessions>;
  /**
   * Makes `lease` the session's owner iff the session's version equals `expectedVersion`,
   * `lease` is live, and the current owner (if any, and not `lease` itself) holds no live
   * lease, or the session has failed (a failed session is reopened for a retry by whichever
   * replica the retry reaches; src/session/retry.ts; a signed one never is), or, with
   * `options.forApproval`, it waits for approvals with no attempt open (the replica an approval
   * reaches takes it over). On success the
   * version becomes `expectedVersion + 1`: the new owner's fencing token
   * is above every token the previous owner used. Refusals are values, not errors.
   */
  claimSession(
    sessionId: string,
    expectedVersion: number,
    lease: Lease,
    options?: ClaimOptions,
  ): Promise<ClaimResult>;
  /**
   * Grants a new lease to `ownerId` for `ttlMs` (within `limits.storeLeaseTtlMsMin..Max`).
   * Throws `QUORATE_E_STORE_UNAVAILABLE` if the store cannot grant one.
   */
  acquireLease(ownerId: string, ttlMs: number): Promise<Lease>;
  /**
   * Extends a live lease by its ttl from now and returns it; `undefined` if it has expired or
   * was revoked (it is then gone for good: acquire a new one and re-claim).
   */
  renewLease(lease: Lease): Promise<Lease | undefined>;
  /** Ends a lease now, so its sessions can be claimed at once. Revoking twice is harmless. */
  revokeLease(lease: Lease): Promise<void>;
  /** A small deployment-wide value (e.g. the sealed coordinator identity), or undefined. */
  getMeta(key: string): Promise<string | undefined>;
  /**
   * Stores `value` under `key` unless a value is already there; returns the stored value
   * (the existing one wins), so racing replicas all end up with the same one.
   */
  putMetaIfAbsent(key: string, value: string): Promise<string>;
  /**
   * The active sessions the takeover scan of `lease`'s holder may act on, oldest first, at most
   * `limit`: those with no owner, owned by `lease.ownerId` (this lease or an earlier one of the
   * same replica), or whose owner's lease is no longer live. Read from an index, never by
   * parsing every active session; a live foreign owner's sessions are not returned.
   */
  listTakeoverCandidates(lease: Lease, limit: number): Promise<SessionHead[]>;
  /**
   * Sessions newest first by (createdMs, sessionId), optionally of one wallet and/or status,
   * after `cursor`. Refuses a limit outside 1..`limits.storePageSizeMax` or a malformed cursor
   * with `QUORATE_E_BAD_REQUEST`. See {@link Page} for short pages.
   */
  listSessionsPage(query: SessionPageQuery): Promise<Page<Versioned<SessionRecord>>>;
  /** Wallets by id ascending after `cursor`; the same limit and cursor rules. */
  listWalletsPage(query: WalletPageQuery): Promise<Page<WalletRecord>>;
  /**
   * Retention's walk: finished (signed or failed) sessions whose counted time and creation time
   * are before `beforeMs`, by (createdMs, sessionId) ascending after `cursor`, with evidence.
   * At most `limit` items; `nextCursor` is absent once no session created before `beforeMs`
   * remains after the page.
   */
  listRetainable(
    beforeMs: number,
    cursor: string | undefined,
    limit: number,
  ): Promise<Page<RetainedSession>>;
  /**
   * Removes each session that is still finished and at the given version: the session, its
   * index entries and its evidence. Its intent lock stays for good, as the tombstone that keeps
   * I1: `createSession` on that intent then throws `QUORATE_E_INTENT_ARCHIVED`. Returns the
   * number removed (a session that moved is skipped, not an error).
   */
  removeSessions(sessions: readonly SessionVersion[]): Promise<number>;
  /**
   * etcd only: drops old revisions of every key (see {@link EtcdStore.compactHistory}); the
   * other stores keep no history. Returns the revision compacted to, if any.
   */
  compactHistory?(): Promise<number | undefined>;
  putEvidence(record: EvidenceRecord): Promise<void>;
  listEvidence(sessionId: string): Promise<EvidenceRecord[]>;
  close(): Promise<void>;
}
