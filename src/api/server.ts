/**
 * The HTTP API (Fastify) and the party WebSocket endpoint on the same port. Every route but
 * `/healthz` needs a bearer token of a known API principal (src/api/principals.ts) holding a
 * role the route's entry in the role table allows (src/api/roles.ts, docs/roles.md). Bodies
 * are schema-validated; errors always have the shape `{error: {code, message, retryable,
 * detail}}` with a stable code, including the answers Fastify would otherwise write itself (bad
 * URLs, client errors, unknown routes).
 */
import { walletAddress } from '../coordinator/transactions.ts';
import { hexToBytes } from '@noble/hashes/utils.js';
import { signedEvmTransaction, type EvmTransaction } from '../protocol/evm-transaction.ts';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { isHex } from '../core/encoding.ts';
import type { Log } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { PartyLiveness, PartyPage } from '../coordinator/party-registry.ts';
import { isPartyId } from '../core/ids.ts';
import { checkPageLimit } from '../store/paging.ts';
import { schemes } from '../protocol/engine.ts';
import type { OperationRecord, WalletRecord } from '../store/store.ts';
import type { SessionRecord, SessionStatus, SigningContext } from '../session/record.ts';
import { partyWsPath, type Link } from '../transport/link.ts';
import { wsLink } from '../transport/ws-link.ts';
import { buildOpenApi } from './openapi.ts';
import {
  authenticate,
  combinePrincipals,
  defaultPrincipalName,
  implicitRoleNames,
  principalFromToken,
  type ApiPrincipal,
} from './principals.ts';
import { accessOf, decideAccess, routeKey, type ApiRole } from './roles.ts';
import { approvalSubject } from '../coordinator/governance.ts';
import * as s from './schemas.ts';

/** API options. */
export interface ApiOptions {
  /** The plain token (principal `default`), if any. */
  apiToken?: string;
  /** Named principals (`--api-tokens FILE`); at least one source must give a principal. */
  principals?: readonly ApiPrincipal[];
  /**
   * Applied to every party WebSocket link before the coordinator accepts it (the chaos harness
   * wraps links with faults this way). Default: the link itself.
   */
  wrapLink?: (link: Link) => Link;
  /** Where start-up warnings go (tokens file entries without roles). Default: nowhere. */
  log?: Log;
}

function walletView(w: WalletRecord) {
  const address = w.scheme === 'ecdsa' ? w.publicPackage['ethereumAddress'] : undefined;
  return {
    walletId: w.walletId,
    scheme: w.scheme,
    threshold: w.threshold,
    parties: w.parties,
    publicKey: w.publicKey,
    ...(typeof address === 'string' ? { ethereumAddress: address } : {}),
    ...(w.tier === undefined ? {} : { policy: w.tier }),
    epoch: w.epoch ?? 0,
    renewedMs: w.renewedMs ?? w.createdMs,
    ...(w.refreshEveryDays === undefined ? {} : { refreshEveryDays: w.refreshEveryDays }),
    ...(w.operation === undefined
      ? {}
      : {
          operation: {
            operationId: w.operation.operationId,
            kind: w.operation.kind,
            status: w.operation.status,
          },
        }),
  };
}

/** A lifecycle operation as the API shows it (the promotions' signatures stay in the store). */
function operationView(walletId: string, op: OperationRecord) {
  const { promotions: _promotions, ...shown } = op;
  return { walletId, ...shown };
}

/** A signed transaction session's raw signed transaction, ready to broadcast. */
function signedTransactionOf(r: SessionRecord): { signedTransaction?: string } {
  if (r.transaction === undefined || r.signature === undefined || r.recoveryId === undefined)
    return {};
  return {
    signedTransaction: signedEvmTransaction(r.transaction, hexToBytes(r.signature), r.recoveryId),
  };
}

