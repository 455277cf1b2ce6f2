/**
 * The Jepsen-style history shared by the simulator and the chaos harness: client operations
 * (`invoke` then `ok`/`fail`/`info`: signing requests and, on governed wallets, the approvers'
 * approvals), nemesis events and monitor observations in one stream,
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
  /** Present when the wallet is governed: what the request asks and what the rules should do. */
  governance?: GovernedRequest;
  /** An EVM transaction sent instead of the message (`messageHex` is its digest). */
  transaction?: { type: string; hex: string };
}

/**
 * What the rules should decide for a request on a governed wallet, where the harness knows it:
 * `allow` (signs without approvals), `approvals` (signs once `approvalsRequired` distinct
 * approvers approved), `deny` (a deny rule matches: never signs), `metered` (allowed until a
 * velocity limit of `velocity.maxCount` signed requests is reached; which ones sign depends on
 * the order the coordinator admits them).
 */
export interface GovernedRequest {
  expected: 'allow' | 'approvals' | 'deny' | 'metered';
  /** The request context the rules read (amount, asset, destination). */
  context: Record<string, string>;
  /** k of the approval rule, when `expected` is `approvals`. */
  approvalsRequired?: number;
  /**
   * What the workload's approvers do: give at least k valid approvals in time (`in-time`), give
   * fewer (`too-few`), give them after the approval deadline (`late`), or nothing (`none`).
   * `too-few` and `none` never sign; `late` approvals never count (unless a jump of the
   * coordinator's wall clock moved the deadline), so a `late` request times out.
   */
  approvalPlan?: 'in-time' | 'too-few' | 'late' | 'none';
  /** The velocity class of a metered request: at most `maxCount` requests of it ever sign. */
  velocity?: { key: string; maxCount: number };
}

/** An approval as an approver posted it (`valid` false: deliberately invalid, must be refused). */
export interface ApproveInvoke {
  requestId: string;
  sessionId: string;
  approverId: string;
  signature: string;
  valid: boolean;
  /** The session's approval deadline on the harness clock, as the approver read it. */
  approvalDeadlineAtMs?: number;
  /** Retry number of this approval (0 = first try). */
  try: number;
}

/** The answer to an approval. */
export interface ApproveCompletion {
  requestId: string;
  sessionId: string;
  approverId: string;
  code?: string;
  reason?: string;
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
      type: 'invoke';
      f: 'approve';
      value: ApproveInvoke;
    }
  | {
      index: number;
      timeMs: number;
      process: string;
      type: 'ok' | 'fail' | 'info';
      f: 'approve';
      value: ApproveCompletion;
    }
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
    }
  | {
      index: number;
      timeMs: number;
      process: 'lifecycle';
      type: 'info';
      f: 'lifecycle';
      /** A refresh or reshare asked of the coordinator, and what became of the request. */
      value: LifecycleEventValue;
    };

/** What a harness records when it asks for a refresh or reshare. */
export interface LifecycleEventValue {
  kind: string;
  parties?: string[];
  operationId?: string;
  outcome: string;
}

/** Distributive Omit, so each variant keeps its own fields. */
export type NewHistoryEvent = HistoryEvent extends infer E
  ? E extends HistoryEvent
    ? Omit<E, 'index'>
    : never
  : never;
