/**
 * The party's protocol driver: the one-time-secret order (I2) for every engine, asynchronous
 * engines (a step pending while a discard or a newer attempt arrives), and an engine of more
 * than two rounds whose party-to-party message is sealed to its recipient.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../../src/core/encoding.ts';
import { MemoryJournal, type JournalOp } from '../../src/party/journal-memory.ts';
import { SecretLedger } from '../../src/party/secret-ledger.ts';
import {
  coordinatorRole,
  type KeyShare,
  type PartyEngine,
  type PartySignerRole,
  type ProtocolMessage,
  type ProtocolStep,
  type SignerResult,
} from '../../src/protocol/engine.ts';
import { engines } from '../../src/protocol/frost.ts';
import { runKeygen } from '../../src/protocol/local-run.ts';
import { boxPublicKey, createSealer } from '../../src/protocol/sealed-box.ts';
import {
  buildDiscard,
  buildProtocol,
  buildSignStart,
  validateRefuse,
  type Addressing,
  type Envelope,
} from '../../src/transport/wire.ts';
import { connectedParty, testRng as rng, type PartyHarness } from '../helpers/party-harness.ts';

const walletId = 'w_00000000000000000000000a';
const message = utf8ToBytes('pay 10 to bob');
const keys = runKeygen('ed25519', ['p1', 'p2'], 2, rng).map((k) => ({ ...k, walletId }));
const shareOf = (partyId: string): KeyShare => keys.find((k) => k.partyId === partyId)!;

/** A sign-start for attempt `at` of a 2-of-2 signing of `message` by p1 and p2. */
function signStart(at: Addressing, boxKeys?: Record<string, string>) {
  return buildSignStart(at, {
    walletId,
    intentKey: at.sessionId,
    messageHex: bytesToHex(message),
    messageHash: sha256Hex(message),
    signers: ['p1', 'p2'],
    deadlineMs: Date.now() + 30_000,
    remainingMs: 30_000,
    ...(boxKeys === undefined ? {} : { boxKeys }),
  });
}

/** The coordinator's round-2 payload for p1: the real aggregator with a real p2 signer. */
function round2For(p1Commitment: Envelope) {
  const aggregator = engines.ed25519.aggregator({
    publicPackage: keys[0]!.publicPackage,
    message,
    signers: ['p1', 'p2'],
  });
  aggregator.start();
  const p2 = engines.ed25519.signer({
    key: shareOf('p2'),
    message,
    signers: ['p1', 'p2'],
    rng,
    sealer: createSealer({
      context: 't',
      self: 'p2',
      boxSecret: rng(32),
      peerBoxKeys: {},
      randomBytes: rng,
    }),
  });
  aggregator.handle({ from: 'p1', to: coordinatorRole, round: 1, payload: p1Commitment.body });
  const p2Commitment = p2.start().outgoing[0]!;
  const step = aggregator.handle(p2Commitment);
  const toP1 = step.outgoing.find((m) => m.to === 'p1');
  assert.ok(toP1, 'the aggregator sends round 2 to p1');
  return { aggregator, payload: toP1.payload };
}

const opsOf = (h: PartyHarness, op: 'record' | 'consume') =>
  h.journal
    .ops()
    .flatMap((o) => (o.op === op ? [o] : []))
    .filter((o): o is Extract<JournalOp, { op: 'record' | 'consume' }> => 'commitment' in o);
const refusalCode = (e: Envelope | undefined) => {
  const body = validateRefuse(e?.body);
  return body.ok ? body.value.code : undefined;
};

describe('FROST through the driver keeps the I2 order', () => {
  const h = connectedParty('p1', [shareOf('p1')]);
  after(() => h.close());

  test('recorded before round 1 leaves, consumed before the share leaves; the share is valid', () => {
    const at = { sessionId: 's_frost', attempt: 1, token: 1 };
    const [commit] = h.send(signStart(at));
    assert.equal(commit?.kind, 'protocol');
    assert.equal(commit.round, 1);
    const record = opsOf(h, 'record');
    assert.equal(record.length, 1, 'one secret recorded');
    const id = `${String(commit.body['hiding'])}${String(commit.body['binding'])}`;
    assert.equal(record[0]?.commitment, id, 'named by its commitment');
    const { aggregator, payload } = round2For(commit);
    const [share] = h.send(buildProtocol(at, 2, payload));
    assert.equal(share?.kind, 'protocol');
    assert.equal(share.round, 2);
    const consume = opsOf(h, 'consume');
    assert.equal(consume.length, 1);
    assert.equal(consume[0]?.ok, true, 'consumed durably');
    const step = aggregator.handle({
      from: 'p1',
      to: coordinatorRole,
      round: 2,
      payload: share.body,
    });
    assert.equal(step.kind, 'continue', 'the share verifies (the aggregator waits for p2)');
    assert.equal(h.party.activeSessions, 0);
  });

  test('a consume the journal refuses wipes the role and refuses: no share leaves', () => {
    const at = { sessionId: 's_void', attempt: 1, token: 1 };
    const [commit] = h.send(signStart(at));
    assert.ok(commit);
    // The ledger entry is closed under the role (as a restart's void or a discard would).
    h.journal.discardNonces(at.sessionId, Date.now());
    const { payload } = round2For(commit);
    const [answer] = h.send(buildProtocol(at, 2, payload));
    assert.equal(answer?.kind, 'refuse');
    assert.equal(refusalCode(answer), 'QUORATE_E_PARTY_REFUSED');
    assert.equal(h.party.activeSessions, 0, 'the role is gone');
  });
});