/** The session as `GET /v1/sessions/{id}` shows it. */
function sessionView(r: SessionRecord) {
  return {
    sessionId: r.sessionId,
    walletId: r.walletId,
    intentKey: r.intentKey,
    status: r.status,
    deadlineMs: r.deadlineMs,
    messageHash: r.messageHash,
    ...(r.context === undefined ? {} : { context: r.context }),
    ...(r.pendingReason === undefined ? {} : { pendingReason: r.pendingReason }),
    ...(r.policy === undefined
      ? {}
      : {
          policy: {
            tier: r.policy.tier,
            policyHash: r.policy.policyHash,
            ruleIds: r.policy.ruleIds,
            minSigners: r.policy.requirement.minSigners,
            requiredTypes: r.policy.requirement.requiredTypes,
            requiredShares: r.policy.requirement.requiredShares,
            approvalsRequired: r.policy.requirement.approvals.map((g) => ({
              k: g.k,
              approvers: g.approvers.map((a) => a.id),
            })),
            approvedBy: r.policy.approvals.map((a) => a.approverId),
            // Exactly what an approver signs (canonical JSON, see docs/policy.md).
            approvalSubject: approvalSubject(r, r.policy.policyHash),
            ...(r.policy.approvalDeadlineMs === undefined
              ? {}
              : { approvalDeadlineMs: r.policy.approvalDeadlineMs }),
          },
        }),
    ...(r.signature === undefined ? {} : { signature: r.signature }),
    ...(r.recoveryId === undefined ? {} : { recoveryId: r.recoveryId }),
    ...(r.transaction === undefined ? {} : { transaction: r.transaction }),
    ...(r.derivationPath === undefined ? {} : { derivationPath: r.derivationPath }),
    ...signedTransactionOf(r),
    ...(r.signers === undefined ? {} : { signers: r.signers }),
    ...(r.retry === undefined ? {} : { retry: r.retry }),
    attempts: r.attempts.map((a) => ({
      attempt: a.attempt,
      token: a.token,
      parties: a.parties,
      ...(a.asked === undefined ? {} : { asked: a.asked }),
      outcome: a.outcome,
      ...(a.reason === undefined ? {} : { reason: a.reason }),
      ...(a.atFault === undefined ? {} : { atFault: a.atFault }),
    })),
    ...(r.error === undefined
      ? {}
      : {
          error: {
            code: r.error.code,
            message: r.error.message,
            retryable: new QuorateError(r.error.code, '').retryable,
            detail: r.error.detail,
          },
        }),
  };
}

function sendError(reply: FastifyReply, error: QuorateError): FastifyReply {
  return reply.code(error.status).type('application/json').send(error.toBody());
}

function toQuorateError(error: FastifyError): QuorateError {
  if (error instanceof QuorateError) return error;
  if (error.validation) {
    return new QuorateError('QUORATE_E_BAD_REQUEST', error.message, {
      issues: error.validation.map((v) => ({
        path: v.instancePath,
        problem: v.message ?? 'invalid',
      })),
    });
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new QuorateError(
      'QUORATE_E_BODY_TOO_LARGE',
      `body exceeds ${limits.httpBodyBytesMax} bytes`,
    );
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new QuorateError('QUORATE_E_BAD_REQUEST', error.message, {
      fastifyCode: error.code ?? null,
    });
  }
  return new QuorateError('QUORATE_E_INTERNAL', 'internal error');
}

function parseMessage(hex: string): string {
  if (!isHex(hex) || hex.length === 0) {
    throw new QuorateError('QUORATE_E_BAD_HEX', 'message must be non-empty, even-length hex', {
      field: 'message',
    });
  }
  if (hex.length / 2 > limits.messageBytesMax) {
    throw new QuorateError(
      'QUORATE_E_MESSAGE_TOO_LARGE',
      `message exceeds ${limits.messageBytesMax} bytes`,
      {
        bytes: hex.length / 2,
        max: limits.messageBytesMax,
      },
    );
  }
  return hex.toLowerCase();
}

/** The initiator a signing request records: the principal the auth hook found. */
function initiatorOf(principal: ApiPrincipal | undefined): { initiator?: string } {
  return principal === undefined ? {} : { initiator: principal.name };
}

/** Who sent a request, and whether its roles reach only its own sessions on this route. */
interface Caller {
  principal: ApiPrincipal;
  ownSessionsOnly: boolean;
}

