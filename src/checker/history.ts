/**
 * The Jepsen-style history shared by the simulator and the chaos harness: client operations
 * (`invoke` then `ok`/`fail`/`info`), nemesis events and monitor observations in one stream,
 * ordered by time. Times are milliseconds on the harness's own clock (virtual time in the
 * simulator), never a node's possibly skewed clock.
 */

/** A signing request as the client issued it. */
export interface SignInvoke {
  requestId: string;
  walletId: string;
  intentKey: string;
  messageHex: string;
  /** Requested session deadline, relative (ms). */
  deadlineMs: number;
  /** Retry number of this logical request (0 = first try). */
  try: number;
}

/**
 * The `lastToken` of an answer: the highest fencing token among the session's attempts so far
 * (0 before any). Tokens strictly increase, so it tells which try of a reopened session an
 * answer speaks for.
 */
export function lastTokenOf(attempts: readonly { token: number }[]): number {
  let highest = 0;
  for (const a of attempts) if (a.token > highest) highest = a.token;
  return highest;
}

/** A signing completion. `sessionDeadlineAtMs` is the session's deadline on the harness clock. */
export interface SignCompletion {
  requestId: string;
  sessionId?: string;
  sessionDeadlineAtMs?: number;
  /**
   * The highest attempt token of the session when this answer was given. A session reopened
   * for a retry ends once per try: a party's nonce is judged against the end of the try its
   * token belongs to (I6). Absent: the answer covers every attempt of the session.
   */
  lastToken?: number;
  signature?: string;
  signers?: string[];
  code?: string;
  retryable?: boolean;
  detail?: Record<string, unknown>;
  reason?: string;
}

/** What a nemesis did: which parties it impairs, whether it stopped the coordinator. */
export interface NemesisValue {
  id: string;
  kind: string;
  /** Parties whose process or path to the coordinator is impaired while this fault lasts. */
  impaired: string[];
  coordinatorDown?: boolean;
  /** Node → wall-clock skew (ms) set by a clock nemesis; 0 on stop. */
  skewMs?: Record<string, number>;
  /** The fault makes impaired parties unreachable, so the detector should notice it. */
  detectable?: boolean;
  description: string;
}

/** One history event. */
export type HistoryEvent =
  | { index: number; timeMs: number; process: string; type: 'invoke'; f: 'sign'; value: SignInvoke }
  | {
      index: number;
      timeMs: number;
      process: string;
      type: 'ok' | 'fail' | 'info';
      f: 'sign';
      value: SignCompletion;
    }
  | {
      index: number;
      timeMs: number;
      process: 'nemesis';
      type: 'info';
      f: 'start' | 'stop';
      value: NemesisValue;
    }
  | {
      index: number;
      timeMs: number;
      process: 'monitor';
      type: 'info';
      f: 'party-state';
      value: { partyId: string; state: string };
    };

/** Distributive Omit, so each variant keeps its own fields. */
export type NewHistoryEvent = HistoryEvent extends infer E
  ? E extends HistoryEvent
    ? Omit<E, 'index'>
    : never
  : never;
