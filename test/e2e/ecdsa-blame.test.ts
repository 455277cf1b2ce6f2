/**
 * A cheating `ecdsa` signer on real processes: party c1 sends a phase-3 broadcast whose `u` is
 * not a scalar (the group order). The coordinator checks it where c1's signed envelope is the
 * evidence, blames c1, stores the evidence, and the next attempt signs without it; c1 stays
 * excluded (suspect, blamed) for the next requests, which sign at once with c2 and c3.
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
    let blamedIn: string | undefined;
    // Until c1 is first chosen (at most every request while it is not yet blamed).
    for (let i = 0; i < 6 && blamedIn === undefined; i++) {
      const digest = sha256(new TextEncoder().encode(`payout ${i}`));
      const res = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
        message: bytesToHex(digest),
        intentKey: `payout-${i}`,
      });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.ok(
        libsecp256k1Verifies(hexToBytes(res.json['signature'] as string), digest, publicKey),
      );
      const session = await cluster.request('GET', `/v1/sessions/${res.json['sessionId']}`);
      const attempts = session.json['attempts'] as {
        parties: string[];
        outcome: string;
        reason?: string;
        atFault?: string[];
      }[];
      const blamed = attempts.find((a) => (a.reason ?? '').startsWith('blame'));
      if (blamed === undefined) continue;
      assert.ok(blamed.parties.includes('c1'));
      assert.deepEqual(blamed.atFault, ['c1']);
      assert.deepEqual([...(res.json['signers'] as string[])].sort(), ['c2', 'c3']);
      blamedIn = res.json['sessionId'] as string;
    }
    assert.ok(blamedIn, 'c1 was chosen, and blamed, within six requests');
    const parties = (await cluster.request('GET', '/v1/parties')).json['parties'] as {
      partyId: string;
      state: string;
      reason?: string;
    }[];
    const c1 = parties.find((p) => p.partyId === 'c1');
    assert.equal(c1?.state, 'suspect');
    assert.equal(c1?.reason, 'blamed');
    const next = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: bytesToHex(sha256(new TextEncoder().encode('after the blame'))),
      intentKey: 'after-blame',
    });
    assert.equal(next.status, 200, JSON.stringify(next.json));
    assert.deepEqual([...(next.json['signers'] as string[])].sort(), ['c2', 'c3']);
  } finally {
    await cluster.stop();
  }
});
