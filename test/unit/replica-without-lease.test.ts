/**
 * A coordinator replica that holds no store lease (stopping, or lost it and not yet replaced)
 * refuses to open a session with a retryable `QUORATE_E_NOT_OWNER` that names no session: no
 * session was created, so a client must not be sent polling an id that never existed (the HA
 * store-cut test once did exactly that and waited 30 s for nothing). In-process, Fastify inject.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { inProcessApi, testApiToken as token } from '../helpers/in-process-api.ts';

const walletId = 'w_000000000000000000000002';
const api = inProcessApi(walletId);
const { store, coordinator } = api;
let app: FastifyInstance;

before(async () => {
  app = await api.start();
});
after(async () => {
  await app.close();
});

test('no lease: sign answers 503 NOT_OWNER, retryable, naming no session; nothing is stored', async () => {
  const leaseBefore = coordinator.lease;
  assert.ok(leaseBefore, 'the replica held a lease while running');
  await coordinator.stop();
  assert.equal(coordinator.lease, undefined);
  const res = await app.inject({
    method: 'POST',
    url: `/v1/wallets/${walletId}/signatures`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ message: 'ab', intentKey: 'no-lease-1' }),
  });
  assert.equal(res.statusCode, 503, res.body);
  const error = res.json<{
    error: { code: string; retryable: boolean; detail: Record<string, unknown> };
  }>().error;
  assert.equal(error.code, 'QUORATE_E_NOT_OWNER');
  assert.equal(error.retryable, true);
  assert.equal(error.detail['sessionId'], undefined);
  assert.equal(error.detail['reason'], 'no live store lease');
  assert.equal((await store.listSessions(10)).length, 0, 'no session was created');
});
