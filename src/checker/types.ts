/**
 * Inputs and outputs of the shared checker (the simulator and the chaos harness). The checker
 * names the shapes it reads itself, so it depends on no runtime: the harnesses pass the party
 * journals' rows and the store's records in, and structural typing lets them through as long as
 * the field names below stay the ones the journals and the store write.
 */
import type { LifecycleFacts } from './check-epochs.ts';
import type { Scheme } from '../protocol/engine.ts';
import type { HistoryEvent } from './history.ts';

/** Public facts about a wallet. */
export interface WalletFacts {
  walletId: string;
  scheme: Scheme;
  threshold: number;
  parties: string[];
  publicKey: string;
}

/** A row of a party's nonce ledger (no secrets): one commitment, where it was issued, its fate. */
export interface JournalNonce {
  commitment: string;
  sessionId: string;
  attempt: number;
  token: number;
  state: 'issued' | 'consumed' | 'discarded' | 'void';
  issuedMs: number;
  closedMs?: number;
}

/**
 * One entry of a party journal's operation log, in order (the memory journal keeps one): a
 * process opened the journal (voiding `voided` issued nonces), a token was observed, a nonce
 * recorded or consumed (`ok` false: refused), a session's nonces discarded.
 */
export type JournalOp =
  | { op: 'open'; atMs: number; voided: number }
  | { op: 'observe'; atMs: number; sessionId: string; token: number; ok: boolean }
  | {
      op: 'record';
      atMs: number;
      sessionId: string;
      attempt: number;
      token: number;
      commitment: string;
      ok: boolean;
    }
  | {
      op: 'consume';
      atMs: number;
      sessionId: string;
      token: number;
      commitment: string;
      ok: boolean;
    }
  | { op: 'discard'; atMs: number; sessionId: string; count: number };

/** A party's durable journal as read after the run (op log optional: SQLite has none). */
export interface JournalSnapshot {
  partyId: string;
  nonces: JournalNonce[];
  ops?: JournalOp[];
}

/** Per-session state a party held at one moment (for I6). */
export interface StateObservation {
  timeMs: number;
  partyId: string;
  /** In-memory sessions (sign or keygen) the party process holds. */
  activeSessions: number;
  /** Nonces still `issued` in its journal. */
  issued: { sessionId: string; attempt: number; token: number }[];
}

/** An approver as the harness configured it (id and Ed25519 public key, hex). */
export interface ApproverKey {
  id: string;
  publicKey: string;
}

/** The governance facts a stored session carries (the fields of the record's `policy`). */
export interface StoredSessionPolicy {
  policyHash: string;
  /** The approval groups of the requirement the rules produced: k of the listed approvers each. */
  requirement: { approvals: { k: number; approvers: ApproverKey[] }[] };
  /** The approvals recorded: who, and their signature over the session's subject. */
  approvals: { approverId: string; signature: string }[];
}

/** A signing session as the store recorded it (for I1 across the store, G1–G5 if governed). */
export interface StoredSession {
  sessionId: string;
  walletId: string;
  intentKey: string;
  messageHash: string;
  status: string;
  signature?: string;
  /** The request context (governed sessions: part of what approvers sign). */
  context?: Record<string, string>;
  policy?: StoredSessionPolicy;
  /** The unsigned EVM transaction the session signs (ecdsa), as the request carried it. */
  transaction?: { type: 'eip1559' | 'legacy'; hex: string };
  /** The derived key's path (ecdsa), canonical (`m/0/7`). */
  derivationPath?: string;
}

/** What the harness configured for governed wallets (absent: no governed wallet in the run). */
export interface GovernanceFacts {
  /** Every approver of the policy, with the key the harness gave it. */
  approvers: ApproverKey[];
  /** How long a governed session waits for approvals (the coordinator's setting). */
  approvalWindowMs: number;
}

/** Everything the checker looks at. */
export interface CheckInput {
  history: HistoryEvent[];
  wallets: WalletFacts[];
  journals: JournalSnapshot[];
  observations: StateObservation[];
  sessions: StoredSession[];
  /** Harness time at which the run ended (all requests were given time to finish). */
  endMs: number;
  governance?: GovernanceFacts;
  /** Wallets whose keys went through refresh or reshare (I7–I9, check-epochs.ts). */
  lifecycle?: LifecycleFacts[];
}

/** Tunables of the checker. */
export interface CheckOptions {
  /** Slack on every time bound, for harness clocks and scheduling (0 in the simulator). */
  toleranceMs: number;
  /** ARCHITECTURE §3 step 11: everything released within this after an abort. */
  cleanupMs: number;
  /**
   * A party continuously reachable for this long must be counted as available; a
   * QUORUM_UNAVAILABLE while t such parties exist is a violation (I5).
   */
  reachableWindowMs: number;
  /** A party's local session TTL cap (limits.partySessionTtlMs). */
  partyTtlMs: number;
}

/**
 * Invariant names (I1–I6: ARCHITECTURE §4; G1–G5: governed wallets, check-governance.ts; N1: one
 * transaction content per account nonce, check-nonces.ts).
 */
export type InvariantName =
  | 'I1'
  | 'I2'
  | 'I3'
  | 'I4'
  | 'I5'
  | 'I6'
  | 'I7'
  | 'I8'
  | 'I9'
  | 'G1'
  | 'G2'
  | 'G3'
  | 'G4'
  | 'G5'
  | 'N1'
  | 'CRASH'
  | 'INTENT';

/** One broken rule with enough detail to debug it. */
export interface Violation {
  invariant: InvariantName;
  message: string;
  detail: Record<string, unknown>;
}

/** What became of the governed requests of a run (each logical request by its last answer). */
export interface GovernedMetrics {
  requests: number;
  signed: number;
  /** Refused with QUORATE_E_POLICY_DENIED (a deny rule, a velocity limit). */
  denied: number;
  /** Failed with QUORATE_E_APPROVAL_TIMEOUT. */
  timedOut: number;
  /** Approvals refused with QUORATE_E_APPROVAL_REJECTED. */
  approvalsRejected: number;
}

/** Measurements over one run (ms on the harness clock). */
export interface RunMetrics {
  requests: number;
  served: number;
  /** True when at most n − t parties were faulty and the coordinator never crashed. */
  sloApplies: boolean;
  faultyParties: string[];
  sessions: number;
  detectionMs: number[];
  failFastMs: number[];
  recoveryMs: number[];
  /** Tries that asked a failed intent again after a retryable failure, and how many signed. */
  retriesAfterFailure: number;
  signedAfterRetry: number;
  governed: GovernedMetrics;
}

/** The checker's verdict. */
export interface CheckReport {
  violations: Violation[];
  metrics: RunMetrics;
}
