/**
 * A coordinator replica that holds no store lease (stopping, or lost it and not yet replaced)
 * refuses to open a session with a retryable `QUORATE_E_NOT_OWNER` that names no session: no
 * session was created, so a client must not be sent polling an id that never existed (the HA
 * store-cut test once did exactly that and waited 30 s for nothing). In-process, Fastify inject.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { realEnv } from '../../src/core/env.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { generateIdentity } from '../../src/transport/identity.ts';

const token = 'test-token-0123456789';
const env = realEnv({ logLevel: 'silent' });
const store = new MemoryStore({ clock: env });
const coordinator = new Coordinator({
  env,
  store,
  identity: generateIdentity(new Uint8Array(randomBytes(64))),
  recoveryGraceMs: 0,
});
const walletId = 'w_000000000000000000000002';
let app: FastifyInstance;

before(async () => {
  await coordinator.start();
  app = buildApi(coordinator, { apiToken: token });
  await store.createWallet({
    walletId,
    scheme: 'bip340',
    threshold: 2,
    parties: ['a', 'b', 'c'],
    publicKey: '00'.repeat(32),
    publicPackage: {},
    createdMs: 1,
  });
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
