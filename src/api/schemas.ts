/**
 * JSON schemas of the HTTP API (ARCHITECTURE §5). Fastify validates bodies against them; the
 * handlers add the checks that need stable, specific codes (hex, sizes, threshold, scheme).
 * The same objects build `/openapi.json`.
 */
import { limits } from '../core/limits.ts';
import { partyIdPattern } from '../core/ids.ts';

const idPattern = '^[a-z]_[0-9a-f]{24}$';

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'retryable', 'detail'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        retryable: { type: 'boolean' },
        detail: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

const refreshEveryDaysSchema = {
  type: 'integer',
  minimum: 0,
  maximum: limits.refreshEveryDaysMax,
  description: 'refresh the shares every this many days (0: never); docs/key-lifecycle.md',
} as const;

/** A wallet's parties in a request: 1..partiesMax party ids. */
const partyListSchema = {
  type: 'array',
  minItems: 1,
  maxItems: limits.partiesMax,
  items: { type: 'string', pattern: partyIdPattern },
} as const;

/** A recorded failure: its code, message and the parties blamed (a session's, an operation's). */
const failureSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    blamed: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const createWalletBody = {
  type: 'object',
  required: ['scheme', 'threshold', 'parties'],
  additionalProperties: false,
  properties: {
    scheme: { type: 'string', maxLength: 32 },
    threshold: { type: 'integer' },
    parties: partyListSchema,
    policy: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      description: 'policy tier whose signing-time rules govern the wallet (needs --policy)',
    },
    refreshEveryDays: refreshEveryDaysSchema,
  },
} as const;

export const refreshScheduleBody = {
  type: 'object',
  required: ['refreshEveryDays'],
  additionalProperties: false,
  properties: { refreshEveryDays: refreshEveryDaysSchema },
} as const;

export const approvalBody = {
  type: 'object',
  required: ['approverId', 'signature'],
  additionalProperties: false,
  properties: {
    approverId: { type: 'string', minLength: 1, maxLength: 64 },
    signature: {
      type: 'string',
      pattern: '^[0-9a-f]{128}$',
      description: 'Ed25519 over the canonical approval message',
    },
  },
} as const;

export const walletSchema = {
  type: 'object',
  required: ['walletId', 'scheme', 'threshold', 'parties', 'publicKey'],
  properties: {
    walletId: { type: 'string' },
    scheme: { type: 'string', enum: ['ed25519', 'bip340', 'secp256k1', 'ecdsa'] },
    threshold: { type: 'integer' },
    parties: { type: 'array', items: { type: 'string' } },
    publicKey: {
      type: 'string',
      description:
        'hex; bip340 x-only 32 bytes, ed25519 32 bytes, secp256k1 and ecdsa compressed 33 bytes',
    },
    ethereumAddress: { type: 'string', description: 'ecdsa: the EIP-55 address of the key' },
    policy: { type: 'string', description: 'governing policy tier, if any' },
    epoch: {
      type: 'integer',
      description: 'active key epoch (0 after key generation; +1 per refresh or reshare)',
    },
    refreshEveryDays: { type: 'integer', description: 'scheduled refresh interval, if any' },
    renewedMs: { type: 'integer', description: 'when the shares were last made (ms since epoch)' },
    operation: {
      type: 'object',
      description: 'the running lifecycle operation, or the last one to end',
      properties: {
        operationId: { type: 'string' },
        kind: { type: 'string' },
        status: { type: 'string' },
      },
    },
  },
} as const;

const lifecycleDeadline = {
  type: 'integer',
  minimum: 1_000,
  maximum: limits.lifecycleDeadlineMsMax,
  description: 'how long the operation may take before it rolls back (ms)',
} as const;

export const refreshBody = {
  type: 'object',
  additionalProperties: false,
  properties: { deadlineMs: lifecycleDeadline },
} as const;

export const reshareBody = {
  type: 'object',
  required: ['threshold', 'parties'],
  additionalProperties: false,
  properties: {
    threshold: { type: 'integer' },
    parties: partyListSchema,
    deadlineMs: lifecycleDeadline,
    authorization: {
      type: 'string',
      pattern: '^[0-9a-f]{128}$',
      description:
        "the operator key's Ed25519 signature over the reshare (docs/key-lifecycle.md): every dealer checks it",
    },
  },
} as const;

