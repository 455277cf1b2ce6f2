/**
 * An anchored party signs ecdsa only with peers whose box keys the operator certified
 * (src/party/signing.ts). A box key the coordinator names without the peer's certificate, or
 * against it, is refused with QUORATE_E_UNTRUSTED_PEER before anything is sealed, and softly:
 * the fault is not this party's, so it must not get this party excluded (security review of
 * issue 14: a wallet member without a certificate got every honest co-signer excluded in turn,
 * so a 2-of-3 failed although its two honest parties were a quorum). A policy block that names a
 * call selector without a transaction is refused too: a selector is a decoded fact.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { sha256Hex } from '../../src/core/encoding.ts';
import { validateRefuse, type Envelope, type SignStartBody } from '../../src/transport/wire.ts';
import { issueCertificate } from '../../src/transport/certificate.ts';
import { generateIdentity } from '../../src/transport/identity.ts';
import { ecdsaFixture, seededEcdsaEngine } from '../helpers/ecdsa.ts';
import { connectedParty, testRng } from '../helpers/party-harness.ts';

async function nextAnswer(received: Envelope[], from: number): Promise<Envelope | undefined> {
  for (let i = 0; i < 200 && received.length <= from; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  return received[from];
}

describe('an anchored ecdsa signer checks its peers’ box keys', async () => {
  const operatorSecret = testRng(32);
  const operatorKey = ed25519.getPublicKey(operatorSecret);
  const certify = (partyId: string, keys: ReturnType<typeof generateIdentity>) =>
    issueCertificate(
      operatorSecret,
      operatorKey,
      {
        partyId,
        identityKey: bytesToHex(keys.signPublic),
        boxKey: bytesToHex(keys.boxPublic),
      },
      0,
    );
  const me = generateIdentity(testRng(64));
  const peer = generateIdentity(testRng(64));
  const key = ecdsaFixture(2, 3).keys.find((k) => k.partyId === 'p1')!;
  const { engine } = await seededEcdsaEngine(22, 'box-keys');
  const h = connectedParty('p1', [key], {
    identity: me,
    engines: { ecdsa: engine },
    trust: { operatorKey, certificate: certify('p1', me) },
  });
  after(() => h.close());
  let session = 0;
  const ask = async (over: Partial<SignStartBody>) => {
    const digest = sha256(new TextEncoder().encode(`pay ${session}`));
    const body: SignStartBody = {
      walletId: key.walletId,
      intentKey: `i${session}`,
      messageHex: bytesToHex(digest),
      messageHash: sha256Hex(digest),
      signers: ['p1', 'p2'],
      deadlineMs: Date.now() + 30_000,
      remainingMs: 30_000,
      boxKeys: { p1: bytesToHex(me.boxPublic), p2: bytesToHex(peer.boxPublic) },
      ...over,
    };
    session += 1;
    const before = h.received.length;
    h.send({
      kind: 'sign-start',
      sessionId: `s_box_${session}`,
      attempt: 1,
      token: 1,
      round: 0,
      body: { ...body },
    });
    return nextAnswer(h.received, before);
  };
  const refusal = (e: Envelope | undefined) => {
    assert.equal(e?.kind, 'refuse', JSON.stringify(e?.body));
    const r = validateRefuse(e.body);
    assert.ok(r.ok);
    return r.value;
  };

  test('no certificate for a peer: refused softly, naming it', async () => {
    const r = refusal(await ask({}));
    assert.equal(r.code, 'QUORATE_E_UNTRUSTED_PEER');
    assert.match(r.reason, /no operator certificate for p2/);
    assert.equal(r.hard, false, 'not this party’s fault');
  });

  test('a box key its certificate does not name (the coordinator’s own): refused softly', async () => {
    const rogue = generateIdentity(testRng(64));
    const r = refusal(
      await ask({
        boxKeys: { p1: bytesToHex(me.boxPublic), p2: bytesToHex(rogue.boxPublic) },
        certificates: { p2: certify('p2', peer) },
      }),
    );
    assert.equal(r.code, 'QUORATE_E_UNTRUSTED_PEER');
    assert.match(r.reason, /another box key/);
    assert.equal(r.hard, false);
  });

  test('the certified box key: the party signs (its round-1 messages leave)', async () => {
    const answer = await ask({ certificates: { p2: certify('p2', peer) } });
    assert.equal(answer?.kind, 'protocol', JSON.stringify(answer?.body));
    assert.equal(answer?.round, 1);
  });

  test('a selector without a transaction: refused, it can only be a claim', async () => {
    const r = refusal(
      await ask({
        certificates: { p2: certify('p2', peer) },
        policy: {
          tier: 't',
          policyHash: '00'.repeat(32),
          context: { selector: '0xa9059cbb' },
          approvals: [],
        },
      }),
    );
    assert.equal(r.code, 'QUORATE_E_TX_CONTEXT_MISMATCH');
  });
});