/** A gate that holds each round-2 step of a wrapped FROST signer until released. */
interface Gate {
  pending: (() => void)[];
  released: number;
}

/** FROST with an asynchronous round 2 (as an HSM or a remote signer would answer). */
function slowRound2Engine(gate: Gate): PartyEngine {
  const base = engines.ed25519;
  return {
    scheme: 'ed25519',
    keygenParticipant: (args) => base.keygenParticipant(args),
    signer: (args): PartySignerRole => {
      const role = base.signer(args);
      return {
        start: () => role.start(),
        handle: (m) =>
          new Promise<ProtocolStep<SignerResult>>((resolve) => {
            gate.pending.push(() => {
              gate.released += 1;
              resolve(role.handle(m));
            });
          }),
        wipe: () => role.wipe(),
        oneTimeSecret: () => role.oneTimeSecret(),
      };
    },
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('an asynchronous engine', () => {
  const gate: Gate = { pending: [], released: 0 };
  const h = connectedParty('p1', [shareOf('p1')], { engines: { ed25519: slowRound2Engine(gate) } });
  after(() => h.close());

  test('the secret is consumed before the pending step runs; its share leaves when it ends', async () => {
    const at = { sessionId: 's_async', attempt: 1, token: 1 };
    const [commit] = h.send(signStart(at));
    assert.ok(commit);
    const { payload } = round2For(commit);
    assert.deepEqual(h.send(buildProtocol(at, 2, payload)), [], 'nothing leaves while pending');
    assert.equal(opsOf(h, 'consume').length, 1, 'consumed before the step runs');
    gate.pending.shift()?.();
    await flush();
    const share = h.received.at(-1);
    assert.equal(share?.kind, 'protocol');
    assert.equal(share.round, 2);
    assert.equal(h.party.activeSessions, 0);
  });

  test('a discard while the step is pending: nothing stale leaves, the secret is not reused', async () => {
    const at = { sessionId: 's_discard', attempt: 1, token: 1 };
    const [commit] = h.send(signStart(at));
    assert.ok(commit);
    const { payload } = round2For(commit);
    h.send(buildProtocol(at, 2, payload));
    const sentBefore = h.received.length;
    h.send(buildDiscard(at, 'attempt aborted'));
    assert.equal(h.party.activeSessions, 0, 'dropped at once');
    gate.pending.shift()?.();
    await flush();
    assert.equal(h.received.length, sentBefore, 'the pending share never leaves');
    const consumes = opsOf(h, 'consume').filter((o) => o.sessionId === at.sessionId);
    assert.equal(consumes.length, 1, 'consumed once, never again');
  });

  test('a newer attempt while a step is pending: only the newer attempt speaks', async () => {
    const first = { sessionId: 's_newer', attempt: 1, token: 1 };
    const [commit1] = h.send(signStart(first));
    assert.ok(commit1);
    h.send(buildProtocol(first, 2, round2For(commit1).payload));
    const second = { sessionId: 's_newer', attempt: 2, token: 2 };
    const [commit2] = h.send(signStart(second));
    assert.equal(commit2?.attempt, 2);
    assert.notDeepEqual(commit2.body, commit1.body, 'a fresh secret for the newer attempt');
    gate.pending.shift()?.();
    await flush();
    assert.ok(
      h.received.every((e) => !(e.sessionId === 's_newer' && e.attempt === 1 && e.round === 2)),
      'no share of the superseded attempt leaves',
    );
    h.send(buildProtocol(second, 2, round2For(commit2).payload));
    gate.pending.shift()?.();
    await flush();
    const last = h.received.at(-1);
    assert.equal(last?.attempt, 2);
    assert.equal(last.round, 2);
  });

  test('messages arriving while a step is pending wait their turn', async () => {
    const at = { sessionId: 's_queue', attempt: 1, token: 1 };
    const [commit] = h.send(signStart(at));
    assert.ok(commit);
    const { payload } = round2For(commit);
    h.send(buildProtocol(at, 2, payload));
    // A second round-2 message is queued, not run beside the pending one.
    assert.deepEqual(h.send(buildProtocol(at, 2, payload)), []);
    assert.equal(gate.pending.length, 1, 'one step at a time');
    gate.pending.shift()?.();
    await flush();
    assert.equal(h.received.at(-1)?.round, 2, 'the share left');
    // The queued duplicate then finds the session finished: it is dropped with it.
    assert.equal(gate.pending.length, 0);
    assert.equal(opsOf(h, 'consume').filter((o) => o.sessionId === at.sessionId).length, 1);
  });
});

/**
 * A three-round test engine: round 1 announces, round 2 seals a note to the other signer
 * (relayed by the coordinator, who cannot read it), round 3 opens the peer's note and spends
 * the one-time secret. It proves the driver assumes neither two rounds nor FROST's payloads.
 */
function threeRoundEngine(): PartyEngine {
  return {
    scheme: 'ed25519',
    keygenParticipant: (args) => engines.ed25519.keygenParticipant(args),
    signer: (args): PartySignerRole => {
      const self = args.key.partyId;
      const peer = args.signers.find((p) => p !== self)!;
      const secret = bytesToHex(args.rng(16));
      const to = (round: number, payload: Record<string, unknown>): ProtocolMessage => ({
        from: self,
        to: coordinatorRole,
        round,
        payload,
      });
      let wiped = false;
      return {
        start: () => ({ kind: 'continue', outgoing: [to(1, { hello: self })] }),
        handle: (m) => {
          if (m.round === 2)
            return {
              kind: 'continue',
              outgoing: [
                to(2, { sealed: args.sealer.seal(peer, utf8ToBytes(`note from ${self}`)) }),
              ],
            };
          const opened = args.sealer.open(peer, String(m.payload['sealed']));
          return {
            kind: 'done',
            outgoing: [to(3, { read: new TextDecoder().decode(opened), wiped })],
            result: { commitment: secret },
          };
        },
        wipe: () => {
          wiped = true;
        },
        oneTimeSecret: () => ({ id: `tre-${secret}`, spentAtRound: 3 }),
      };
    },
  };
}

describe('an engine of three rounds with a sealed party-to-party message', () => {
  const h = connectedParty('p1', [shareOf('p1')], { engines: { ed25519: threeRoundEngine() } });
  after(() => h.close());

  test('every round runs; the secret is consumed only at its spending round', () => {
    const p2Box = rng(32);
    const partyBoxKey = bytesToHex(h.boxPublicKey);
    const boxKeys = { p1: partyBoxKey, p2: bytesToHex(boxPublicKey(p2Box)) };
    const at = { sessionId: 's_three', attempt: 1, token: 1 };
    const [r1] = h.send(signStart(at, boxKeys));
    assert.equal(r1?.round, 1);
    const recorded = opsOf(h, 'record').filter((o) => o.sessionId === at.sessionId);
    assert.equal(recorded.length, 1, 'its secret was recorded before round 1 left');
    const [r2] = h.send(buildProtocol(at, 2, {}));
    assert.equal(r2?.round, 2);
    assert.equal(opsOf(h, 'consume').length, 0, 'not spent before its round');
    // p2's side of the box: it reads p1's note and seals its own back (relayed unread).
    const p2Sealer = createSealer({
      context: `${walletId}|${at.sessionId}|${at.attempt}`,
      self: 'p2',
      boxSecret: p2Box,
      peerBoxKeys: boxKeys,
      randomBytes: rng,
    });
    assert.equal(
      new TextDecoder().decode(p2Sealer.open('p1', String(r2.body['sealed']))),
      'note from p1',
    );
    const [r3] = h.send(
      buildProtocol(at, 3, { sealed: p2Sealer.seal('p1', utf8ToBytes('note from p2')) }),
    );
    assert.equal(r3?.round, 3);
    assert.equal(r3.body['read'], 'note from p2');
    const consume = opsOf(h, 'consume');
    assert.equal(consume.length, 1);
    assert.equal(consume[0]?.ok, true);
    assert.equal(h.party.activeSessions, 0);
  });
});

describe('a finished role has spent every secret it recorded', () => {
  test('a secret still issued when the role finishes is an assertion failure', () => {
    const journal = new MemoryJournal(0);
    const ledger = new SecretLedger(journal, { sessionId: 's', attempt: 1, token: 1 }, () => 1);
    const secret = { id: 'ab'.repeat(32), spentAtRound: 3 };
    assert.equal(ledger.recordHeld(secret), true);
    // An engine that names the wrong spending round uses the secret in a step the ledger never
    // saw as the spending one: the secret is still issued when the role finishes.
    assert.throws(() => ledger.assertAllSpent(), /I2: a finished role consumed every/);
    assert.equal(ledger.consume(secret), true);
    ledger.assertAllSpent();
  });
});