export const operationSchema = {
  type: 'object',
  required: ['operationId', 'walletId', 'kind', 'status', 'phase', 'fromEpoch', 'toEpoch'],
  properties: {
    operationId: { type: 'string' },
    walletId: { type: 'string' },
    kind: { type: 'string', enum: ['refresh', 'reshare'] },
    status: { type: 'string', enum: ['running', 'done', 'failed'] },
    phase: { type: 'string', enum: ['staging', 'testing', 'retiring', 'ended'] },
    fromEpoch: { type: 'integer' },
    toEpoch: { type: 'integer' },
    threshold: { type: 'integer' },
    parties: { type: 'array', items: { type: 'string' } },
    dealers: { type: 'array', items: { type: 'string' } },
    startedMs: { type: 'integer' },
    deadlineMs: { type: 'integer' },
    endedMs: { type: 'integer' },
    progress: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'per party: asked, dealt, staged, test-signed, promoted, erased, …',
    },
    retirePending: { type: 'array', items: { type: 'string' } },
    error: failureSchema,
  },
} as const;

export const operationIdParams = {
  type: 'object',
  required: ['operationId'],
  properties: { operationId: { type: 'string', maxLength: 64 } },
} as const;

export const signBody = {
  type: 'object',
  required: ['intentKey'],
  additionalProperties: false,
  properties: {
    message: {
      type: 'string',
      description: 'hex bytes to sign (ecdsa: a 32-byte digest); or `transaction` instead',
    },
    derivationPath: {
      type: 'string',
      maxLength: limits.derivationPathLengthMax,
      description: 'ecdsa: the non-hardened BIP32 path of the child key that signs (m/0/7)',
    },
    transaction: {
      type: 'object',
      required: ['type', 'hex'],
      additionalProperties: false,
      description:
        'ecdsa: an unsigned EVM transaction, decoded and signed as facts (docs/ecdsa.md)',
      properties: {
        type: { type: 'string', enum: ['eip1559', 'legacy'] },
        hex: { type: 'string', maxLength: limits.messageBytesMax * 2 + 2 },
      },
    },
    intentKey: { type: 'string', minLength: 1, maxLength: limits.intentKeyLengthMax },
    waitMs: { type: 'integer', minimum: 0, maximum: limits.waitMsMax },
    deadlineMs: {
      type: 'integer',
      minimum: limits.sessionDeadlineMsMin,
      maximum: limits.sessionDeadlineMsMax,
      description: `session deadline (default ${limits.sessionDeadlineMsDefault})`,
    },
    context: {
      type: 'object',
      additionalProperties: false,
      properties: {
        amount: { type: 'string', maxLength: limits.contextFieldLengthMax },
        asset: { type: 'string', maxLength: limits.contextFieldLengthMax },
        destination: { type: 'string', maxLength: limits.contextFieldLengthMax },
      },
    },
  },
} as const;

/** A signed session's signature fields, as the signing answer and the session show them. */
const signatureProperties = {
  signature: { type: 'string' },
  recoveryId: {
    type: 'integer',
    description: 'ecdsa: the recovery id (0 or 1) of the 64-byte r‖s (low-S) signature',
  },
  signedTransaction: {
    type: 'string',
    description: 'a transaction request: the signed raw transaction (0x hex), ready to broadcast',
  },
  signers: { type: 'array', items: { type: 'string' } },
} as const;

export const signedSchema = {
  type: 'object',
  required: ['sessionId', 'status'],
  properties: {
    sessionId: { type: 'string' },
    status: { type: 'string' },
    ...signatureProperties,
  },
} as const;

export const sessionSchema = {
  type: 'object',
  required: ['sessionId', 'walletId', 'intentKey', 'status', 'attempts'],
  properties: {
    sessionId: { type: 'string' },
    walletId: { type: 'string' },
    intentKey: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'running', 'signed', 'failed'] },
    pendingReason: { type: 'string' },
    policy: { type: 'object', additionalProperties: true },
    ...signatureProperties,
    deadlineMs: { type: 'number' },
    retry: {
      type: 'object',
      description:
        'Present once a retryable failure was asked again with the same intentKey and message: the session was reopened for a new try (docs/retries.md).',
      properties: {
        count: { type: 'integer' },
        fromAttempt: { type: 'integer' },
        lastMs: { type: 'number' },
        previousError: { type: 'object', properties: { code: { type: 'string' } } },
      },
    },
    attempts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['attempt', 'parties', 'outcome'],
        properties: {
          attempt: { type: 'integer' },
          token: { type: 'integer' },
          parties: { type: 'array', items: { type: 'string' } },
          asked: {
            type: 'array',
            items: { type: 'string' },
            description: 'Hedged first round: every party asked for round 1 (docs/hedging.md).',
          },
          outcome: { type: 'string' },
          reason: { type: 'string' },
          atFault: {
            type: 'array',
            items: { type: 'string' },
            description:
              'An aborted attempt: the parties that failed it (slow, blamed, refusing or gone).',
          },
        },
      },
    },
    error: failureSchema,
  },
} as const;

