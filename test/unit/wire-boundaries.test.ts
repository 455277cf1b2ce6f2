/**
 * A frame that fails validation closes its connection with a code and never throws into the
 * process, on both ends: the party's link handler and the coordinator registry's handshake and
 * frames. Each test shows the bad connection closed and another connection still served, on the
 * party before and after the welcome.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bytesToHex } from '@noble/hashes/utils.js';
import { realEnv, type Env, type Log } from '../../src/core/env.ts';
import { PartyRegistry, defaultDetectorOptions } from '../../src/coordinator/party-registry.ts';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { PartyRuntime } from '../../src/party/runtime.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { generateIdentity } from '../../src/transport/identity.ts';
import {
  buildChallenge,
  buildEnvelopeFrame,
  buildPing,
  validateHello,
  validateReject,
} from '../../src/transport/wire.ts';
import { partyUnderTest, type HostileConnection } from '../helpers/hostile-ends.ts';
import { linkPair, type TestLink } from '../helpers/link-pair.ts';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const partySecret = 'test-party-secret';

/** An Env whose log lines are kept for assertions. */
function recordingEnv(lines: string[]): Env {
  const log: Log = {
    debug: () => {},
    info: () => {},
    warn: (_fields, msg) => lines.push(msg),
    error: (_fields, msg) => lines.push(msg),
    child: () => log,
  };
  return { ...realEnv({ logLevel: 'silent' }), log };
}

/** Fails the test if anything reaches the process as an unhandled rejection. */
function watchUnhandled(): { rejections: unknown[]; stop: () => void } {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  return { rejections, stop: () => process.off('unhandledRejection', onRejection) };
}

/** Lets pending promise callbacks and store calls run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

function newParty(env: Env, partyId: string): PartyRuntime {
  return new PartyRuntime({
    partyId,
    env,
    journal: new MemoryJournal(env.nowMs()),
    sealer: { seal: (_l, p) => bytesToHex(p), open: (_l, s) => Buffer.from(s, 'hex') },
    identity: generateIdentity(rng(64)),
    partySecret,
  });
}

describe('the party closes a connection whose frame fails validation', () => {
  const lines: string[] = [];
  const env = recordingEnv(lines);
  const party = newParty(env, 'p1');
  after(() => party.close());

  /** A fresh connection to the party; returns the coordinator's end and what it received. */
  function connect(): { coord: TestLink; received: unknown[] } {
    const [partySide, coord] = linkPair();
    const received: unknown[] = [];
    coord.onFrame((frame) => received.push(frame));
    party.attach(partySide);
    return { coord, received };
  }

  const challenge = () =>
    buildChallenge({
      conn: bytesToHex(rng(12)),
      nonce: bytesToHex(rng(16)),
      coordinatorKey: bytesToHex(generateIdentity(rng(64)).signPublic),
      heartbeatMs: 1_000,
    });

  test('a first frame that is JSON null closes that connection; the next one is served', () => {
    const bad = connect();
    assert.doesNotThrow(() => bad.coord.send(null));
    assert.equal(bad.coord.isOpen, false, 'the bad connection is closed');
    assert.match(bad.coord.closeReason ?? '', /QUORATE_E_BAD_ENVELOPE/);
    assert.ok(lines.includes('invalid frame'), 'a log line says why');
    const good = connect();
    good.coord.send(challenge());
    assert.equal(good.coord.isOpen, true);
    assert.equal(good.received.length, 1);
    assert.equal(validateHello(good.received[0]).ok, true, 'the party answers with a hello');
  });

  test('a challenge with a key that is not hex, or an envelope before the handshake, closes', () => {
    for (const frame of [
      { ...challenge(), coordinatorKey: ['ab'.repeat(32)] },
      { ...challenge(), conn: { toString: 'x' } },
      { t: 'env', e: null },
      { t: 'welcome', conn: 'c', proof: 'zz' },
      [1, 2, 3],
      'hello',
    ]) {
      const c = connect();
      assert.doesNotThrow(() => c.coord.send(frame));
      assert.equal(c.coord.isOpen, false, JSON.stringify(frame));
    }
    const good = connect();
    good.coord.send(challenge());
    assert.equal(validateHello(good.received[0]).ok, true);
  });
});

