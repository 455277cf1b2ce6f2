/**
 * Issue 13 (list endpoints by cursor): `GET /v1/wallets` and `GET /v1/sessions` page through the
 * store by an opaque cursor, never more than `limits.storePageSizeMax` at a time; a larger
 * `limit`, or an unknown query field, is refused with 400 and a stable code. A signer sees only
 * the sessions it asked for.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { bytesToHex } from '@noble/hashes/utils.js';
import { principalFromToken } from '../../src/api/principals.ts';
import { limits } from '../../src/core/limits.ts';
import { inProcessApi } from '../helpers/in-process-api.ts';

const walletId = 'w_0000000000000000000000b1';
const tokens = {
  auditor: 'auditor-token-0123456789',
  alice: 'alice-signer-token-0123456789',
  bob: 'bob-signer-token-0123456789',
} as const;

describe('paged listings', () => {
  const api = inProcessApi(walletId);
  const { coordinator, store, wallet } = api;
  let app: FastifyInstance;

  before(async () => {
    app = await api.start([
      principalFromToken('auditor', tokens.auditor, ['auditor']),
      principalFromToken('alice', tokens.alice, ['signer']),
      principalFromToken('bob', tokens.bob, ['signer']),
    ]);
    for (let i = 0; i < 4; i++)
      await store.createWallet({ ...wallet, walletId: `w_00000000000000000000000${i}` });
  });
  after(async () => {
    await coordinator.stop();
    await app.close();
  });

  const get = (token: string, url: string) =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  /** A session asked for by `token` (it fails at once: no party is connected). */
  const sign = async (token: string) => {
    const r = await app.inject({
      method: 'POST',
      url: `/v1/wallets/${walletId}/signatures`,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify({
        message: bytesToHex(randomBytes(8)),
        intentKey: `list-${bytesToHex(randomBytes(6))}`,
        waitMs: 0,
      }),
    });
    const body = r.json<{ sessionId?: string; error?: { detail: { sessionId: string } } }>();
    const id = body.sessionId ?? body.error?.detail.sessionId;
    assert.ok(id, r.body);
    return id;
  };

  test('wallets: every wallet exactly once across pages of 2, in id order', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const url = `/v1/wallets?limit=2${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const res = await get(tokens.auditor, url);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<{ wallets: { walletId: string }[]; nextCursor?: string }>();
      assert.ok(body.wallets.length <= 2);
      seen.push(...body.wallets.map((w) => w.walletId));
      cursor = body.nextCursor;
      if (cursor === undefined) break;
    }
    assert.equal(cursor, undefined, 'the listing ended');
    assert.deepEqual(seen, [...seen].sort());
    assert.equal(new Set(seen).size, 5);
  });

  test('sessions: newest first, filtered by wallet and status; a signer sees only its own', async () => {
    const mine = [await sign(tokens.alice), await sign(tokens.alice)];
    const theirs = await sign(tokens.bob);
    const all = await get(tokens.auditor, `/v1/sessions?walletId=${walletId}&limit=500`);
    assert.equal(all.statusCode, 200, all.body);
    const ids = all.json<{ sessions: { sessionId: string }[] }>().sessions.map((x) => x.sessionId);
    for (const id of [...mine, theirs]) assert.ok(ids.includes(id), `${id} listed`);
    const own = await get(tokens.alice, `/v1/sessions?walletId=${walletId}`);
    assert.equal(own.statusCode, 200, own.body);
    const ownIds = own
      .json<{ sessions: { sessionId: string }[] }>()
      .sessions.map((x) => x.sessionId);
    assert.deepEqual(new Set(ownIds), new Set(mine), 'alice sees her two sessions, not bob’s');
    const other = await get(tokens.auditor, `/v1/sessions?walletId=w_nonexistent00000000000000`);
    assert.deepEqual(other.json(), { sessions: [] });
    const signed = await get(tokens.auditor, `/v1/sessions?status=signed`);
    assert.deepEqual(signed.json<{ sessions: unknown[] }>().sessions, [], 'none signed');
  });

  test('bounds: a limit above the max, a bad status or an unknown field is a 400 with a code', async () => {
    for (const url of [
      `/v1/sessions?limit=${limits.storePageSizeMax + 1}`,
      '/v1/sessions?limit=0',
      '/v1/sessions?status=lost',
      '/v1/sessions?everything=1',
      `/v1/wallets?limit=${limits.storePageSizeMax + 1}`,
      '/v1/wallets?cursor=not-a-cursor',
    ]) {
      const res = await get(tokens.auditor, url);
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.match(res.json<{ error: { code: string } }>().error.code, /^QUORATE_E_/, url);
    }
  });
});