/** Who sent each request: set by the auth hook, read by the routes that record or check it. */
type Callers = WeakMap<FastifyRequest, Caller>;

/** Every route Fastify registered on an app built by {@link buildApi}, as role-table keys. */
const registeredRoutes = new WeakMap<FastifyInstance, string[]>();

/** The routes `app` serves (`METHOD url`, HEAD folded into GET), for the role-matrix test. */
export function routesOf(app: FastifyInstance): readonly string[] {
  return [...new Set(registeredRoutes.get(app) ?? [])];
}

/** Builds the Fastify app bound to a coordinator (not yet listening). */
export function buildApi(coordinator: Coordinator, options: ApiOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: limits.httpBodyBytesMax,
    // Reject unknown fields and wrong types instead of silently stripping or coercing them.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // Answers Fastify would write itself (a URL it cannot decode, `/%ff`) get the contract shape.
    frameworkErrors: (error, _req, reply) => {
      void sendError(
        reply,
        new QuorateError('QUORATE_E_BAD_REQUEST', error.message, frameworkDetail(error)),
      );
    },
    clientErrorHandler: answerClientError,
  });
  const routes: string[] = [];
  registeredRoutes.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(routeKey(method, route.url));
  });
  const callers: Callers = new WeakMap();
  const principals = principalsOf(options);
  const implicit = implicitRoleNames(principals);
  if (implicit.length > 0) {
    options.log?.warn(
      { principals: implicit },
      'API tokens file entries without roles hold every role: list roles (docs/roles.md)',
    );
  }
  addErrorHandlers(app);
  addAuthentication(app, principals, callers);
  addServiceRoutes(app, coordinator);
  addWalletRoutes(app, coordinator);
  addLifecycleRoutes(app, coordinator);
  addSigningRoute(app, coordinator, callers);
  addSessionRoutes(app, coordinator, callers);
  addPartyRoutes(app, coordinator);
  attachPartySocket(app, coordinator, options.wrapLink ?? ((link) => link));
  return app;
}

function frameworkDetail(error: FastifyError): Record<string, unknown> {
  return { fastifyCode: error.code };
}

/**
 * A request Node's HTTP parser refused (malformed request line or headers, header overflow,
 * timeout): written on the socket in the contract shape, as Fastify's default would in its own.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const e = new QuorateError('QUORATE_E_BAD_REQUEST', 'malformed HTTP request', {
      cause: error.code ?? 'client-error',
    });
    const body = JSON.stringify(e.toBody());
    socket.write(
      `HTTP/1.1 ${e.status} Bad Request\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function principalsOf(options: ApiOptions): ApiPrincipal[] {
  return combinePrincipals(
    options.apiToken === undefined
      ? []
      : [principalFromToken(defaultPrincipalName, options.apiToken)],
    options.principals ?? [],
  );
}

/** Every error, thrown or unrouted, answers `{error: {code, …}}` with a stable code. */
function addErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, _req, reply) =>
    sendError(reply, toQuorateError(error)),
  );
  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      new QuorateError('QUORATE_E_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`),
    ),
  );
}

/** 403 for an authenticated caller whose roles do not reach the route. */
function forbidden(
  principal: ApiPrincipal,
  requiredRole: ApiRole | 'none',
  cause?: 'own-request' | 'not-own-session',
): QuorateError {
  const why =
    cause === 'own-request'
      ? 'the initiator of a request may not approve it'
      : cause === 'not-own-session'
        ? 'this principal reads only the sessions it opened'
        : `this route needs the ${requiredRole} role`;
  return new QuorateError('QUORATE_E_FORBIDDEN', why, {
    requiredRole,
    principal: principal.name,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Every route the role table opens needs no token; every other one needs the bearer token of a
 * known principal holding a role its table entry lists (both before the body is read). Unknown
 * routes still need a token (then 404), so they reveal nothing to strangers.
 */
function addAuthentication(
  app: FastifyInstance,
  principals: readonly ApiPrincipal[],
  callers: Callers,
): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.routeOptions.url;
    const access = url === undefined ? undefined : accessOf(req.method, url);
    if (access?.open === true) return;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    const principal = match?.[1] === undefined ? undefined : authenticate(principals, match[1]);
    if (!principal) {
      return sendError(
        reply,
        new QuorateError('QUORATE_E_UNAUTHORIZED', 'missing or wrong bearer token'),
      );
    }
    if (access === undefined) return; // no such route: the not-found handler answers
    const decision = decideAccess(access, principal.roles);
    if (!decision.allowed) return sendError(reply, forbidden(principal, decision.requiredRole));
    callers.set(req, { principal, ownSessionsOnly: decision.ownSessionsOnly });
  });
}