describe('the coordinator registry closes a connection whose frame fails validation', () => {
  const lines: string[] = [];
  const env = recordingEnv(lines);
  const coordinatorIdentity = generateIdentity(rng(64));
  const registry = new PartyRegistry(
    env,
    new MemoryStore(),
    coordinatorIdentity,
    partySecret,
    defaultDetectorOptions,
    { onEnvelope: () => {}, onDisconnect: () => {}, onStateChange: () => {} },
  );
  const parties: PartyRuntime[] = [];
  after(() => {
    registry.stop();
    for (const p of parties) p.close();
  });

  /** A fresh connection to the registry; returns the party's end and what it received. */
  function connect(): { partyEnd: TestLink; received: unknown[] } {
    const [coordSide, partyEnd] = linkPair();
    const received: unknown[] = [];
    partyEnd.onFrame((frame) => received.push(frame));
    registry.accept(coordSide);
    return { partyEnd, received };
  }

  /** A real party enrols over a fresh connection: the registry still serves. */
  async function enrolGoodParty(partyId: string): Promise<void> {
    const party = newParty(env, partyId);
    parties.push(party);
    const [coordSide, partySide] = linkPair();
    party.attach(partySide);
    registry.accept(coordSide);
    await settle();
    assert.equal(registry.isConnected(partyId), true, `${partyId} enrolled`);
  }

  test('a first frame that is JSON null closes that connection with a reject', async () => {
    const bad = connect();
    assert.doesNotThrow(() => bad.partyEnd.send(null));
    assert.equal(bad.partyEnd.isOpen, false);
    const reject = validateReject(bad.received[1]);
    assert.ok(reject.ok, 'a reject frame follows the challenge');
    assert.equal(reject.value.code, 'QUORATE_E_ENROLLMENT_DENIED');
    await enrolGoodParty('good-1');
  });

  test('a hello whose identityKey is a one-element array closes that connection', async () => {
    const unhandled = watchUnhandled();
    try {
      const bad = connect();
      bad.partyEnd.send({
        t: 'hello',
        partyId: 'mallory',
        identityKey: ['ab'.repeat(32)],
        boxKey: 'cd'.repeat(32),
        proof: 'ef'.repeat(64),
        enrollMac: '01'.repeat(32),
      });
      await settle();
      assert.equal(bad.partyEnd.isOpen, false, 'closed');
      const reject = validateReject(bad.received[1]);
      assert.ok(reject.ok);
      assert.equal(reject.value.message, 'invalid keys');
      assert.deepEqual(unhandled.rejections, [], 'nothing reached the process');
      assert.ok(lines.includes('enrolment denied'), 'a log line says why');
      await enrolGoodParty('good-2');
    } finally {
      unhandled.stop();
    }
  });

  test('after enrolment, a malformed envelope frame closes only that connection', async () => {
    const party = newParty(env, 'good-3');
    parties.push(party);
    const [coordSide, partySide] = linkPair();
    party.attach(partySide);
    registry.accept(coordSide);
    await settle();
    assert.equal(registry.isConnected('good-3'), true);
    assert.doesNotThrow(() => partySide.send({ t: 'env', e: { v: 1, kind: 'refuse' } }));
    assert.equal(partySide.isOpen, false);
    assert.equal(registry.isConnected('good-3'), false);
    assert.equal(registry.isConnected('good-1'), true, 'other parties stay connected');
  });
});

describe('after the welcome, the party still closes only the connection a bad frame came on', () => {
  const end = partyUnderTest('p-welcomed', []);
  after(() => end.close());

  /** A connection past the welcome, and the frames the party answered on it. */
  function welcomed(): { conn: HostileConnection; answers: unknown[] } {
    const conn = end.connect('after-welcome');
    const answers: unknown[] = [];
    conn.link.onFrame((frame) => answers.push(frame));
    return { conn, answers };
  }

  const ping = (conn: HostileConnection) => buildEnvelopeFrame(conn.sender!.build(buildPing()));

  test('a forged envelope is dropped and the connection stays; a malformed one closes it', () => {
    const { conn, answers } = welcomed();
    const other = welcomed();
    const forged = { ...conn.sender!.build(buildPing()), sig: 'ab'.repeat(64) };
    assert.doesNotThrow(() => conn.link.send(buildEnvelopeFrame(forged)));
    assert.equal(conn.link.isOpen, true, 'a forgery is dropped, as a replay would be');
    assert.equal(answers.length, 0, 'and never answered');
    conn.link.send(ping(conn));
    assert.equal(answers.length, 1, 'the connection is still served');
    for (const bad of [null, { t: 'env', e: { v: 1, kind: 'sign-start', sessionId: [] } }]) {
      const c = welcomed();
      assert.doesNotThrow(() => c.conn.link.send(bad));
      assert.equal(c.conn.link.isOpen, false, JSON.stringify(bad));
    }
    other.conn.link.send(ping(other.conn));
    assert.equal(other.answers.length, 1, 'another connection is untouched');
  });

  test('a second challenge or a second welcome on a live connection closes it', () => {
    for (const again of [
      buildChallenge({
        conn: 'c2',
        nonce: 'n2',
        coordinatorKey: bytesToHex(generateIdentity(rng(64)).signPublic),
      }),
      { t: 'welcome', conn: 'c2', proof: 'ab'.repeat(64) },
    ]) {
      const { conn } = welcomed();
      assert.doesNotThrow(() => conn.link.send(again));
      assert.equal(conn.link.isOpen, false, again.t);
    }
  });
});
