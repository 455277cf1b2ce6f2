/**
 * API roles (issue 12, finding 11) and the contract error shape for answers Fastify would write
 * itself (finding 9), in-process. The matrix test walks every route the server registered × every
 * role: a role the table allows is never refused with 403, any other gets 403
 * QUORATE_E_FORBIDDEN naming the role it needs. Before the fix every token could do everything,
 * and `/%ff` was answered in Fastify's own shape.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { bytesToHex } from '@noble/hashes/utils.js';
import { buildApi, routesOf } from '../../src/api/server.ts';
import { parseApiTokensFile, principalFromToken } from '../../src/api/principals.ts';
import { apiRoles, routeAccess, type ApiRole } from '../../src/api/roles.ts';
import { inProcessApi } from '../helpers/in-process-api.ts';

const walletId = 'w_0000000000000000000000aa';
/** One token per principal; the name says its roles. */
const tokens = {
  admin: 'admin-token-0123456789',
  signer: 'signer-token-0123456789',
  signer2: 'signer2-token-0123456789',
  approver: 'approver-token-0123456789',
  auditor: 'auditor-token-0123456789',
  both: 'both-token-0123456789',
} as const;
const rolesOf: Record<keyof typeof tokens, ApiRole[]> = {
  admin: ['admin'],
  signer: ['signer'],
  signer2: ['signer'],
  approver: ['approver'],
  auditor: ['auditor'],
  both: ['signer', 'approver'],
};

type Body = {
  error: { code: string; message: string; retryable: boolean; detail: Record<string, unknown> };
};

function assertContractError(
  res: { statusCode: number; body: string },
  status: number,
  code: string,
): Body['error'] {
  assert.equal(res.statusCode, status, res.body);
  const body = JSON.parse(res.body) as Body;
  assert.equal(typeof body.error, 'object', res.body);
  assert.equal(body.error.code, code, res.body);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(typeof body.error.retryable, 'boolean');
  assert.equal(typeof body.error.detail, 'object');
  return body.error;
}

