/**
 * Issue 12: `walletsMax` is enforced when creating wallets (finding 5's tail), and an intent is
 * bound to its (message, context) pair at the coordinator (deliverable 6): the same intentKey and
 * message under another context is `409 QUORATE_E_INTENT_CONFLICT`; the same context (canonical
 * JSON, key order irrelevant) stays idempotent. In-process HTTP over a memory store.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { limits } from '../../src/core/limits.ts';
import { inProcessApi, testApiToken } from '../helpers/in-process-api.ts';

const headers = { authorization: `Bearer ${testApiToken}`, 'content-type': 'application/json' };

/** One coordinator for the whole file: the first test's sessions do not disturb the second. */
const api = inProcessApi('w_000000000000000000000002');
const { store, wallet } = api;
const app = await api.start();
after(async () => {
  await api.coordinator.stop();
  await app.close();
});

const sign = (payload: Record<string, unknown>) =>
  app.inject({
    method: 'POST',
    url: `/v1/wallets/${wallet.walletId}/signatures`,
    headers,
    payload: JSON.stringify(payload),
  });

/** The session a sign answer names: no party is up, so it may be a failed session's error. */
const sessionOf = (body: string): unknown => {
  const parsed = JSON.parse(body) as {
    sessionId?: string;
    error?: { code: string; detail: Record<string, unknown> };
  };
  assert.notEqual(parsed.error?.code, 'QUORATE_E_INTENT_CONFLICT', body);
  return parsed.sessionId ?? parsed.error?.detail['sessionId'];
};

const errorOf = (body: string) =>
  (JSON.parse(body) as { error: { code: string; detail: Record<string, unknown> } }).error;

test('same intentKey and message, different context: 409 INTENT_CONFLICT; same context: idempotent', async () => {
  const first = await sign({
    message: 'aa',
    intentKey: 'pay-1',
    context: { amount: '10', asset: 'USDC', destination: '0xabc' },
  });
  const sessionId = sessionOf(first.body);
  assert.equal(typeof sessionId, 'string', first.body);
  const reordered = await sign({
    message: 'aa',
    intentKey: 'pay-1',
    context: { destination: '0xabc', asset: 'USDC', amount: '10' },
  });
  assert.equal(sessionOf(reordered.body), sessionId, 'the same session, not a new one');
  for (const context of [
    { amount: '1000', asset: 'USDC', destination: '0xabc' },
    { amount: '10', asset: 'USDC', destination: '0xdef' },
    { amount: '10', asset: 'USDC' },
  ]) {
    const other = await sign({ message: 'aa', intentKey: 'pay-1', context });
    assert.equal(other.statusCode, 409, other.body);
    const error = errorOf(other.body);
    assert.equal(error.code, 'QUORATE_E_INTENT_CONFLICT');
    assert.equal(error.detail['conflict'], 'context');
    assert.equal(error.detail['existingSessionId'], sessionId);
  }
  const noContext = await sign({ message: 'bb', intentKey: 'plain' });
  assert.equal(typeof sessionOf(noContext.body), 'string');
  const added = await sign({ message: 'bb', intentKey: 'plain', context: { amount: '1' } });
  assert.equal(added.statusCode, 409, 'a context added later is another request');
  const message = await sign({ message: 'cc', intentKey: 'pay-1' });
  assert.equal(errorOf(message.body).detail['conflict'], 'message');
});

test('walletsMax: creation is refused with 503 OVERLOADED (reason wallets-max) once the store holds that many', async () => {
  const create = () =>
    app.inject({
      method: 'POST',
      url: '/v1/wallets',
      headers,
      payload: JSON.stringify({ scheme: 'bip340', threshold: 2, parties: ['a', 'b', 'c'] }),
    });
  const filler = { ...wallet, publicKey: 'pk' };
  const held = (await store.getWallet(wallet.walletId)) ? 1 : 0; // the helper's one wallet
  for (let i = held; i < limits.walletsMax - 1; i++) {
    await store.createWallet({ ...filler, walletId: `w_fill_${i}` });
  }
  const below = await create();
  assert.equal(errorOf(below.body).code, 'QUORATE_E_UNKNOWN_PARTY', 'one below: room is left');
  await store.createWallet({ ...filler, walletId: 'w_fill_last' });
  const full = await create();
  assert.equal(full.statusCode, 503, full.body);
  const error = errorOf(full.body);
  assert.equal(error.code, 'QUORATE_E_OVERLOADED');
  assert.deepEqual(error.detail, { reason: 'wallets-max', walletsMax: limits.walletsMax });
});
