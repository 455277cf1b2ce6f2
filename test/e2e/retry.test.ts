/**
 * Retryable means retryable, on real processes (loopback): a request that failed with a
 * retryable code, sent again with the same intentKey and message, starts a new try under the
 * same intent and signs once a quorum is back; asked a third time, it returns the same
 * signature. A non-retryable answer is the same every time. (docs/retries.md)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { LocalCluster } from '../../src/cli/local-cluster.ts';

const parties = ['r1', 'r2', 'r3'];

interface ErrorBody {
  code: string;
  retryable: boolean;
  detail: { sessionId?: string };
}

/** Starts the coordinator and `parties`, and creates a 2-of-3 ed25519 wallet over them. */
async function startWithWallet(
  cluster: LocalCluster,
  parties: string[],
  extra: Record<string, unknown> = {},
): Promise<{ walletId: string; publicKey: string }> {
  await cluster.startWithParties(parties);
  const w = await cluster.request('POST', '/v1/wallets', {
    scheme: 'ed25519',
    threshold: 2,
    parties,
    ...extra,
  });
  assert.equal(w.status, 201, JSON.stringify(w.json));
  return { walletId: w.json['walletId'] as string, publicKey: w.json['publicKey'] as string };
}

describe('retrying a failed intent (2-of-3, ed25519)', () => {
  const cluster = new LocalCluster();
  let walletId = '';
  let publicKey = '';
  const signAs = (intentKey: string, message: string) =>
    cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: Buffer.from(message).toString('hex'),
      intentKey,
    });

  before(async () => {
    ({ walletId, publicKey } = await startWithWallet(cluster, parties));
  });
  after(() => cluster.stop());

  test('two parties down → QUORUM_UNAVAILABLE; back → the same request signs; again → the same signature', async () => {
    await cluster.kill('r1', 'SIGKILL');
    await cluster.kill('r2', 'SIGKILL');
    await cluster.waitForParties(['r1', 'r2'], 'down');
    const first = await signAs('pay-7', 'pay 7 to carol');
    assert.equal(first.status, 503, JSON.stringify(first.json));
    const error = first.json['error'] as ErrorBody;
    assert.equal(error.code, 'QUORATE_E_QUORUM_UNAVAILABLE');
    assert.equal(error.retryable, true);
    const sessionId = error.detail.sessionId;
    assert.ok(sessionId !== undefined);

    // Still down: retrying fails the same way, under the same session, and nothing is signed.
    const stillDown = await signAs('pay-7', 'pay 7 to carol');
    assert.equal(stillDown.status, 503);
    assert.equal((stillDown.json['error'] as ErrorBody).detail.sessionId, sessionId);

    cluster.startParty('r1');
    cluster.startParty('r2');
    await cluster.waitForParties(['r1', 'r2']);
    const second = await signAs('pay-7', 'pay 7 to carol');
    assert.equal(second.status, 200, JSON.stringify(second.json));
    assert.equal(second.json['sessionId'], sessionId, 'the same intent, the same session');
    const signature = second.json['signature'] as string;
    assert.ok(
      ed25519.verify(
        Buffer.from(signature, 'hex'),
        Buffer.from('pay 7 to carol'),
        Buffer.from(publicKey, 'hex'),
      ),
    );

    const third = await signAs('pay-7', 'pay 7 to carol');
    assert.equal(third.status, 200);
    assert.equal(third.json['signature'], signature, 'one signature per intent (I1)');

    const session = await cluster.request('GET', `/v1/sessions/${sessionId}`);
    assert.equal(session.json['status'], 'signed');
    const retry = session.json['retry'] as { count: number; previousError: { code: string } };
    assert.equal(retry.count, 2, 'two retries: one while still down, one that signed');
    assert.equal(retry.previousError.code, 'QUORATE_E_QUORUM_UNAVAILABLE');
  });

  test('a non-retryable answer is the same every time: INTENT_CONFLICT never signs', async () => {
    const signed = await signAs('pay-8', 'pay 8 to dave');
    assert.equal(signed.status, 200, JSON.stringify(signed.json));
    for (let i = 0; i < 3; i++) {
      const conflict = await signAs('pay-8', 'pay 8000 to mallory');
      assert.equal(conflict.status, 409);
      const error = conflict.json['error'] as ErrorBody;
      assert.equal(error.code, 'QUORATE_E_INTENT_CONFLICT');
      assert.equal(error.retryable, false);
    }
    const again = await signAs('pay-8', 'pay 8 to dave');
    assert.equal(again.json['signature'], signed.json['signature']);
  });
});

describe('retrying a failed intent on a governed wallet (rules-retail.yaml)', () => {
  const policyPath = fileURLToPath(
    new URL('../../examples/policies/rules-retail.yaml', import.meta.url),
  );
  const governed = ['mobile', 'backend', 'guardian'];
  const cluster = new LocalCluster({
    coordinatorArgs: ['--policy', policyPath],
    partyArgs: ['--policy', policyPath],
  });
  let walletId = '';
  const transfer = (intentKey: string, amount: string) =>
    cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: Buffer.from(`transfer ${intentKey}`).toString('hex'),
      intentKey,
      context: { amount, asset: 'USDC', destination: '0x1111111111111111111111111111111111111111' },
    });
  const codeOf = (res: { json: Record<string, unknown> }) => (res.json['error'] as ErrorBody).code;

  before(async () => {
    ({ walletId } = await startWithWallet(cluster, governed, { policy: 'retail-2of3' }));
  });
  after(() => cluster.stop());

  test('the retry re-checks the rules: one signs, one now over the velocity limit is denied for good', async () => {
    await cluster.kill('backend', 'SIGKILL');
    await cluster.kill('guardian', 'SIGKILL');
    await cluster.waitForParties(['backend', 'guardian'], 'down');
    // Both within the 2 500 / 24 h velocity limit when asked.
    for (const [intent, amount] of [
      ['g-small', '100'],
      ['g-big', '1000'],
    ] as const) {
      const res = await transfer(intent, amount);
      assert.equal(res.status, 503, JSON.stringify(res.json));
      assert.equal(codeOf(res), 'QUORATE_E_QUORUM_UNAVAILABLE');
    }
    cluster.startParty('backend');
    cluster.startParty('guardian');
    await cluster.waitForParties(governed);
    const small = await transfer('g-small', '100');
    assert.equal(small.status, 200, JSON.stringify(small.json));
    for (const intent of ['g-other-1', 'g-other-2']) {
      const other = await transfer(intent, '1000');
      assert.equal(other.status, 200, JSON.stringify(other.json));
    }
    // 100 + 2 × 1 000 signed since: 1 000 more would pass 2 500. Asked again, g-big is denied, and
    // stays denied: the failure is no longer retryable.
    for (let i = 0; i < 2; i++) {
      const big = await transfer('g-big', '1000');
      assert.equal(big.status, 403, JSON.stringify(big.json));
      assert.equal(codeOf(big), 'QUORATE_E_POLICY_DENIED');
      assert.equal((big.json['error'] as ErrorBody).retryable, false);
    }
  });
});
