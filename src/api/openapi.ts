/** The OpenAPI 3 document, assembled from the same schemas Fastify validates with. */
import { errorTable } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { accessOf } from './roles.ts';
import * as s from './schemas.ts';

const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const errors = {
  '4XX': { description: 'Client error (see QUORATE_E_* codes)', ...json(s.errorSchema) },
  '5XX': { description: 'Server or availability error', ...json(s.errorSchema) },
};
const pathParameter = (name: string) => ({
  name,
  in: 'path',
  required: true,
  schema: { type: 'string' },
});

/** Builds the OpenAPI document. */
export function buildOpenApi(): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: {
      title: 'Quorate coordinator API',
      version: '1.0.0',
      description: 'Threshold signing (FROST) with bounded-time answers.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: s.errorSchema, Wallet: s.walletSchema, Session: s.sessionSchema },
      'x-error-codes': { ...errorTable },
    },
    security: [{ bearer: [] }],
    paths: withRoles({
      ...walletPaths(),
      ...lifecyclePaths(),
      ...sessionPaths(),
      ...partyPaths(),
      ...servicePaths(),
    }),
  };
}

/** Adds `x-roles` (the roles that may call it, from the role table) to every operation. */
function withRoles(paths: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(paths).map(([path, item]) => {
      const url = path.replace(/\{(\w+)\}/g, ':$1');
      const operations = Object.entries(item as Record<string, Record<string, unknown>>).map(
        ([method, operation]) => {
          const access = accessOf(method.toUpperCase(), url);
          const roles = 'roles' in access ? access.roles : [];
          return [method, access.open === true ? operation : { ...operation, 'x-roles': roles }];
        },
      );
      return [path, Object.fromEntries(operations)];
    }),
  );
}

function queryParameter(name: string, schema: Record<string, unknown>): Record<string, unknown> {
  return { name, in: 'query', required: false, schema };
}

/** `cursor` and `limit` of every paged listing. */
const pageParameters = [
  queryParameter('cursor', { type: 'string' }),
  queryParameter('limit', { type: 'integer', minimum: 1, maximum: limits.storePageSizeMax }),
];

function walletPaths(): Record<string, unknown> {
  return {
    '/v1/wallets': {
      post: {
        summary: 'Create a wallet by distributed key generation among all its parties',
        requestBody: { required: true, ...json(s.createWalletBody) },
        responses: {
          '201': { description: 'Wallet created', ...json(s.walletSchema) },
          ...errors,
        },
      },
      get: {
        summary: 'List wallets by id, one page at a time (cursor pagination)',
        parameters: pageParameters,
        responses: {
          '200': { description: 'A page of wallets', ...json(s.walletsPageSchema) },
          ...errors,
        },
      },
    },
    '/v1/wallets/{walletId}': {
      get: {
        summary: 'Get a wallet',
        parameters: [pathParameter('walletId')],
        responses: { '200': { description: 'Wallet', ...json(s.walletSchema) }, ...errors },
      },
    },
    '/v1/wallets/{walletId}/addresses': {
      get: {
        summary: 'ecdsa: the child public key and Ethereum address at a non-hardened BIP32 path',
        parameters: [
          pathParameter('walletId'),
          { ...queryParameter('path', { type: 'string', example: 'm/0/7' }), required: true },
        ],
        responses: {
          '200': {
            description: '{walletId, path, publicKey, ethereumAddress}',
            ...json({
              type: 'object',
              required: ['walletId', 'path', 'publicKey', 'ethereumAddress'],
              properties: {
                walletId: { type: 'string' },
                path: { type: 'string' },
                publicKey: { type: 'string' },
                ethereumAddress: { type: 'string' },
              },
            }),
          },
          ...errors,
        },
      },
    },
    '/v1/wallets/{walletId}/signatures': {
      post: {
        summary: 'Request a threshold signature (idempotent per intentKey)',
        parameters: [pathParameter('walletId')],
        requestBody: { required: true, ...json(s.signBody) },
        responses: {
          '200': { description: 'Signed within waitMs', ...json(s.signedSchema) },
          '202': {
            description: 'Still running after waitMs; poll the session',
            ...json(s.signedSchema),
          },
          ...errors,
        },
      },
    },
  };
}