/** Liveness, metrics and the OpenAPI document. */
function addServiceRoutes(app: FastifyInstance, coordinator: Coordinator): void {
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/metrics', async (_req, reply) =>
    reply
      .type(coordinator.metrics.registry.contentType)
      .send(await coordinator.metrics.registry.metrics()),
  );
  app.get('/openapi.json', async () => buildOpenApi());
}

function addWalletRoutes(app: FastifyInstance, coordinator: Coordinator): void {
  app.post<{
    Body: {
      scheme: string;
      threshold: number;
      parties: string[];
      policy?: string;
      refreshEveryDays?: number;
    };
  }>('/v1/wallets', { schema: { body: s.createWalletBody } }, async (req, reply) => {
    const { threshold, parties, policy, refreshEveryDays } = req.body;
    // The body schema lets any string through; only a known scheme gets its type.
    const scheme = schemes.find((known) => known === req.body.scheme);
    if (scheme === undefined) {
      throw new QuorateError(
        'QUORATE_E_UNSUPPORTED_SCHEME',
        `scheme must be one of ${schemes.join(', ')}`,
        { scheme: req.body.scheme },
      );
    }
    const wallet = await coordinator.createWallet({
      scheme,
      threshold,
      parties,
      ...(policy === undefined ? {} : { tier: policy }),
      ...(refreshEveryDays === undefined ? {} : { refreshEveryDays }),
    });
    return reply.code(201).send(walletView(wallet));
  });

  app.get<{ Querystring: { cursor?: string; limit?: string } }>(
    '/v1/wallets',
    { schema: { querystring: s.walletsQuery } },
    async (req) => {
      const page = await coordinator.listWallets(pageQuery(req.query));
      return {
        wallets: page.items.map(walletView),
        ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
      };
    },
  );

  app.get<{ Params: { walletId: string } }>(
    '/v1/wallets/:walletId',
    { schema: { params: s.walletIdParams } },
    async (req) => walletView(await coordinator.getWallet(req.params.walletId)),
  );

  // ecdsa: the child public key and address at a non-hardened BIP32 path (docs/ecdsa.md).
  app.get<{ Params: { walletId: string }; Querystring: { path: string } }>(
    '/v1/wallets/:walletId/addresses',
    { schema: { params: s.walletIdParams, querystring: s.addressQuery } },
    async (req) => walletAddress(await coordinator.getWallet(req.params.walletId), req.query.path),
  );
}

