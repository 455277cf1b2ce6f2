/**
 * API roles and the one table that says which roles may call each route (docs/roles.md).
 *
 * - `admin`: creates wallets and administers parties (enrolment tokens, unpin, revoke,
 *   clear-blame); reads everything.
 * - `signer`: asks for signatures and reads the sessions it opened.
 * - `approver`: posts approvals (never for a session it opened itself) and reads sessions.
 * - `auditor`: reads only.
 *
 * A route missing from the table is refused to everyone (fail closed); a test walks every
 * route Fastify registered and checks the table covers it.
 */

/** Every role, in the order docs/roles.md lists them. */
export const apiRoles = ['admin', 'signer', 'approver', 'auditor'] as const;

/** One API role. */
export type ApiRole = (typeof apiRoles)[number];

/** True for a known role name. */
export function isApiRole(x: unknown): x is ApiRole {
  return typeof x === 'string' && apiRoles.some((r) => r === x);
}

/** Who may call a route: nobody needs a token (`open`), or any of `roles`. */
export type RouteAccess =
  | { readonly open: true }
  | {
      readonly open?: false;
      /** Roles any one of which lets a caller in. */
      readonly roles: readonly ApiRole[];
      /**
       * Roles that reach only the caller's own sessions (the session's `initiator` is the
       * caller); the handler checks it, since only it reads the session.
       */
      readonly ownOnly?: readonly ApiRole[];
    };

const readers: readonly ApiRole[] = ['auditor', 'admin'];

/**
 * The role table, keyed `METHOD url` with Fastify's url pattern. `HEAD` is looked up as `GET`
 * (Fastify answers HEAD on every GET route).
 */
export const routeAccess: Readonly<Record<string, RouteAccess>> = {
  'GET /healthz': { open: true },
  'GET /metrics': { roles: readers },
  'GET /openapi.json': { roles: apiRoles },
  'POST /v1/wallets': { roles: ['admin'] },
  'GET /v1/wallets': { roles: apiRoles },
  'GET /v1/wallets/:walletId': { roles: apiRoles },
  'GET /v1/wallets/:walletId/addresses': { roles: apiRoles },
  'POST /v1/wallets/:walletId/signatures': { roles: ['signer'] },
  'POST /v1/wallets/:walletId/refresh': { roles: ['admin'] },
  'POST /v1/wallets/:walletId/reshare': { roles: ['admin'] },
  'PUT /v1/wallets/:walletId/refresh-schedule': { roles: ['admin'] },
  'GET /v1/operations/:operationId': { roles: readers },
  'GET /v1/sessions/:sessionId': {
    roles: ['auditor', 'admin', 'approver', 'signer'],
    ownOnly: ['signer'],
  },
  'GET /v1/sessions': {
    roles: ['auditor', 'admin', 'approver', 'signer'],
    ownOnly: ['signer'],
  },
  'POST /v1/sessions/:sessionId/approvals': { roles: ['approver'] },
  'GET /v1/parties': { roles: readers },
  'GET /v1/parties/:partyId': { roles: readers },
  'POST /v1/parties/:partyId/clear-blame': { roles: ['admin'] },
  'POST /v1/parties/:partyId/enrolment': { roles: ['admin'] },
  'POST /v1/parties/:partyId/revoke': { roles: ['admin'] },
  'DELETE /v1/parties/:partyId': { roles: ['admin'] },
};

/** The table's key for a request's method and matched route pattern. */
export function routeKey(method: string, url: string): string {
  return `${method === 'HEAD' ? 'GET' : method} ${url}`;
}

/** The access rule of a route; a route the table does not name is open to no role. */
export function accessOf(method: string, url: string): RouteAccess {
  return routeAccess[routeKey(method, url)] ?? { roles: [] };
}

/** What a caller holding `held` may do on a route. */
export type AccessDecision =
  { allowed: true; ownSessionsOnly: boolean } | { allowed: false; requiredRole: ApiRole | 'none' };

/**
 * Decides a route for a caller's roles: allowed (perhaps only for its own sessions, when every
 * role that lets it in is `ownOnly` there) or denied, naming the first role that would do.
 */
export function decideAccess(access: RouteAccess, held: readonly ApiRole[]): AccessDecision {
  if (access.open === true) return { allowed: true, ownSessionsOnly: false };
  const granting = access.roles.filter((r) => held.includes(r));
  if (granting.length === 0) return { allowed: false, requiredRole: access.roles[0] ?? 'none' };
  const ownSessionsOnly = granting.every((r) => access.ownOnly?.includes(r) === true);
  return { allowed: true, ownSessionsOnly };
}
