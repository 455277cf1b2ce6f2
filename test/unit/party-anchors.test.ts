/**
 * The party's side of the anchors that replace trust on first use (issue 12 finding 6 and
 * deliverable 3): a coordinator key given by the operator is required from the first contact on,
 * the hello carries the party's certificate, and a one-time enrolment token keys the enrolment MAC
 * through SHA-256 (the coordinator keeps only that derived key).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { realEnv } from '../../src/core/env.ts';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { coordinatorKeyMeta, PartyRuntime } from '../../src/party/runtime.ts';
import { issueCertificate } from '../../src/transport/certificate.ts';
import { generateIdentity } from '../../src/transport/identity.ts';
import { helloTranscript, validateHello, type HelloFrame } from '../../src/transport/wire.ts';
import { handshake, plainSealer, testRng } from '../helpers/party-harness.ts';

const env = realEnv({ logLevel: 'silent' });

function dial(options: Partial<ConstructorParameters<typeof PartyRuntime>[0]>) {
  const identity = options.identity ?? generateIdentity(testRng(64));
  const journal = new MemoryJournal(env.nowMs());
  const party = new PartyRuntime({
    partyId: 'mobile',
    env,
    journal,
    sealer: plainSealer,
    identity,
    ...options,
  });
  const hellos: HelloFrame[] = [];
  const { partySide, challenge } = handshake(party, 'mobile', (frame) => {
    const hello = validateHello(frame);
    if (hello.ok) hellos.push(hello.value);
  });
  return { party, journal, partySide, hellos, challenge };
}

test('a party given the coordinator key refuses another coordinator on first contact', () => {
  const expected = bytesToHex(generateIdentity(testRng(64)).signPublic);
  const run = dial({ coordinatorKey: expected });
  assert.equal(run.partySide.isOpen, false, 'connection closed');
  assert.equal(run.partySide.closeReason, 'coordinator key mismatch');
  assert.equal(run.journal.getMeta(coordinatorKeyMeta), undefined, 'nothing pinned');
  run.party.close();
});

test('without a given key the first coordinator is pinned (trust on first use, as before)', () => {
  const run = dial({});
  assert.equal(run.partySide.isOpen, true);
  assert.equal(run.journal.getMeta(coordinatorKeyMeta), run.challenge.coordinatorKey);
  run.party.close();
});

test('the hello carries the certificate and an enrolment MAC keyed by SHA-256 of the token', () => {
  const operator = generateIdentity(testRng(64));
  const identity = generateIdentity(testRng(64));
  const certificate = issueCertificate(
    operator.signSecret,
    operator.signPublic,
    {
      partyId: 'mobile',
      identityKey: bytesToHex(identity.signPublic),
      boxKey: bytesToHex(identity.boxPublic),
    },
    0,
  );
  const token = 'qpe_' + bytesToHex(testRng(32));
  const run = dial({
    identity,
    enrolToken: token,
    partySecret: 'a legacy shared secret that must not be used here',
    trust: { operatorKey: operator.signPublic, certificate },
  });
  const hello = run.hellos[0];
  assert.ok(hello, 'hello sent');
  assert.deepEqual(hello.certificate, certificate);
  const transcript = helloTranscript({ ...run.challenge, ...hello });
  const expected = bytesToHex(hmac(sha256, sha256(utf8ToBytes(token)), transcript));
  assert.equal(hello.enrollMac, expected, 'the token, not the shared secret, keys the MAC');
  run.party.close();
});
