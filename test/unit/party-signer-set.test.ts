/**
 * Finding 10 of the adversarial review: a party asked to sign with a signer set that names a
 * party twice (`[self, self]`, which the old subset and threshold checks let through) must
 * refuse it with QUORATE_E_BAD_ENVELOPE before any one-time secret is drawn: no ledger entry,
 * no round-1 commitment, no session held. Two layers refuse it, and each is tested on its own:
 * the wire contract (the sign-start body's party list) for the running party, and signing.ts
 * itself (hard), for a body that reached it some other way. A set without duplicates still
 * signs, so the double can tell the two apart.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../../src/core/encoding.ts';
import { realEnv } from '../../src/core/env.ts';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { KeyShares } from '../../src/party/key-shares.ts';
import { Refusal } from '../../src/party/refusal.ts';
import { openSigning } from '../../src/party/signing.ts';
import { engines } from '../../src/protocol/frost.ts';
import { runKeygen } from '../../src/protocol/local-run.ts';
import { generateIdentity } from '../../src/transport/identity.ts';
import {
  buildSignStart,
  validateRefuse,
  type Envelope,
  type SignStartBody,
} from '../../src/transport/wire.ts';
import { connectedParty, plainSealer, testRng as rng } from '../helpers/party-harness.ts';

const walletId = 'w_00000000000000000000000c';
const message = utf8ToBytes('pay 3 to dave');
const members = ['mobile', 'backend', 'guardian'];
const keys = runKeygen('ed25519', members, 2, rng).map((k) => ({ ...k, walletId }));
const mobileShare = keys.find((k) => k.partyId === 'mobile')!;

const duplicated = [
  ['mobile', 'mobile'],
  ['mobile', 'backend', 'mobile'],
  ['backend', 'mobile', 'backend'],
];

/** A sign-start body for `sessionId` naming `signers`. */
const bodyFor = (sessionId: string, signers: string[]): SignStartBody => ({
  walletId,
  intentKey: sessionId,
  messageHex: bytesToHex(message),
  messageHash: sha256Hex(message),
  signers,
  deadlineMs: Date.now() + 30_000,
  remainingMs: 30_000,
});

/** A sign-start for `sessionId` (attempt 1, token 1) naming `signers`. */
const signStart = (sessionId: string, signers: string[]) =>
  buildSignStart({ sessionId, attempt: 1, token: 1 }, bodyFor(sessionId, signers));

const refusalOf = (e: Envelope | undefined) => {
  const body = validateRefuse(e?.body);
  return body.ok ? body.value : undefined;
};

describe('a running party refuses a signer set that names a party twice', () => {
  const h = connectedParty('mobile', [mobileShare]);
  after(() => h.close());

  for (const signers of duplicated) {
    test(`${JSON.stringify(signers)}: refused, no one-time secret drawn`, () => {
      const sessionId = `s_dup_${signers.join('_')}`;
      const replies = h.send(signStart(sessionId, signers));
      assert.equal(replies.length, 1, 'exactly one answer');
      const [reply] = replies;
      assert.equal(reply?.kind, 'refuse', 'a refusal, not a round-1 commitment');
      const refusal = refusalOf(reply);
      assert.equal(refusal?.code, 'QUORATE_E_BAD_ENVELOPE');
      assert.deepEqual(
        h.journal.nonces().filter((n) => n.sessionId === sessionId),
        [],
        'no one-time secret in the ledger',
      );
      assert.equal(h.party.activeSessions, 0, 'no session held');
    });
  }

  test('no refused set drew a secret; a set without duplicates commits (the double can tell)', () => {
    assert.equal(h.journal.countIssued(), 0);
    assert.equal(h.journal.nonces().length, 0);
    const [reply] = h.send(signStart('s_ok', ['mobile', 'backend']));
    assert.equal(reply?.kind, 'protocol', JSON.stringify(reply?.body));
    assert.equal(reply.round, 1);
    assert.equal(h.journal.nonces().length, 1, 'one secret for the valid request');
  });
});

describe('signing.ts refuses a duplicated signer set on its own (defence in depth)', () => {
  const env = realEnv({ logLevel: 'silent' });
  const journal = new MemoryJournal(env.nowMs());
  journal.putSealedShare(walletId, plainSealer.seal('', utf8ToBytes(JSON.stringify(mobileShare))));
  /** How many signer roles (each draws a one-time secret when started) were created. */
  let rolesCreated = 0;
  const deps = {
    partyId: 'mobile',
    env,
    journal,
    identity: generateIdentity(rng(64)),
    policy: undefined,
    engines: {
      ...engines,
      ed25519: {
        ...engines.ed25519,
        signer: (args: Parameters<typeof engines.ed25519.signer>[0]) => {
          rolesCreated += 1;
          return engines.ed25519.signer(args);
        },
      },
    },
    shares: new KeyShares(journal, plainSealer),
    drop: () => {},
  };
  const envelopeFor = (sessionId: string, body: SignStartBody) => {
    const e = buildSignStart({ sessionId, attempt: 1, token: 1 }, body);
    return { ...e, v: 1 as const, from: 'coordinator', to: 'mobile', conn: 'c', seq: 1, sig: '' };
  };

  for (const signers of duplicated) {
    test(`${JSON.stringify(signers)}: a hard BAD_ENVELOPE before any signer role exists`, () => {
      const sessionId = `s_direct_${signers.join('_')}`;
      const body = bodyFor(sessionId, signers);
      assert.throws(
        () => openSigning(deps, envelopeFor(sessionId, body), body, undefined),
        (error: unknown) =>
          error instanceof Refusal &&
          error.code === 'QUORATE_E_BAD_ENVELOPE' &&
          error.hard &&
          /twice/.test(error.message),
      );
      assert.equal(rolesCreated, 0, 'no signer role, so no one-time secret');
      assert.equal(journal.nonces().length, 0);
    });
  }

  test('the same deps open a set without duplicates (the check is what refused)', () => {
    const body = bodyFor('s_direct_ok', ['mobile', 'guardian']);
    const spec = openSigning(deps, envelopeFor('s_direct_ok', body), body, undefined);
    assert.equal(rolesCreated, 1);
    spec.role.wipe();
    spec.cancelTtl();
  });
});