describe('API roles', () => {
  // The shared in-process coordinator and wallet, with this file's principals on its API.
  const api = inProcessApi(walletId);
  const { coordinator } = api;
  let app: FastifyInstance;

  before(async () => {
    app = await api.start(
      Object.entries(tokens).map(([name, token]) =>
        principalFromToken(name, token, rolesOf[name as keyof typeof tokens]),
      ),
      'default-token-0123456789',
    );
  });
  after(async () => {
    await coordinator.stop();
    await app.close();
  });

  const call = (token: string, method: string, url: string, payload?: unknown) =>
    app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(method === 'GET' || method === 'HEAD' ? {} : { payload: JSON.stringify(payload ?? {}) }),
    });

  /** A session opened by `who` (it fails at once: no party is connected). */
  async function sessionOf(who: keyof typeof tokens): Promise<string> {
    const r = await call(tokens[who], 'POST', `/v1/wallets/${walletId}/signatures`, {
      message: bytesToHex(randomBytes(8)),
      intentKey: `roles-${bytesToHex(randomBytes(6))}`,
      waitMs: 0,
    });
    assert.notEqual(r.statusCode, 403, r.body);
    const body = r.json<{ sessionId?: string; error?: { detail: { sessionId: string } } }>();
    const id = body.sessionId ?? body.error?.detail.sessionId;
    assert.ok(id, r.body);
    return id;
  }

  test('the role table covers exactly the routes the server registered', () => {
    const routes = routesOf(app);
    assert.ok(routes.length >= Object.keys(routeAccess).length, routes.join(', '));
    for (const route of routes)
      assert.ok(route in routeAccess, `${route} is not in the role table`);
    for (const key of Object.keys(routeAccess))
      assert.ok(routes.includes(key), `${key} is not served`);
  });

  test('every route × every role: allowed → not 403, denied → 403 QUORATE_E_FORBIDDEN', async () => {
    let allowed = 0;
    let denied = 0;
    for (const route of routesOf(app)) {
      const [method, pattern] = route.split(' ') as [string, string];
      const url = pattern
        .replace(':walletId', walletId)
        .replace(':sessionId', 's_000000000000000000000000')
        .replace(':partyId', 'nobody');
      const access = routeAccess[route]!;
      for (const role of apiRoles) {
        const who = role === 'signer' ? 'signer' : role;
        const res = await call(tokens[who], method, url);
        const roles = 'roles' in access ? access.roles : undefined;
        if (roles === undefined || roles.includes(role)) {
          allowed++;
          // 403 is also APPROVAL_REJECTED's status: the role check's answer is FORBIDDEN.
          if (res.statusCode === 403)
            assert.notEqual(
              res.json<Body>().error.code,
              'QUORATE_E_FORBIDDEN',
              `${role} on ${route}`,
            );
          assert.notEqual(res.statusCode, 401, `${role} on ${route}: ${res.body}`);
        } else {
          denied++;
          const error = assertContractError(res, 403, 'QUORATE_E_FORBIDDEN');
          assert.equal(error.detail['principal'], who);
          assert.ok(roles.includes(error.detail['requiredRole'] as ApiRole), res.body);
        }
      }
    }
    assert.ok(allowed > 0 && denied > 0);
  });

  test('finding 11: an auditor cannot create a wallet, clear blame or sign', async () => {
    const create = await call(tokens.auditor, 'POST', '/v1/wallets', {
      scheme: 'bip340',
      threshold: 2,
      parties: ['a', 'b', 'c'],
    });
    const e = assertContractError(create, 403, 'QUORATE_E_FORBIDDEN');
    assert.deepEqual(e.detail, { requiredRole: 'admin', principal: 'auditor' });
    assertContractError(
      await call(tokens.auditor, 'POST', '/v1/parties/a/clear-blame'),
      403,
      'QUORATE_E_FORBIDDEN',
    );
    const sign = await call(tokens.auditor, 'POST', `/v1/wallets/${walletId}/signatures`, {
      message: 'ab',
      intentKey: 'auditor-signs',
    });
    assertContractError(sign, 403, 'QUORATE_E_FORBIDDEN');
    // Reading is what an auditor does.
    assert.equal((await call(tokens.auditor, 'GET', '/v1/parties')).statusCode, 200);
  });

  test('the plain --api-token keeps every role', async () => {
    const r = await call('default-token-0123456789', 'POST', '/v1/wallets', {
      scheme: 'nope',
      threshold: 1,
      parties: ['a'],
    });
    assertContractError(r, 400, 'QUORATE_E_UNSUPPORTED_SCHEME');
    assert.equal((await call('default-token-0123456789', 'GET', '/metrics')).statusCode, 200);
  });

  test('separation of duties: the initiator cannot post approvals for its own request', async () => {
    const mine = await sessionOf('both');
    const own = await call(tokens.both, 'POST', `/v1/sessions/${mine}/approvals`, {
      approverId: 'x',
      signature: '0'.repeat(128),
    });
    const e = assertContractError(own, 403, 'QUORATE_E_FORBIDDEN');
    assert.equal(e.detail['cause'], 'own-request');
    assert.equal(e.detail['principal'], 'both');
    // Another approver reaches the approval check (the session waits for none: rejected there).
    const other = await call(tokens.approver, 'POST', `/v1/sessions/${mine}/approvals`, {
      approverId: 'x',
      signature: '0'.repeat(128),
    });
    assert.equal(other.json<Body>().error.code, 'QUORATE_E_APPROVAL_REJECTED', other.body);
  });

  test('a signer reads its own sessions only', async () => {
    const mine = await sessionOf('signer');
    assert.equal((await call(tokens.signer, 'GET', `/v1/sessions/${mine}`)).statusCode, 200);
    const e = assertContractError(
      await call(tokens.signer2, 'GET', `/v1/sessions/${mine}`),
      403,
      'QUORATE_E_FORBIDDEN',
    );
    assert.equal(e.detail['cause'], 'not-own-session');
    assert.equal((await call(tokens.auditor, 'GET', `/v1/sessions/${mine}`)).statusCode, 200);
    assert.equal((await call(tokens.approver, 'GET', `/v1/sessions/${mine}`)).statusCode, 200);
  });

  test('/healthz stays open; a wrong token is still 401 before any role check', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assertContractError(
      await call('wrong-token-0123456789', 'POST', '/v1/wallets'),
      401,
      'QUORATE_E_UNAUTHORIZED',
    );
  });
});