/** Refresh, reshare and their operations (docs/key-lifecycle.md). */
function addLifecycleRoutes(app: FastifyInstance, coordinator: Coordinator): void {
  const accepted = (walletId: string, op: OperationRecord) => ({
    operationId: op.operationId,
    walletId,
    kind: op.kind,
    status: op.status,
  });
  app.post<{ Params: { walletId: string }; Body: { deadlineMs?: number } | undefined }>(
    '/v1/wallets/:walletId/refresh',
    { schema: { params: s.walletIdParams, body: s.refreshBody } },
    async (req, reply) => {
      const { walletId } = req.params;
      const deadlineMs = req.body?.deadlineMs;
      const op = await coordinator.startOperation(walletId, {
        kind: 'refresh',
        ...(deadlineMs === undefined ? {} : { deadlineMs }),
      });
      return reply.code(202).send(accepted(walletId, op));
    },
  );
  app.post<{
    Params: { walletId: string };
    Body: { threshold: number; parties: string[]; deadlineMs?: number; authorization?: string };
  }>(
    '/v1/wallets/:walletId/reshare',
    { schema: { params: s.walletIdParams, body: s.reshareBody } },
    async (req, reply) => {
      const { walletId } = req.params;
      const { threshold, parties, deadlineMs, authorization } = req.body;
      const op = await coordinator.startOperation(walletId, {
        kind: 'reshare',
        threshold,
        parties,
        ...(deadlineMs === undefined ? {} : { deadlineMs }),
        ...(authorization === undefined ? {} : { authorization }),
      });
      return reply.code(202).send(accepted(walletId, op));
    },
  );
  app.put<{ Params: { walletId: string }; Body: { refreshEveryDays: number } }>(
    '/v1/wallets/:walletId/refresh-schedule',
    { schema: { params: s.walletIdParams, body: s.refreshScheduleBody } },
    async (req) =>
      walletView(
        await coordinator.setRefreshSchedule(req.params.walletId, req.body.refreshEveryDays),
      ),
  );
  app.get<{ Params: { operationId: string } }>(
    '/v1/operations/:operationId',
    { schema: { params: s.operationIdParams } },
    async (req) => {
      const { walletId, op } = await coordinator.getOperation(req.params.operationId);
      return operationView(walletId, op);
    },
  );
}

/** A signing request: starts (or finds) the session, then waits up to `waitMs` for it. */
function addSigningRoute(app: FastifyInstance, coordinator: Coordinator, callers: Callers): void {
  app.post<{
    Params: { walletId: string };
    Body: {
      message?: string;
      transaction?: EvmTransaction;
      derivationPath?: string;
      intentKey: string;
      waitMs?: number;
      deadlineMs?: number;
      context?: SigningContext;
    };
  }>(
    '/v1/wallets/:walletId/signatures',
    { schema: { params: s.walletIdParams, body: s.signBody } },
    async (req, reply) => {
      const { message, transaction, derivationPath, intentKey, waitMs, deadlineMs, context } =
        req.body;
      if ((message === undefined) === (transaction === undefined))
        throw new QuorateError(
          'QUORATE_E_BAD_REQUEST',
          'a signing request carries exactly one of message and transaction',
          { field: 'message' },
        );
      const created = await coordinator.sign(req.params.walletId, {
        // A transaction's digest replaces this once the coordinator has decoded it.
        messageHex: message === undefined ? '' : parseMessage(message),
        ...(transaction === undefined ? {} : { transaction }),
        ...(derivationPath === undefined ? {} : { derivationPath }),
        intentKey,
        ...(context === undefined ? {} : { context }),
        ...(deadlineMs === undefined ? {} : { deadlineMs }),
        ...initiatorOf(callers.get(req)?.principal),
      });
      const record = await coordinator.waitForSession(
        created.sessionId,
        waitMs ?? limits.waitMsDefault,
      );
      return sendSigningAnswer(reply, record);
    },
  );
}

/**
 * 200 with the signature once signed; 202 while pending (with the reason, if it waits for
 * approvals) or running; the session's error, with its id in the detail, once failed.
 */
function sendSigningAnswer(reply: FastifyReply, record: SessionRecord): FastifyReply {
  if (record.status === 'signed') {
    return reply.code(200).send({
      sessionId: record.sessionId,
      status: 'signed',
      signature: record.signature,
      ...(record.recoveryId === undefined ? {} : { recoveryId: record.recoveryId }),
      ...signedTransactionOf(record),
      signers: record.signers,
    });
  }
  if (record.status === 'pending' && record.pendingReason !== undefined) {
    return reply.code(202).send({
      sessionId: record.sessionId,
      status: record.status,
      pendingReason: record.pendingReason,
    });
  }
  if (record.status === 'failed' && record.error) {
    const { code, message: msg, detail } = record.error;
    return sendError(
      reply,
      new QuorateError(code, msg, { ...detail, sessionId: record.sessionId }),
    );
  }
  return reply.code(202).send({ sessionId: record.sessionId, status: record.status });
}

/** The authenticated caller of a route the auth hook let through (it always sets one). */
function callerOf(callers: Callers, req: FastifyRequest): Caller {
  const caller = callers.get(req);
  if (caller === undefined) throw new QuorateError('QUORATE_E_UNAUTHORIZED', 'no caller');
  return caller;
}

