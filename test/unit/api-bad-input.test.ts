/** Bad input over HTTP, in-process (Fastify inject): a clear 4xx with a stable code, and nothing else happens. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { limits } from '../../src/core/limits.ts';
import { inProcessApi, testApiToken as token } from '../helpers/in-process-api.ts';

const auth = { authorization: `Bearer ${token}` };

describe('HTTP bad input', () => {
  const api = inProcessApi('w_000000000000000000000001');
  const { store, coordinator, wallet } = api;
  let app: FastifyInstance;

  before(async () => {
    app = await api.start();
  });
  after(async () => {
    await coordinator.stop();
    await app.close();
  });

  async function expectError(
    req: {
      method: 'GET' | 'POST';
      url: string;
      payload?: unknown;
      headers?: Record<string, string>;
    },
    status: number,
    code: string,
  ) {
    const res = await app.inject({
      method: req.method,
      url: req.url,
      headers: { ...auth, 'content-type': 'application/json', ...req.headers },
      ...(req.payload === undefined ? {} : { payload: req.payload as string }),
    });
    assert.equal(res.statusCode, status, res.body);
    const body = res.json<{
      error: { code: string; message: string; retryable: boolean; detail: unknown };
    }>();
    assert.equal(body.error.code, code);
    assert.equal(typeof body.error.message, 'string');
    assert.equal(typeof body.error.retryable, 'boolean');
    assert.equal(typeof body.error.detail, 'object');
    return body.error;
  }

  const signUrl = `/v1/wallets/${wallet.walletId}/signatures`;

  test('missing or wrong bearer token → 401', async () => {
    await expectError(
      { method: 'GET', url: '/v1/parties', headers: { authorization: '' } },
      401,
      'QUORATE_E_UNAUTHORIZED',
    );
    await expectError(
      { method: 'GET', url: '/v1/parties', headers: { authorization: 'Bearer nope' } },
      401,
      'QUORATE_E_UNAUTHORIZED',
    );
    await expectError(
      {
        method: 'POST',
        url: signUrl,
        payload: JSON.stringify({ message: '00', intentKey: 'x' }),
        headers: { authorization: 'Basic abc' },
      },
      401,
      'QUORATE_E_UNAUTHORIZED',
    );
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
  });

  test('malformed JSON and schema violations → 400 BAD_REQUEST', async () => {
    await expectError(
      { method: 'POST', url: signUrl, payload: '{"message": "00", ' },
      400,
      'QUORATE_E_BAD_REQUEST',
    );
    await expectError(
      { method: 'POST', url: signUrl, payload: JSON.stringify({ message: '00' }) },
      400,
      'QUORATE_E_BAD_REQUEST',
    );
    await expectError(
      {
        method: 'POST',
        url: signUrl,
        payload: JSON.stringify({ message: '00', intentKey: 'x', extra: 1 }),
      },
      400,
      'QUORATE_E_BAD_REQUEST',
    );
    await expectError(
      {
        method: 'POST',
        url: '/v1/wallets',
        payload: JSON.stringify({ scheme: 'bip340', threshold: 'two', parties: ['a'] }),
      },
      400,
      'QUORATE_E_BAD_REQUEST',
    );
    await expectError(
      {
        method: 'POST',
        url: '/v1/wallets',
        payload: JSON.stringify({ scheme: 'bip340', threshold: 1, parties: ['Not A Party!'] }),
      },
      400,
      'QUORATE_E_BAD_REQUEST',
    );
  });

  test('bad hex → 400 BAD_HEX', async () => {
    await expectError(
      { method: 'POST', url: signUrl, payload: JSON.stringify({ message: 'abc', intentKey: 'x' }) },
      400,
      'QUORATE_E_BAD_HEX',
    );
    await expectError(
      { method: 'POST', url: signUrl, payload: JSON.stringify({ message: 'zz', intentKey: 'x' }) },
      400,
      'QUORATE_E_BAD_HEX',
    );
  });

  test('oversize message → 413 MESSAGE_TOO_LARGE; oversize body → 413 BODY_TOO_LARGE', async () => {
    const big = 'ab'.repeat(limits.messageBytesMax + 1);
    const e = await expectError(
      { method: 'POST', url: signUrl, payload: JSON.stringify({ message: big, intentKey: 'x' }) },
      413,
      'QUORATE_E_MESSAGE_TOO_LARGE',
    );
    assert.deepEqual(e.detail, { bytes: limits.messageBytesMax + 1, max: limits.messageBytesMax });
    const huge = 'ab'.repeat(limits.httpBodyBytesMax);
    await expectError(
      { method: 'POST', url: signUrl, payload: JSON.stringify({ message: huge, intentKey: 'x' }) },
      413,
      'QUORATE_E_BODY_TOO_LARGE',
    );
  });

  test('unknown wallet, unknown session, unknown route → 404 with their own codes', async () => {
    await expectError(
      { method: 'GET', url: '/v1/wallets/w_ffffffffffffffffffffffff' },
      404,
      'QUORATE_E_WALLET_NOT_FOUND',
    );
    await expectError(
      {
        method: 'POST',
        url: '/v1/wallets/w_ffffffffffffffffffffffff/signatures',
        payload: JSON.stringify({ message: '00', intentKey: 'x' }),
      },
      404,
      'QUORATE_E_WALLET_NOT_FOUND',
    );
    await expectError(
      { method: 'GET', url: '/v1/sessions/s_ffffffffffffffffffffffff' },
      404,
      'QUORATE_E_SESSION_NOT_FOUND',
    );
    await expectError({ method: 'GET', url: '/v1/nothing' }, 404, 'QUORATE_E_NOT_FOUND');
  });

  test('threshold > n or < 1, duplicate and unknown party ids, unknown scheme → 400 with specific codes', async () => {
    const create = (body: unknown) => ({
      method: 'POST' as const,
      url: '/v1/wallets',
      payload: JSON.stringify(body),
    });
    await expectError(
      create({ scheme: 'bip340', threshold: 4, parties: ['a', 'b', 'c'] }),
      400,
      'QUORATE_E_INVALID_THRESHOLD',
    );
    await expectError(
      create({ scheme: 'bip340', threshold: 0, parties: ['a', 'b', 'c'] }),
      400,
      'QUORATE_E_INVALID_THRESHOLD',
    );
    await expectError(
      create({ scheme: 'bip340', threshold: 2, parties: ['a', 'a', 'c'] }),
      400,
      'QUORATE_E_DUPLICATE_PARTY',
    );
    const unknown = await expectError(
      create({ scheme: 'bip340', threshold: 2, parties: ['a', 'b', 'c'] }),
      400,
      'QUORATE_E_UNKNOWN_PARTY',
    );
    assert.deepEqual(unknown.detail, { unknown: ['a', 'b', 'c'] });
    await expectError(
      create({ scheme: 'rsa', threshold: 2, parties: ['a', 'b', 'c'] }),
      400,
      'QUORATE_E_UNSUPPORTED_SCHEME',
    );
  });

  test('nothing else happened: no session, no wallet besides the seeded one', async () => {
    assert.equal((await store.listSessions(100)).length, 0);
    assert.equal(await store.getWallet('w_ffffffffffffffffffffffff'), undefined);
  });

  test('a valid request with no party reachable fails fast with QUORUM_UNAVAILABLE and the session id', async () => {
    const e = await expectError(
      { method: 'POST', url: signUrl, payload: JSON.stringify({ message: '00', intentKey: 'k1' }) },
      503,
      'QUORATE_E_QUORUM_UNAVAILABLE',
    );
    assert.equal(e.retryable, true);
    const detail = e.detail as { sessionId: string; down: { partyId: string }[] };
    assert.match(detail.sessionId, /^s_/);
    assert.deepEqual(
      detail.down.map((d) => d.partyId),
      ['a', 'b', 'c'],
    );
  });
});
