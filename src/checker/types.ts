/** Inputs and outputs of the shared checker (simulator now, chaos harness later). */
import type { Scheme } from '../protocol/engine.ts';
import type { JournalOp } from '../party/journal-memory.ts';
import type { NonceEntry } from '../party/journal.ts';
import type { HistoryEvent } from './history.ts';

/** Public facts about a wallet. */
export interface WalletFacts {
  walletId: string;
  scheme: Scheme;
  threshold: number;
  parties: string[];
  publicKey: string;
}

/** A party's durable journal as read after the run (op log optional: SQLite has none). */
export interface JournalSnapshot {
  partyId: string;
  nonces: NonceEntry[];
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

/** A signing session as the store recorded it (for I1 across the store). */
export interface StoredSession {
  sessionId: string;
  walletId: string;
  intentKey: string;
  messageHash: string;
  status: string;
  signature?: string;
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

/** Invariant names. */
export type InvariantName = 'I1' | 'I2' | 'I3' | 'I4' | 'I5' | 'I6' | 'CRASH' | 'INTENT';

/** One broken rule with enough detail to debug it. */
export interface Violation {
  invariant: InvariantName;
  message: string;
  detail: Record<string, unknown>;
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
}

/** The checker's verdict. */
export interface CheckReport {
  violations: Violation[];
  metrics: RunMetrics;
}
