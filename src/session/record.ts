/**
 * The session record: what one signing intent is, attempt by attempt, as the store keeps it.
 * The session machine (src/session/machine.ts) is its only writer; the stores persist it
 * without looking inside (apart from the owner and the version, which fence every write).
 */
import type { ErrorCode } from '../core/errors.ts';
import type { SessionPolicy } from './session-policy.ts';

/** Outcome of one attempt of a session. */
export type AttemptOutcome = 'running' | 'signed' | 'aborted';

/** One attempt: a quorum, a fencing token, an outcome. */
export interface AttemptRecord {
  attempt: number;
  token: number;
  /**
   * The attempt's quorum: while it runs, the one selection chose; once it ends, the parties
   * that signed, or the signer set it had fixed when it aborted (a hedged attempt that aborted
   * in round 1 keeps the selection).
   */
  parties: string[];
  /**
   * Hedged first round only: every party asked for a round-1 commitment (the quorum and the
   * extra candidates); the ones not chosen were told to discard their nonces.
   */
  asked?: string[];
  /**
   * An aborted attempt: the parties that failed it (slow, blamed, refusing or gone), among them
   * a hedged candidate that `parties` does not list.
   */
  atFault?: string[];
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
  /** The API principal that opened the session; set by the coordinator, never by the client. */
  initiator?: string;
  /** An EVM transaction's 4-byte call selector (`0x…`), from the decoded transaction only. */
  selector?: string;
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
  /**
   * An EVM transaction asked for instead of a bare message (ecdsa): `messageHex` is its digest,
   * and `context` its decoded facts. Every party decodes it again.
   */
  transaction?: { type: 'eip1559' | 'legacy'; hex: string };
  /** ecdsa: the BIP32 path (`m/0/7`, non-hardened) of the child key that signs. */
  derivationPath?: string;
  signature?: string;
  /** ECDSA: the recovery id (0 or 1) under which `signature` recovers the wallet key. */
  recoveryId?: number;
  signers?: string[];
  error?: SessionError;
  /**
   * The replica that drives this session. Written only by `createSession(…, { lease })` and
   * `claimSession`; `casSession` keeps the stored owner whatever `next.owner` says.
   */
  owner?: SessionOwner;
  /** Governed sessions: tier, policy hash, requirement, approvals (signing-time rules). */
  policy?: SessionPolicy;
  /** Why a `pending` session is waiting (e.g. approvals missing). */
  pendingReason?: string;
  /** Set when a retryable failure was retried under the same intent (src/session/retry.ts). */
  retry?: SessionRetry;
}

/** The tries of an intent after its first: how many, and where the current one's attempts start. */
export interface SessionRetry {
  count: number;
  /** The first attempt number of the current try (its attempt budget counts from here). */
  fromAttempt: number;
  /** When the current try was opened (coordinator wall clock). */
  lastMs: number;
  /** The failure the current try retried. */
  previousError: { code: ErrorCode };
}

/** The owner of a session: a coordinator replica and the store lease it held when it claimed. */
export interface SessionOwner {
  ownerId: string;
  leaseId: string;
}

/** True for terminal statuses. */
export function isTerminal(status: SessionStatus): boolean {
  return status === 'signed' || status === 'failed';
}