/** A listing's `cursor` and `limit` (default `limits.storePageSizeDefault`). */
function pageQuery(q: { cursor?: string; limit?: string }): { cursor?: string; limit: number } {
  return {
    limit: q.limit === undefined ? limits.storePageSizeDefault : Number(q.limit),
    ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
  };
}

function addSessionRoutes(app: FastifyInstance, coordinator: Coordinator, callers: Callers): void {
  app.get<{
    Querystring: { cursor?: string; limit?: string; walletId?: string; status?: SessionStatus };
  }>('/v1/sessions', { schema: { querystring: s.sessionsQuery } }, async (req) => {
    const caller = callerOf(callers, req);
    const { walletId, status } = req.query;
    const page = await coordinator.listSessions({
      ...pageQuery(req.query),
      ...(walletId === undefined ? {} : { walletId }),
      ...(status === undefined ? {} : { status }),
    });
    // A signer sees its own requests only: the page may come back short, the cursor goes on.
    const shown = caller.ownSessionsOnly
      ? page.items.filter((v) => v.value.context?.initiator === caller.principal.name)
      : page.items;
    return {
      sessions: shown.map((v) => sessionView(v.value)),
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    };
  });

  app.get<{ Params: { sessionId: string } }>(
    '/v1/sessions/:sessionId',
    { schema: { params: s.sessionIdParams } },
    async (req) => {
      const caller = callerOf(callers, req);
      const record = await coordinator.getSession(req.params.sessionId);
      if (caller.ownSessionsOnly && record.context?.initiator !== caller.principal.name)
        throw forbidden(caller.principal, 'auditor', 'not-own-session');
      return sessionView(record);
    },
  );

  app.post<{ Params: { sessionId: string }; Body: { approverId: string; signature: string } }>(
    '/v1/sessions/:sessionId/approvals',
    { schema: { params: s.sessionIdParams, body: s.approvalBody } },
    async (req) => {
      // Separation of duties: whoever asked for a signature cannot also carry its approvals. A
      // principal given every role implicitly (the plain --api-token, a tokens-file entry without
      // roles) is the single-operator set-up that existed before roles: it keeps working.
      const { principal } = callerOf(callers, req);
      const record = await coordinator.getSession(req.params.sessionId);
      const explicitRoles =
        principal.name !== defaultPrincipalName && principal.rolesImplicit !== true;
      if (explicitRoles && record.context?.initiator === principal.name)
        throw forbidden(principal, 'approver', 'own-request');
      return sessionView(await coordinator.approve(req.params.sessionId, req.body));
    },
  );
}

/** The party listing's cursor: base64url of `p:` and the last party id a page returned. */
const partyCursor = (partyId: string): string =>
  Buffer.from(`p:${partyId}`, 'utf8').toString('base64url');

/** The party id a party cursor names (`QUORATE_E_BAD_REQUEST` if it is not a party cursor). */
function parsePartyCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const partyId = text.startsWith('p:') ? text.slice(2) : '';
  if (!isPartyId(partyId)) {
    throw new QuorateError('QUORATE_E_BAD_REQUEST', 'bad page cursor: not a party position', {
      reason: 'bad-cursor',
    });
  }
  return partyId;
}

type PartiesQuery = { cursor?: string; limit?: string; state?: PartyLiveness };

/** The rows a listing query selects: every party (filtered by state) unless it pages. */
function partiesPage(coordinator: Coordinator, q: PartiesQuery): PartyPage {
  const state = q.state === undefined ? {} : { state: q.state };
  if (q.cursor === undefined && q.limit === undefined) {
    return coordinator.registry.snapshotPage({ limit: Infinity, ...state });
  }
  const { cursor, limit } = pageQuery(q);
  checkPageLimit(limit);
  return coordinator.registry.snapshotPage({
    limit,
    ...state,
    ...(cursor === undefined ? {} : { after: parsePartyCursor(cursor) }),
  });
}