/** One party's row: `GET /v1/parties/{partyId}`, and each row of `GET /v1/parties`. */
export const partySchema = {
  type: 'object',
  required: ['partyId', 'state', 'lastSeenMs', 'enrolment'],
  properties: {
    partyId: { type: 'string' },
    state: { type: 'string', enum: ['alive', 'suspect', 'down'] },
    lastSeenMs: { type: 'number' },
    rttMs: { type: 'number' },
    reason: { type: 'string', enum: ['blamed', 'missed-round', 'detector'] },
    blame: { type: 'string' },
    enrolment: {
      type: 'string',
      enum: ['enrolled', 'revoked', 'invited', 'unknown'],
      description:
        'enrolled: identity pinned; revoked: pinned but refused until it redeems a new token; invited: a live enrolment token, not redeemed yet; unknown: neither',
    },
  },
} as const;

export const partiesSchema = {
  type: 'object',
  required: ['parties'],
  properties: {
    parties: { type: 'array', items: partySchema },
    nextCursor: {
      type: 'string',
      description:
        'Only with limit or cursor: where the next page starts; absent on the last page.',
    },
  },
} as const;

export const enrolmentBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ttlSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: limits.enrolmentTtlSecondsMax,
      description: `how long the token can be redeemed (default ${limits.enrolmentTtlSecondsDefault})`,
    },
    rotate: {
      type: 'boolean',
      description: 'redeeming it replaces an existing pin (new identity keys); default false',
    },
  },
} as const;

export const enrolmentSchema = {
  type: 'object',
  required: ['partyId', 'token', 'expiresMs'],
  properties: {
    partyId: { type: 'string' },
    token: {
      type: 'string',
      description:
        'qpe_ + base64url of 32 random bytes; shown once, stored nowhere (the coordinator keeps sha256 of it)',
    },
    expiresMs: { type: 'number' },
  },
} as const;

export const unpinnedSchema = {
  type: 'object',
  required: ['partyId', 'unpinned'],
  properties: { partyId: { type: 'string' }, unpinned: { type: 'boolean', enum: [true] } },
} as const;

export const revokedSchema = {
  type: 'object',
  required: ['partyId', 'revokedMs'],
  properties: { partyId: { type: 'string' }, revokedMs: { type: 'number' } },
} as const;

export const walletIdParams = {
  type: 'object',
  required: ['walletId'],
  properties: { walletId: { type: 'string', maxLength: 64 } },
} as const;

export const sessionIdParams = {
  type: 'object',
  required: ['sessionId'],
  properties: { sessionId: { type: 'string', maxLength: 64 } },
} as const;

export const partyIdParams = {
  type: 'object',
  required: ['partyId'],
  properties: { partyId: { type: 'string', pattern: partyIdPattern } },
} as const;

export { idPattern };

/** Query of the paged listings (`GET /v1/wallets`, `GET /v1/sessions`): cursor pagination. */
const pageQueryProperties = {
  cursor: { type: 'string', maxLength: 512 },
  // A query string is text (the API does not coerce types); the store checks 1..max.
  limit: { type: 'string', pattern: '^[0-9]{1,6}$' },
} as const;

export const addressQuery = {
  type: 'object',
  required: ['path'],
  additionalProperties: false,
  properties: { path: { type: 'string', maxLength: limits.derivationPathLengthMax } },
} as const;

export const walletsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: pageQueryProperties,
} as const;

/** The party listing's query: all optional; without `limit` and `cursor` it lists every party. */
export const partiesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...pageQueryProperties,
    state: { type: 'string', enum: ['alive', 'suspect', 'down'] },
  },
} as const;

export const sessionsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...pageQueryProperties,
    walletId: { type: 'string', maxLength: 64 },
    status: { type: 'string', enum: ['pending', 'running', 'signed', 'failed'] },
  },
} as const;

export const walletsPageSchema = {
  type: 'object',
  required: ['wallets'],
  properties: {
    wallets: { type: 'array', items: walletSchema },
    nextCursor: {
      type: 'string',
      description: 'Where the next page starts; absent on the last page. A page may be short.',
    },
  },
} as const;

export const sessionsPageSchema = {
  type: 'object',
  required: ['sessions'],
  properties: {
    sessions: { type: 'array', items: sessionSchema },
    nextCursor: {
      type: 'string',
      description:
        'Where the next page starts; absent on the last page. A page may be short (even empty) and still have one.',
    },
  },
} as const;
