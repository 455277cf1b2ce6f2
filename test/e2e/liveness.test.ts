/**
 * Liveness on real processes (loopback): one party killed or paused, signing continues on
 * another quorum; two killed, the caller gets QUORUM_UNAVAILABLE at once; restarted, it recovers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalCluster } from '../../src/cli/local-cluster.ts';

const parties = ['a1', 'a2', 'a3'];

describe('liveness with one or two parties failing (2-of-3)', () => {
  const cluster = new LocalCluster();
  let walletId = '';
  let counter = 0;
  const sign = (extra: Record<string, unknown> = {}) =>
    cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: Buffer.from(`live ${counter}`).toString('hex'),
      intentKey: `live-${counter++}`,
      ...extra,
    });

  before(async () => {
    await cluster.startWithParties(parties);
    const w = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ed25519',
      threshold: 2,
      parties,
    });
    walletId = w.json['walletId'] as string;
  });
  after(() => cluster.stop());

  test('kill -9 one party: it is reported down and signing continues without it', async () => {
    await cluster.kill('a1', 'SIGKILL');
    await cluster.waitForParties(['a1'], 'down');
    for (let i = 0; i < 3; i++) {
      const res = await sign();
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.ok(!(res.json['signers'] as string[]).includes('a1'));
    }
    cluster.startParty('a1');
    await cluster.waitForParties(['a1']);
  });

  test('SIGSTOP one party: detected (leaves alive), signing continues; SIGCONT: it returns', async () => {
    cluster.signal('a2', 'SIGSTOP');
    try {
      await cluster.waitForParties(['a2'], 'not-alive', 15_000);
      const res = await sign();
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.deepEqual((res.json['signers'] as string[]).sort(), ['a1', 'a3']);
    } finally {
      cluster.signal('a2', 'SIGCONT');
    }
    await cluster.waitForParties(['a2']);
  });

  test('a party paused before detection: the request still signs; if it was chosen, that attempt was aborted', async () => {
    // Pause a3 without waiting for detection, so the coordinator may still pick it.
    cluster.signal('a3', 'SIGSTOP');
    try {
      const res = await sign();
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.ok(!(res.json['signers'] as string[]).includes('a3'));
      const session = await cluster.request(
        'GET',
        `/v1/sessions/${res.json['sessionId'] as string}`,
      );
      const attempts = session.json['attempts'] as { outcome: string; parties: string[] }[];
      if (attempts.length > 1) {
        assert.equal(attempts[0]?.outcome, 'aborted');
        assert.ok(attempts[0]?.parties.includes('a3'));
      }
    } finally {
      cluster.signal('a3', 'SIGCONT');
    }
    await cluster.waitForParties(['a3']);
  });

  test('kill two: QUORUM_UNAVAILABLE immediately, naming who is down; restart them: signing recovers', async () => {
    await cluster.kill('a1', 'SIGKILL');
    await cluster.kill('a2', 'SIGKILL');
    await cluster.waitForParties(['a1', 'a2'], 'down');
    const res = await sign();
    assert.equal(res.status, 503);
    const error = res.json['error'] as {
      code: string;
      retryable: boolean;
      detail: { down: { partyId: string; sinceMs: number }[]; sessionId: string };
    };
    assert.equal(error.code, 'QUORATE_E_QUORUM_UNAVAILABLE');
    assert.equal(error.retryable, true);
    assert.deepEqual(error.detail.down.map((d) => d.partyId).sort(), ['a1', 'a2']);
    assert.ok(error.detail.down.every((d) => d.sinceMs > 0));
    const session = await cluster.request('GET', `/v1/sessions/${error.detail.sessionId}`);
    assert.equal(session.json['status'], 'failed');
    assert.equal(
      (session.json['attempts'] as unknown[]).length,
      0,
      'failed before any attempt: nothing was sent to parties',
    );
    cluster.startParty('a1');
    cluster.startParty('a2');
    await cluster.waitForParties(['a1', 'a2']);
    const recovered = await sign();
    assert.equal(recovered.status, 200, JSON.stringify(recovered.json));
  });
});