/** Rows with their enrolment column (read from the store for these rows only). */
async function withEnrolment(coordinator: Coordinator, rows: PartyPage['rows']) {
  const enrolment = await coordinator.registry.enrolmentOf(rows.map((r) => r.partyId));
  return rows.map((r) => ({ ...r, enrolment: enrolment[r.partyId] ?? 'unknown' }));
}

function addPartyRoutes(app: FastifyInstance, coordinator: Coordinator): void {
  // No response schema: for these rows fast-json-stringify measured slower than JSON.stringify
  // (8.6 against 6.5 ms for 10 003 rows), so the listing's cost is the enrolment read.
  app.get<{ Querystring: PartiesQuery }>(
    '/v1/parties',
    { schema: { querystring: s.partiesQuery } },
    async (req) => {
      const page = partiesPage(coordinator, req.query);
      const last = page.rows[page.rows.length - 1];
      return {
        parties: await withEnrolment(coordinator, page.rows),
        ...(page.more && last !== undefined ? { nextCursor: partyCursor(last.partyId) } : {}),
      };
    },
  );

  app.get<{ Params: { partyId: string } }>(
    '/v1/parties/:partyId',
    { schema: { params: s.partyIdParams } },
    async (req) => {
      const row = coordinator.registry.snapshotOf(req.params.partyId);
      if (row === undefined) throw partyNotFound(req.params.partyId);
      const [shown] = await withEnrolment(coordinator, [row]);
      return shown;
    },
  );

  app.post<{ Params: { partyId: string } }>(
    '/v1/parties/:partyId/clear-blame',
    { schema: { params: s.partyIdParams } },
    async (req) => {
      const { partyId } = req.params;
      if (!coordinator.registry.clearBlame(partyId)) throw partyNotFound(partyId);
      return { partyId, state: coordinator.registry.stateOf(partyId) };
    },
  );
  addPartyAdminRoutes(app, coordinator);
}

function partyNotFound(partyId: string): QuorateError {
  return new QuorateError('QUORATE_E_PARTY_NOT_FOUND', 'no such party', { partyId });
}

/** Enrolment tokens, unpin and revoke (docs/running.md, "Enrolling parties"). */
function addPartyAdminRoutes(app: FastifyInstance, coordinator: Coordinator): void {
  app.post<{ Params: { partyId: string }; Body: { ttlSeconds?: number; rotate?: boolean } | null }>(
    '/v1/parties/:partyId/enrolment',
    { schema: { params: s.partyIdParams, body: s.enrolmentBody } },
    async (req, reply) => {
      const ttlSeconds = req.body?.ttlSeconds ?? limits.enrolmentTtlSecondsDefault;
      const issued = await coordinator.registry.issueEnrolment(
        req.params.partyId,
        ttlSeconds,
        req.body?.rotate ?? false,
      );
      return reply.code(201).send(issued);
    },
  );

  app.delete<{ Params: { partyId: string } }>(
    '/v1/parties/:partyId',
    { schema: { params: s.partyIdParams } },
    async (req) => {
      const { partyId } = req.params;
      if (!(await coordinator.registry.unpin(partyId))) throw partyNotFound(partyId);
      return { partyId, unpinned: true };
    },
  );

  app.post<{ Params: { partyId: string } }>(
    '/v1/parties/:partyId/revoke',
    { schema: { params: s.partyIdParams } },
    async (req) => {
      const { partyId } = req.params;
      const revokedMs = await coordinator.registry.revoke(partyId);
      if (revokedMs === undefined) throw partyNotFound(partyId);
      return { partyId, revokedMs };
    },
  );
}

/**
 * Serves party connections on {@link partyWsPath} (they authenticate in the handshake). Each
 * link passes through `wrapLink` before the coordinator sees it.
 */
function attachPartySocket(
  app: FastifyInstance,
  coordinator: Coordinator,
  wrapLink: (link: Link) => Link,
): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.frameBytesMax });
  app.server.on('upgrade', (request, socket, head) => {
    if ((request.url ?? '').split('?')[0] !== partyWsPath) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => coordinator.acceptLink(wrapLink(wsLink(ws))));
  });
  app.addHook('onClose', async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
  });
}
