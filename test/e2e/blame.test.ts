/**
 * Blame on real processes: parties that send invalid signature shares are named, their evidence
 * is stored, they are excluded and shown suspect(blamed) until an operator clears them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { faultyPartyEntry } from '../helpers/faulty-engine.ts';

test('two cheating parties in a 2-of-3: PROTOCOL_ABORT naming them, suspect(blamed), clear-blame by an operator', async () => {
  const cheat = faultyPartyEntry({ corruptShare: true });
  const cluster = new LocalCluster({ partyEntries: { c1: cheat, c2: cheat } });
  try {
    await cluster.startWithParties(['c1', 'c2', 'c3']);
    const w = await cluster.request('POST', '/v1/wallets', {
      scheme: 'bip340',
      threshold: 2,
      parties: ['c1', 'c2', 'c3'],
    });
    const walletId = w.json['walletId'] as string;
    const res = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: '42',
      intentKey: 'cheat-1',
    });
    assert.equal(res.status, 502, JSON.stringify(res.json));
    const error = res.json['error'] as {
      code: string;
      retryable: boolean;
      detail: { blamed: string[]; sessionId: string };
    };
    assert.equal(error.code, 'QUORATE_E_PROTOCOL_ABORT');
    assert.equal(error.retryable, false);
    assert.deepEqual(error.detail.blamed, ['c1', 'c2']);
    const session = await cluster.request('GET', `/v1/sessions/${error.detail.sessionId}`);
    const attempts = session.json['attempts'] as {
      parties: string[];
      outcome: string;
      reason?: string;
    }[];
    assert.ok(attempts.length >= 1);
    assert.ok(
      attempts.every((a) => a.outcome === 'aborted' && (a.reason ?? '').startsWith('blame')),
    );
    assert.equal(session.json['signature'], undefined, 'nothing was signed');
    const parties = (await cluster.request('GET', '/v1/parties')).json['parties'] as {
      partyId: string;
      state: string;
      reason?: string;
    }[];
    const byId = Object.fromEntries(parties.map((p) => [p.partyId, p]));
    assert.equal(byId['c1']?.state, 'suspect');
    assert.equal(byId['c1']?.reason, 'blamed');
    assert.equal(byId['c2']?.reason, 'blamed');
    assert.equal(byId['c3']?.state, 'alive');
    // While blamed, a new request fails fast: only one eligible party is left.
    const again = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: '43',
      intentKey: 'cheat-2',
    });
    assert.equal(again.status, 503);
    assert.equal((again.json['error'] as { code: string }).code, 'QUORATE_E_QUORUM_UNAVAILABLE');
    const cleared = await cluster.request('POST', '/v1/parties/c1/clear-blame');
    assert.equal(cleared.status, 200);
    assert.equal(cleared.json['state'], 'alive');
    const unknown = await cluster.request('POST', '/v1/parties/nobody/clear-blame');
    assert.equal(unknown.status, 404);
    assert.equal((unknown.json['error'] as { code: string }).code, 'QUORATE_E_PARTY_NOT_FOUND');
  } finally {
    await cluster.stop();
  }
});
