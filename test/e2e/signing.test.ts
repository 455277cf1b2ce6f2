/**
 * Real processes on loopback: a coordinator and 5 parties. For each scheme, 2-of-3 and 3-of-5
 * wallets are created by DKG and sign; every signature is verified by a different code path
 * (OpenSSL for Ed25519, noble's plain BIP340 verifier, noble's secp256k1 FROST verify).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { verifyIndependently } from '../helpers/verify-independently.ts';

const parties = ['p1', 'p2', 'p3', 'p4', 'p5'];

describe('signing over loopback with real processes', () => {
  const cluster = new LocalCluster();
  before(async () => {
    await cluster.startWithParties(parties);
  });
  after(() => cluster.stop());

  for (const scheme of ['ed25519', 'bip340', 'secp256k1']) {
    for (const [t, n] of [
      [2, 3],
      [3, 5],
    ] as const) {
      test(`${scheme} ${t}-of-${n}: create wallet, sign, verify with another implementation`, async () => {
        const members = parties.slice(0, n);
        const created = await cluster.request('POST', '/v1/wallets', {
          scheme,
          threshold: t,
          parties: members,
        });
        assert.equal(created.status, 201, JSON.stringify(created.json));
        const pk = created.json['publicKey'] as string;
        assert.equal(pk.length, scheme === 'secp256k1' ? 66 : 64);
        const walletId = created.json['walletId'] as string;
        const fetched = await cluster.request('GET', `/v1/wallets/${walletId}`);
        assert.deepEqual(fetched.json, created.json);
        const message = Buffer.from(`transfer ${scheme} ${t}/${n}`).toString('hex');
        const signed = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
          message,
          intentKey: `tx-${scheme}-${n}`,
        });
        assert.equal(signed.status, 200, JSON.stringify(signed.json));
        assert.equal(signed.json['status'], 'signed');
        const signers = signed.json['signers'] as string[];
        assert.equal(signers.length, t);
        assert.ok(signers.every((s) => members.includes(s)));
        assert.ok(
          verifyIndependently(scheme, signed.json['signature'] as string, message, pk),
          'independent verifier accepts',
        );
        const session = await cluster.request(
          'GET',
          `/v1/sessions/${signed.json['sessionId'] as string}`,
        );
        assert.equal(session.json['status'], 'signed');
        assert.equal(session.json['signature'], signed.json['signature']);
      });
    }
  }

  test('idempotency: same intentKey + same message → same session and signature; another message → 409, never signed', async () => {
    const created = await cluster.request('POST', '/v1/wallets', {
      scheme: 'bip340',
      threshold: 2,
      parties: ['p1', 'p2', 'p3'],
    });
    const walletId = created.json['walletId'] as string;
    const message = 'aa'.repeat(32);
    const first = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message,
      intentKey: 'pay-42',
    });
    const again = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message,
      intentKey: 'pay-42',
    });
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    assert.equal(again.json['sessionId'], first.json['sessionId']);
    assert.equal(again.json['signature'], first.json['signature']);
    const conflict = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: 'bb'.repeat(32),
      intentKey: 'pay-42',
    });
    assert.equal(conflict.status, 409);
    const error = conflict.json['error'] as {
      code: string;
      retryable: boolean;
      detail: Record<string, unknown>;
    };
    assert.equal(error.code, 'QUORATE_E_INTENT_CONFLICT');
    assert.equal(error.retryable, false);
    assert.equal(error.detail['existingSessionId'], first.json['sessionId']);
    assert.equal(conflict.json['signature'], undefined);
    const session = await cluster.request(
      'GET',
      `/v1/sessions/${first.json['sessionId'] as string}`,
    );
    assert.equal(
      session.json['signature'],
      first.json['signature'],
      'the locked session still has its one signature',
    );
  });

  test('waitMs: 0 answers 202 at once, and the session is then signed when polled', async () => {
    const created = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ed25519',
      threshold: 2,
      parties: ['p3', 'p4', 'p5'],
    });
    const walletId = created.json['walletId'] as string;
    const res = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: '01',
      intentKey: 'async-1',
      waitMs: 0,
    });
    assert.equal(res.status, 202);
    assert.ok(['pending', 'running'].includes(res.json['status'] as string));
    let status = '';
    for (let i = 0; i < 200 && status !== 'signed'; i++) {
      status = (await cluster.request('GET', `/v1/sessions/${res.json['sessionId'] as string}`))
        .json['status'] as string;
      if (status !== 'signed') await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(status, 'signed');
  });

  test('GET /v1/parties, /healthz, /metrics and /openapi.json', async () => {
    const p = await cluster.request('GET', '/v1/parties');
    const list = p.json['parties'] as { partyId: string; state: string; lastSeenMs: number }[];
    assert.deepEqual(
      list.map((x) => x.partyId),
      parties,
    );
    assert.ok(list.every((x) => x.state === 'alive' && x.lastSeenMs > 0));
    const health = await fetch(`${cluster.url}/healthz`);
    assert.equal(health.status, 200);
    const metrics = await fetch(`${cluster.url}/metrics`, {
      headers: { authorization: `Bearer ${cluster.apiToken}` },
    });
    const text = await metrics.text();
    assert.match(text, /quorate_sessions_total\{outcome="signed",code=""\} \d+/);
    assert.match(text, /quorate_stale_session_state 0/);
    const openapi = await cluster.request('GET', '/openapi.json');
    assert.equal(openapi.json['openapi'], '3.0.3');
    assert.ok(
      (openapi.json['paths'] as Record<string, unknown>)['/v1/wallets/{walletId}/signatures'],
    );
  });
});