describe('tokens file roles', () => {
  const digest = 'ab'.repeat(32);
  const digest2 = 'cd'.repeat(32);

  test('roles are read per token', () => {
    const [p] = parseApiTokensFile(
      `tokens:\n  - { name: audit, sha256: ${digest}, roles: [auditor] }\n`,
    );
    assert.deepEqual(p?.roles, ['auditor']);
    assert.equal(p?.rolesImplicit, undefined);
  });

  test('an entry without roles holds every role and is marked for the start-up warning', () => {
    const [p] = parseApiTokensFile(`tokens:\n  - { name: ops, sha256: ${digest} }\n`);
    assert.deepEqual(p?.roles, [...apiRoles]);
    assert.equal(p?.rolesImplicit, true);
  });

  test('unknown, duplicate or empty roles stop the coordinator with QUORATE_E_CONFIG', () => {
    const cases: [string, RegExp][] = [
      [`roles: [root]`, /tokens\[0\]\.roles\[0\]: unknown role "root"/],
      [`roles: [signer, signer]`, /tokens\[0\]\.roles\[1\]: duplicate role signer/],
      [`roles: []`, /tokens\[0\]\.roles: must be a non-empty list/],
      [`roles: signer`, /tokens\[0\]\.roles: must be a non-empty list/],
    ];
    for (const [roles, expected] of cases) {
      assert.throws(
        () =>
          parseApiTokensFile(
            `tokens:\n  - { name: a, sha256: ${digest}, ${roles} }\n  - { name: b, sha256: ${digest2} }\n`,
          ),
        (error: unknown) =>
          error instanceof Error &&
          (error as { code?: string }).code === 'QUORATE_E_CONFIG' &&
          expected.test(error.message),
      );
    }
  });
});

describe('finding 9: answers Fastify would write itself have the contract shape', () => {
  const { coordinator } = inProcessApi(walletId);
  let app: FastifyInstance;
  before(async () => {
    await coordinator.start();
    app = buildApi(coordinator, { apiToken: 'default-token-0123456789' });
  });
  after(async () => {
    await coordinator.stop();
    await app.close();
  });

  test('/%ff is 400 QUORATE_E_BAD_REQUEST, with or without a token', async () => {
    for (const headers of [{}, { authorization: 'Bearer default-token-0123456789' }]) {
      const res = await app.inject({ method: 'GET', url: '/%ff', headers });
      assertContractError(res, 400, 'QUORATE_E_BAD_REQUEST');
    }
  });

  test('unsupported content type, bad JSON and unknown routes keep the shape', async () => {
    const auth = { authorization: 'Bearer default-token-0123456789' };
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/wallets',
      headers: { ...auth, 'content-type': 'text/plain' },
      payload: 'hello',
    });
    assert.equal(bad.json<Body>().error.code, 'QUORATE_E_BAD_REQUEST', bad.body);
    const json = await app.inject({
      method: 'POST',
      url: '/v1/wallets',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{nope',
    });
    assertContractError(json, 400, 'QUORATE_E_BAD_REQUEST');
    assertContractError(
      await app.inject({ method: 'GET', url: '/nope', headers: auth }),
      404,
      'QUORATE_E_NOT_FOUND',
    );
  });

  test('a malformed HTTP request on a real socket gets the contract shape', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(address.port, '127.0.0.1');
      let text = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer: ${text}`));
      }, 5_000);
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
      socket.on('error', () => {});
      socket.write('GET / HTTP/1.1\r\nBad Header Line\r\n\r\n');
    });
    const [head, body] = raw.split('\r\n\r\n') as [string, string];
    assert.match(head, /^HTTP\/1\.1 400 /);
    assertContractError({ statusCode: 400, body }, 400, 'QUORATE_E_BAD_REQUEST');
  });
});
