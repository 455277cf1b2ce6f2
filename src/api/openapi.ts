/** The OpenAPI 3 document, assembled from the same schemas Fastify validates with. */
import { errorTable } from '../core/errors.ts';
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
    paths: { ...walletPaths(), ...sessionPaths(), ...partyPaths(), ...servicePaths() },
  };
}

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
    },
    '/v1/wallets/{walletId}': {
      get: {
        summary: 'Get a wallet',
        parameters: [pathParameter('walletId')],
        responses: { '200': { description: 'Wallet', ...json(s.walletSchema) }, ...errors },
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

function sessionPaths(): Record<string, unknown> {
  return {
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
  return {
    '/v1/parties': {
      get: {
        summary: 'Party liveness',
        responses: { '200': { description: 'Parties', ...json(s.partiesSchema) } },
      },
    },
    '/v1/parties/{partyId}/clear-blame': {
      post: {
        summary: 'Operator: lift a blame before its cool-down ends',
        parameters: [pathParameter('partyId')],
        responses: { '200': { description: 'Blame cleared; current state' }, ...errors },
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