/** Refresh, reshare and their operations (docs/key-lifecycle.md). */
function lifecyclePaths(): Record<string, unknown> {
  const accepted = {
    '202': {
      description: 'Started; poll GET /v1/operations/{operationId}',
      ...json({
        type: 'object',
        required: ['operationId', 'walletId', 'kind', 'status'],
        properties: {
          operationId: { type: 'string' },
          walletId: { type: 'string' },
          kind: { type: 'string' },
          status: { type: 'string' },
        },
      }),
    },
  };
  return {
    '/v1/wallets/{walletId}/refresh': {
      post: {
        summary: 'Refresh the key shares (same threshold and parties; the key is unchanged)',
        parameters: [pathParameter('walletId')],
        requestBody: { required: false, ...json(s.refreshBody) },
        responses: { ...accepted, ...errors },
      },
    },
    '/v1/wallets/{walletId}/reshare': {
      post: {
        summary: 'Reshare to a new threshold and party set (the key is unchanged)',
        parameters: [pathParameter('walletId')],
        requestBody: { required: true, ...json(s.reshareBody) },
        responses: { ...accepted, ...errors },
      },
    },
    '/v1/wallets/{walletId}/refresh-schedule': {
      put: {
        summary: 'Set (0: clear) the scheduled refresh interval in days',
        parameters: [pathParameter('walletId')],
        requestBody: { required: true, ...json(s.refreshScheduleBody) },
        responses: { '200': { description: 'Wallet', ...json(s.walletSchema) }, ...errors },
      },
    },
    '/v1/operations/{operationId}': {
      get: {
        summary: 'A refresh or reshare: status, phase, per-party progress, error',
        parameters: [pathParameter('operationId')],
        responses: { '200': { description: 'Operation', ...json(s.operationSchema) }, ...errors },
      },
    },
  };
}

function sessionPaths(): Record<string, unknown> {
  return {
    '/v1/sessions': {
      get: {
        summary:
          'List sessions newest first, optionally of one wallet and/or status (cursor pagination; a signer sees only its own)',
        parameters: [
          ...pageParameters,
          queryParameter('walletId', { type: 'string' }),
          queryParameter('status', {
            type: 'string',
            enum: ['pending', 'running', 'signed', 'failed'],
          }),
        ],
        responses: {
          '200': { description: 'A page of sessions', ...json(s.sessionsPageSchema) },
          ...errors,
        },
      },
    },
    '/v1/sessions/{sessionId}': {
      get: {
        summary: 'Get a signing session',
        parameters: [pathParameter('sessionId')],
        responses: { '200': { description: 'Session', ...json(s.sessionSchema) }, ...errors },
      },
    },
    '/v1/sessions/{sessionId}/approvals': {
      post: {
        summary:
          'Add an approval (Ed25519 over the canonical approval message) to a pending governed session',
        parameters: [pathParameter('sessionId')],
        requestBody: { required: true, ...json(s.approvalBody) },
        responses: {
          '200': { description: 'Session after the approval', ...json(s.sessionSchema) },
          ...errors,
        },
      },
    },
  };
}

function partyPaths(): Record<string, unknown> {
  const admin = partyAdminPaths();
  return {
    '/v1/parties': {
      get: {
        summary:
          'Party liveness by party id: every party, or one page with limit or cursor (cursor pagination), optionally of one state',
        parameters: [
          ...pageParameters,
          queryParameter('state', { type: 'string', enum: ['alive', 'suspect', 'down'] }),
        ],
        responses: { '200': { description: 'Parties', ...json(s.partiesSchema) }, ...errors },
      },
    },
    '/v1/parties/{partyId}/clear-blame': {
      post: {
        summary: 'Operator: lift a blame before its cool-down ends',
        parameters: [pathParameter('partyId')],
        responses: { '200': { description: 'Blame cleared; current state' }, ...errors },
      },
    },
    ...admin,
    // One path item, two operations: everyone's read here, the admin's unpin (delete) there.
    '/v1/parties/{partyId}': {
      get: {
        summary: "One party's liveness and enrolment (the row the listing shows)",
        parameters: [pathParameter('partyId')],
        responses: { '200': { description: 'Party', ...json(s.partySchema) }, ...errors },
      },
      ...admin['/v1/parties/{partyId}'],
    },
  };
}

/** Enrolment tokens, unpin, revoke (role admin). */
function partyAdminPaths(): Record<string, Record<string, unknown>> {
  return {
    '/v1/parties/{partyId}/enrolment': {
      post: {
        summary: 'Admin: issue a one-time enrolment token for this party id (shown once)',
        parameters: [pathParameter('partyId')],
        requestBody: { required: false, ...json(s.enrolmentBody) },
        responses: {
          '201': { description: 'Token issued', ...json(s.enrolmentSchema) },
          ...errors,
        },
      },
    },
    '/v1/parties/{partyId}': {
      delete: {
        summary: 'Admin: unpin the party (pin and invitation removed, live link closed)',
        parameters: [pathParameter('partyId')],
        responses: { '200': { description: 'Unpinned', ...json(s.unpinnedSchema) }, ...errors },
      },
    },
    '/v1/parties/{partyId}/revoke': {
      post: {
        summary: 'Admin: revoke the party (refused until it redeems a new enrolment token)',
        parameters: [pathParameter('partyId')],
        responses: { '200': { description: 'Revoked', ...json(s.revokedSchema) }, ...errors },
      },
    },
  };
}

/** Liveness, metrics and this document. */
function servicePaths(): Record<string, unknown> {
  return {
    '/healthz': {
      get: {
        summary: 'Liveness (no auth)',
        security: [],
        responses: { '200': { description: 'ok' } },
      },
    },
    '/metrics': {
      get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain' } } },
    },
    '/openapi.json': {
      get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3' } } },
    },
  };
}
