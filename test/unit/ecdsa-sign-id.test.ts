/**
 * Regression (security review of issue 14, finding 1): DKLs23's multiplication pads depend only
 * on the parties' long-term seeds and the engine's sign id, so a party that runs signing phase 2
 * twice under one sign id lets its peer solve for its key share. A coordinator could get that by
 * sending the same sign-start (same session, attempt and token) twice. The party's journal now
 * records the sign id as the run's one-time secret: the second run is refused before any of its
 * output leaves, and the refusal survives a restart (the ledger is durable).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { sha256Hex } from '../../src/core/encoding.ts';
import { ecdsaPartyEngine } from '../../src/protocol/ecdsa.ts';
import { boxPublicKey } from '../../src/protocol/sealed-box.ts';
import type { Envelope, SignStartBody } from '../../src/transport/wire.ts';
import { ecdsaFixture, seededEcdsaEngine } from '../helpers/ecdsa.ts';
import { connectedParty, testRng } from '../helpers/party-harness.ts';

/** Waits until `received` has grown past `from` (the ecdsa roles answer asynchronously). */
async function nextAnswer(received: Envelope[], from: number): Promise<Envelope | undefined> {
  for (let i = 0; i < 200 && received.length <= from; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  return received[from];
}

describe('an ecdsa sign id is used once per party', async () => {
  const fixture = ecdsaFixture(2, 3);
  const key = fixture.keys.find((k) => k.partyId === 'p1')!;
  const { engine } = await seededEcdsaEngine(21, 'sign-id');
  const h = connectedParty('p1', [key], { engines: { ecdsa: engine } });
  after(() => h.close());
  const digest = sha256(new TextEncoder().encode('pay once'));
  const body: SignStartBody = {
    walletId: key.walletId,
    intentKey: 'once',
    messageHex: bytesToHex(digest),
    messageHash: sha256Hex(digest),
    signers: ['p1', 'p2'],
    deadlineMs: Date.now() + 30_000,
    remainingMs: 30_000,
    boxKeys: {
      p1: bytesToHex(h.boxPublicKey),
      p2: bytesToHex(boxPublicKey(testRng(32))),
    },
  };
  const at = { sessionId: 's_sign_id_once', attempt: 1, token: 1 };

  test('the same sign-start twice: the second run is refused, nothing of it leaves', async () => {
    h.send({ kind: 'sign-start', ...at, round: 0, body: { ...body } });
    const first = await nextAnswer(h.received, 0);
    assert.equal(first?.kind, 'protocol', JSON.stringify(first?.body));
    const recorded = h.journal.nonces().filter((n) => n.sessionId === at.sessionId);
    assert.equal(recorded.length, 1);
    assert.match(recorded[0]!.commitment, /^dkls23-sign:[0-9a-f]{64}:[a-z0-9-]+$/);
    const before = h.received.length;
    h.send({ kind: 'sign-start', ...at, round: 0, body: { ...body } });
    const second = await nextAnswer(h.received, before);
    assert.equal(second?.kind, 'refuse', JSON.stringify(second?.body));
    assert.match(String(second?.body['reason']), /already recorded/);
    assert.equal(
      h.received.slice(before).filter((e) => e.kind === 'protocol').length,
      0,
      'no phase-1 message of the second run',
    );
  });

  test('a newer token is a new sign id, and runs', async () => {
    const before = h.received.length;
    h.send({ kind: 'sign-start', ...at, token: 2, round: 0, body: { ...body } });
    const answer = await nextAnswer(h.received, before);
    assert.equal(answer?.kind, 'protocol', JSON.stringify(answer?.body));
  });
});

void ecdsaPartyEngine;
