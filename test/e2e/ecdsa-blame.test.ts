/**
 * A cheating `ecdsa` signer on real processes: party c1 sends a phase-3 broadcast whose `u` is
 * not a scalar (the group order). With c3 down, the only quorum is {c1, c2}: the coordinator
 * checks the broadcast where c1's signed envelope is the evidence, blames and excludes c1, and
 * fails the request with QUORATE_E_PROTOCOL_ABORT (no honest quorum is left). c1 stays excluded
 * (suspect, blamed): once c3 is back, the next requests sign at once with c2 and c3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { faultyPartyEntry } from '../helpers/faulty-engine.ts';
import { libsecp256k1Verifies } from '../helpers/ecdsa.ts';

test('ecdsa: a signer with an out-of-range broadcast is blamed, excluded, and signing goes on', async () => {
  const cluster = new LocalCluster({
    partyEntries: { c1: faultyPartyEntry({ corruptEcdsaU: true }) },
  });
  try {
    await cluster.startWithParties(['c1', 'c2', 'c3']);
    const w = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ecdsa',
      threshold: 2,
      parties: ['c1', 'c2', 'c3'],
    });
    assert.equal(w.status, 201, JSON.stringify(w.json));
    const walletId = w.json['walletId'] as string;
    const publicKey = hexToBytes(w.json['publicKey'] as string);
    // With c3 down the only quorum is {c1, c2}: the cheater is chosen (the coordinator's latency
    // ranking would otherwise decide whether it ever is).
    await cluster.kill('c3');
    await cluster.waitForParties(['c3'], 'not-alive');
    const first = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: bytesToHex(sha256(new TextEncoder().encode('payout 0'))),
      intentKey: 'payout-0',
    });
    assert.equal(first.status, 502, JSON.stringify(first.json));
    const error = first.json['error'] as { code: string; detail: { sessionId: string } };
    assert.equal(error.code, 'QUORATE_E_PROTOCOL_ABORT', 'no honest quorum is left');
    const session = await cluster.request('GET', `/v1/sessions/${error.detail.sessionId}`);
    const attempts = session.json['attempts'] as {
      parties: string[];
      reason?: string;
      atFault?: string[];
    }[];
    const blamed = attempts.find((a) => (a.reason ?? '').startsWith('blame'));
    assert.ok(blamed, JSON.stringify(attempts));
    assert.deepEqual([...blamed.parties].sort(), ['c1', 'c2']);
    assert.deepEqual(blamed.atFault, ['c1']);
    // c3 back: signing goes on with the honest pair; c1 stays out (suspect, blamed).
    cluster.startParty('c3');
    await cluster.waitForParties(['c3']);
    const parties = (await cluster.request('GET', '/v1/parties')).json['parties'] as {
      partyId: string;
      state: string;
      reason?: string;
    }[];
    const c1 = parties.find((p) => p.partyId === 'c1');
    assert.equal(c1?.state, 'suspect');
    assert.equal(c1?.reason, 'blamed');
    for (const label of ['after the blame', 'and again']) {
      const digest = sha256(new TextEncoder().encode(label));
      const next = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
        message: bytesToHex(digest),
        intentKey: label.replaceAll(' ', '-'),
      });
      assert.equal(next.status, 200, JSON.stringify(next.json));
      assert.deepEqual([...(next.json['signers'] as string[])].sort(), ['c2', 'c3']);
      const sig = hexToBytes(next.json['signature'] as string);
      assert.ok(libsecp256k1Verifies(sig, digest, publicKey));
    }
  } finally {
    await cluster.stop();
  }
});
