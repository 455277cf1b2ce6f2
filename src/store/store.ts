/**
 * The Store: the single source of truth for parties, wallets, sessions, intent locks and
 * fencing tokens. Every session change is a compare-and-set on its version; the version is the
 * fencing token, strictly increasing per session. Implementations: memory (simulation),
 * SQLite (default), etcd (clusters). One contract suite tests them all.
 */
import type { Payload, Scheme } from '../protocol/engine.ts';
import type { ErrorCode } from '../core/errors.ts';

/** An enrolled party: identity pinned on first contact. */
export interface PartyRecord {
  partyId: string;
  /** Ed25519 identity public key (hex), pinned at enrolment. */
  identityKey: string;
  /** X25519 public key (hex) for DKG share encryption, signed by the identity key. */
  boxKey: string;
  enrolledMs: number;
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
}

/** Outcome of one attempt of a session. */
export type AttemptOutcome = 'running' | 'signed' | 'aborted';

/** One attempt: a quorum, a fencing token, an outcome. */
export interface AttemptRecord {
  attempt: number;
  token: number;
  parties: string[];
  outcome: AttemptOutcome;
  reason?: string;
  startedMs: number;
  endedMs?: number;
}

/** Session status as the API shows it. */
export type SessionStatus = 'pending' | 'running' | 'signed' | 'failed';

/** A terminal failure. */
export interface SessionError {
  code: ErrorCode;
  message: string;
  detail: Record<string, unknown>;
}

/** Optional request context (used by the signing-time policy engine). */
export interface SigningContext {
  amount?: string;
  asset?: string;
  destination?: string;
}

/** A signing session: one intent, one message, many attempts, at most one signature. */
export interface SessionRecord {
  sessionId: string;
  walletId: string;
  intentKey: string;
  messageHex: string;
  messageHash: string;
  context?: SigningContext;
  status: SessionStatus;
  createdMs: number;
  /** Wall-clock epoch ms by which the session must be terminal. */
  deadlineMs: number;
  attempts: AttemptRecord[];
  /** Parties excluded from every further attempt of this session (blamed or refused). */
  excluded: string[];
  /** Parties that missed a round deadline in this session: chosen again only as a last resort. */
  slow: string[];
  signature?: string;
  signers?: string[];
  error?: SessionError;
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

/** The store contract. All methods are linearizable. */
export interface Store {
  readonly kind: 'memory' | 'sqlite' | 'etcd';
  /** Pins a party if absent; returns the pinned record (existing one wins). */
  pinParty(record: PartyRecord): Promise<PartyRecord>;
  getParty(partyId: string): Promise<PartyRecord | undefined>;
  listParties(): Promise<PartyRecord[]>;
  /** Creates a wallet; returns false if the id exists. */
  createWallet(record: WalletRecord): Promise<boolean>;
  getWallet(walletId: string): Promise<WalletRecord | undefined>;
  /**
   * Atomically takes the intent lock `(walletId, intentKey)` and creates the session at
   * version 1. If the lock exists, nothing is written and the locked session is returned.
   */
  createSession(record: SessionRecord): Promise<CreateSessionResult>;
  getSession(sessionId: string): Promise<Versioned<SessionRecord> | undefined>;
  /**
   * Replaces the session iff its version equals `expectedVersion`; the new version is
   * `expectedVersion + 1`. Throws `QUORATE_E_STALE_TOKEN` otherwise.
   */
  casSession(
    sessionId: string,
    expectedVersion: number,
    next: SessionRecord,
  ): Promise<Versioned<SessionRecord>>;
  /** Sessions not yet terminal (pending or running), oldest first, at most `limit`. */
  listActiveSessions(limit: number): Promise<Versioned<SessionRecord>[]>;
  /** Sessions of any status, newest first, at most `limit` (for checkers and operators). */
  listSessions(limit: number): Promise<Versioned<SessionRecord>[]>;
  putEvidence(record: EvidenceRecord): Promise<void>;
  listEvidence(sessionId: string): Promise<EvidenceRecord[]>;
  close(): Promise<void>;
}

/** True for terminal statuses. */
export function isTerminal(status: SessionStatus): boolean {
  return status === 'signed' || status === 'failed';
}
