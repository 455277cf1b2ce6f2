/**
 * Stable error codes. Codes are never renamed or reused; `docs/errors.md` lists exactly these
 * (a test enforces it). Errors a caller can expect are {@link QuorateError} values; programmer
 * errors are assertions.
 */

interface ErrorSpec {
  status: number;
  retryable: boolean;
  summary: string;
}

/** The error table: code → HTTP status, retryable flag and a one-line summary. */
export const errorTable = {
  QUORATE_E_BAD_REQUEST: {
    status: 400,
    retryable: false,
    summary:
      'The request body, path or query failed validation (malformed JSON, wrong type, missing field).',
  },
  QUORATE_E_BAD_HEX: {
    status: 400,
    retryable: false,
    summary: 'A field that must be hex is not valid hex (odd length or non-hex characters).',
  },
  QUORATE_E_INVALID_THRESHOLD: {
    status: 400,
    retryable: false,
    summary: 'The threshold is below 1 or above the number of parties.',
  },
  QUORATE_E_DUPLICATE_PARTY: {
    status: 400,
    retryable: false,
    summary: 'The same party id appears twice in a wallet.',
  },
  QUORATE_E_UNKNOWN_PARTY: {
    status: 400,
    retryable: false,
    summary: 'A party id is not enrolled with this coordinator.',
  },
  QUORATE_E_UNSUPPORTED_SCHEME: {
    status: 400,
    retryable: false,
    summary:
      'The signature scheme is not one of ed25519, bip340, secp256k1, ecdsa (or a party runs no engine for it).',
  },
  QUORATE_E_DIGEST_REQUIRED: {
    status: 400,
    retryable: false,
    summary: 'An ecdsa wallet signs a 32-byte digest: the message is not 32 bytes.',
  },
  QUORATE_E_BAD_TRANSACTION: {
    status: 400,
    retryable: false,
    summary:
      'The transaction does not decode, is not of its declared type, is already signed, lacks its EIP-155 chainId, is not canonically encoded, or is for a wallet that is not ecdsa.',
  },
  QUORATE_E_TX_CONTEXT_MISMATCH: {
    status: 400,
    retryable: false,
    summary:
      'The declared context (amount, asset, destination) contradicts the transaction decoded from the request; a party refuses the same when a sign-start carries one.',
  },
  QUORATE_E_NONCE_TAKEN: {
    status: 409,
    retryable: false,
    summary:
      'Another transaction (other destination, amount or data) already holds this account nonce of the wallet on this chain; only the same transaction, or a speed-up of it, may be signed for it.',
  },
  QUORATE_E_BAD_DERIVATION_PATH: {
    status: 400,
    retryable: false,
    summary:
      'The derivation path is not a non-hardened BIP32 path like m/0/7 (at most 8 levels), or the wallet is not ecdsa.',
  },
  QUORATE_E_MESSAGE_TOO_LARGE: {
    status: 413,
    retryable: false,
    summary: 'The message to sign exceeds limits.messageBytesMax.',
  },
  QUORATE_E_BODY_TOO_LARGE: {
    status: 413,
    retryable: false,
    summary: 'The HTTP body exceeds limits.httpBodyBytesMax.',
  },
  QUORATE_E_UNAUTHORIZED: {
    status: 401,
    retryable: false,
    summary: 'Missing or wrong bearer token.',
  },
  QUORATE_E_NOT_FOUND: { status: 404, retryable: false, summary: 'No such route.' },
  QUORATE_E_WALLET_NOT_FOUND: { status: 404, retryable: false, summary: 'No wallet with this id.' },
  QUORATE_E_SESSION_NOT_FOUND: {
    status: 404,
    retryable: false,
    summary: 'No session with this id.',
  },
  QUORATE_E_PARTY_NOT_FOUND: {
    status: 404,
    retryable: false,
    summary: 'No enrolled party with this id.',
  },
  QUORATE_E_INTENT_CONFLICT: {
    status: 409,
    retryable: false,
    summary:
      'This intentKey is already bound to a different message or context for this wallet (detail.conflict); nothing was signed.',
  },
  QUORATE_E_INTENT_ARCHIVED: {
    status: 409,
    retryable: false,
    summary:
      'This intentKey belongs to a finished session that retention archived (detail.sessionId, detail.sameMessage); it is never signed again, and the result is in the archive.',
  },
  QUORATE_E_POLICY_DENIED: {
    status: 403,
    retryable: false,
    summary:
      'The signing-time rules deny this request (detail: cause, ruleId, reason, policyHash); a party refuses with the same code.',
  },
  QUORATE_E_APPROVAL_TIMEOUT: {
    status: 504,
    retryable: false,
    summary: 'Required approvals did not arrive before the approval deadline; nothing was signed.',
  },
  QUORATE_E_APPROVAL_REJECTED: {
    status: 403,
    retryable: false,
    summary:
      'An approval is from an unknown approver, has a bad signature, or the session needs none.',
  },
  QUORATE_E_QUORUM_UNAVAILABLE: {
    status: 503,
    retryable: true,
    summary:
      'Fewer than t eligible parties are reachable; detail names who is down and since when.',
  },
  QUORATE_E_DEADLINE_EXCEEDED: {
    status: 504,
    retryable: true,
    summary: 'The session reached its deadline without a signature; every attempt was aborted.',
  },
  QUORATE_E_ATTEMPTS_EXHAUSTED: {
    status: 409,
    retryable: false,
    summary:
      'This intent failed and its retries have used its whole attempt budget; nothing was signed. Use a new intentKey.',
  },
  QUORATE_E_PROTOCOL_ABORT: {
    status: 502,
    retryable: false,
    summary:
      'Parties sent invalid protocol data and no honest quorum remains; detail names the blamed parties.',
  },
  QUORATE_E_KEYGEN_FAILED: {
    status: 502,
    retryable: true,
    summary: 'Distributed key generation did not complete; no wallet was created.',
  },
  QUORATE_E_OVERLOADED: {
    status: 503,
    retryable: true,
    summary:
      'Too many active sessions or key generations (limits.sessionsActiveMax), too many wallets (detail.reason wallets-max) or party records, or too many connections.',
  },
  QUORATE_E_STALE_TOKEN: {
    status: 409,
    retryable: false,
    summary: 'A fencing token is lower than one already seen; the write or message was refused.',
  },
  QUORATE_E_PARTY_REFUSED: {
    status: 502,
    retryable: true,
    summary: 'A party refused to take part (intent conflict, unknown wallet, lost nonce).',
  },
  QUORATE_E_ENROLLMENT_DENIED: {
    status: 403,
    retryable: false,
    summary:
      'A party failed enrolment: wrong party secret or an identity key different from the pinned one.',
  },
  QUORATE_E_FORBIDDEN: {
    status: 403,
    retryable: false,
    summary:
      'The API principal is authenticated but its role does not allow this route (see docs/roles.md).',
  },
  QUORATE_E_UNTRUSTED_PEER: {
    status: 502,
    retryable: false,
    summary:
      'A party refused a key generation: a peer key is not certified by the operator key it pins, or the parties confirmed different transcripts.',
  },
  QUORATE_E_BAD_ENVELOPE: {
    status: 400,
    retryable: false,
    summary:
      'A wire envelope failed validation: bad signature, replay, duplicate, wrong session or stale token.',
  },
  QUORATE_E_CONFIG: {
    status: 400,
    retryable: false,
    summary: 'A command-line flag, environment variable or data directory is invalid.',
  },
  QUORATE_E_KEYSTORE: {
    status: 500,
    retryable: false,
    summary: 'The encrypted keystore could not be opened (wrong passphrase or corrupted file).',
  },
  QUORATE_E_STORE_UNAVAILABLE: {
    status: 503,
    retryable: true,
    summary: 'The session store could not be reached or written.',
  },
  QUORATE_E_NOT_OWNER: {
    status: 503,
    retryable: true,
    summary:
      'This coordinator replica lost its store lease and stopped driving the session; another replica takes it over (retry on any replica with the same intentKey).',
  },
  QUORATE_E_POLICY_INVALID: {
    status: 400,
    retryable: false,
    summary: 'A policy file is invalid; detail.path names the place and detail.problem the fault.',
  },
  QUORATE_E_INTERNAL: {
    status: 500,
    retryable: true,
    summary: 'An unexpected internal error; the session state is unchanged.',
  },
  QUORATE_E_STALE_EPOCH: {
    status: 409,
    retryable: false,
    summary:
      "A request names a key epoch that is not the wallet's active one on the party (older, or one it never held); nothing was signed.",
  },
  QUORATE_E_UNSUPPORTED_OPERATION: {
    status: 400,
    retryable: false,
    summary:
      "The lifecycle operation is not available for this wallet's scheme (ecdsa: the DKLs23 engine has no refresh or reshare; docs/key-lifecycle.md).",
  },
  QUORATE_E_OPERATION_IN_PROGRESS: {
    status: 409,
    retryable: true,
    summary:
      'A refresh or reshare of this wallet is already running (detail.operationId); retry once it ended.',
  },
  QUORATE_E_OPERATION_NOT_FOUND: {
    status: 404,
    retryable: false,
    summary:
      'No lifecycle operation has this id (or it is older than the last ones its wallet keeps).',
  },
  QUORATE_E_LIFECYCLE_FAILED: {
    status: 502,
    retryable: true,
    summary:
      'A refresh or reshare ended without a flip and was rolled back: the wallet signs under its old epoch (detail names the phase and blamed parties).',
  },
} as const satisfies Record<string, ErrorSpec>;

/** A stable error code. */
export type ErrorCode = keyof typeof errorTable;

/** The JSON shape of an error in every HTTP answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; retryable: boolean; detail: Record<string, unknown> };
}

/** An error callers can expect: stable code, HTTP status, retryable flag, detail object. */
export class QuorateError extends Error {
  override name = 'QuorateError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly detail: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, detail: Record<string, unknown> = {}) {
    super(message);
    const spec: ErrorSpec = errorTable[code];
    this.code = code;
    this.status = spec.status;
    this.retryable = spec.retryable;
    this.detail = detail;
  }

  /** The HTTP/JSON body for this error. */
  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        retryable: this.retryable,
        detail: this.detail,
      },
    };
  }
}

/** True if `value` is a known error code. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorTable, value);
}
