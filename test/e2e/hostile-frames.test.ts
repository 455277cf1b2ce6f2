/**
 * Finding 1 of the adversarial review, on real processes (bin/quorate.js, loopback): nothing a
 * stranger sends crashes a process. A raw WebSocket client sends the coordinator's party
 * endpoint `null` as its first frame, a hello whose identityKey is a one-element array, and
 * garbage, binary, invalid UTF-8, deeply nested and oversized frames; after each, the
 * coordinator process is alive, answers /healthz and challenges a new connection, and at the
 * end real parties connect and sign. A real `quorate party` process dials a fake coordinator
 * that sends it `null`, a challenge with bad fields, a welcome before any challenge, envelope
 * frames with bogus envelopes (before and after a complete handshake) and broken frames: the
 * party closes each connection, stays alive and dials again, and still completes a handshake.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bytesToHex } from '@noble/hashes/utils.js';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { limits } from '../../src/core/limits.ts';
import { coordinatorRole } from '../../src/protocol/engine.ts';
import { EnvelopeSender } from '../../src/transport/envelope.ts';
import { generateIdentity, signDetached } from '../../src/transport/identity.ts';
import { partyWsPath } from '../../src/transport/link.ts';
import {
  buildChallenge,
  buildEnvelopeFrame,
  buildPing,
  buildWelcome,
  welcomeDomain,
  welcomeTranscript,
} from '../../src/transport/wire.ts';
import {
  dialRaw,
  rawWaitMsMax,
  startFakeCoordinator,
  within,
  type FakeCoordinator,
  type RawPeer,
} from '../helpers/raw-ws.ts';

const hex = (bytes: number) => bytesToHex(new Uint8Array(randomBytes(bytes)));
/** The `t` of a frame, if it is an object that has one. */
const kindOf = (frame: unknown): unknown =>
  typeof frame === 'object' && frame !== null ? (frame as { t?: unknown }).t : undefined;
/** One frame more than a link accepts. */
const oversized = 'x'.repeat(limits.frameBytesMax + 1);
/** Nesting deep enough to overflow a recursive reader, well within the frame limit. */
const deeplyNested = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
/** A text frame whose bytes are not UTF-8. */
const notUtf8 = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);

/** True while the process `pid` exists (signal 0 only checks; it delivers nothing). */
function isRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a stranger on the coordinator party endpoint cannot crash the coordinator', () => {
  const cluster = new LocalCluster();
  let wsUrl = '';
  before(async () => {
    const url = await cluster.startCoordinator();
    wsUrl = `${url.replace(/^http/, 'ws')}${partyWsPath}`;
  });
  after(() => cluster.stop());

  /** The coordinator process is alive, answers /healthz and challenges a new connection. */
  async function stillServes(): Promise<void> {
    assert.ok(isRunning(cluster.pid('coordinator')), 'the coordinator process is alive');
    const health = await fetch(`${cluster.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(health.status, 200, '/healthz answers');
    const peer = await dialRaw(wsUrl);
    assert.equal(kindOf(await peer.nextFrame()), 'challenge', 'a new connection is challenged');
    peer.terminate();
  }

  /**
   * Opens a raw connection, reads the challenge, runs `attack` and waits (bounded) for the
   * coordinator to close the connection; returns the close code once the coordinator serves on.
   */
  async function attackWith(attack: (peer: RawPeer) => void): Promise<number> {
    const peer = await dialRaw(wsUrl);
    assert.equal(kindOf(await peer.nextFrame()), 'challenge');
    attack(peer);
    const code = await within(peer.closed, rawWaitMsMax, 'the coordinator closes the connection');
    await stillServes();
    return code;
  }

  test('a first frame that is the JSON text null', async () => {
    const code = await attackWith((peer) => peer.send('null'));
    assert.equal(code, 1000, 'closed by the coordinator after its reject frame');
  });

  test('a hello whose identityKey is a one-element array of 64 hex characters', async () => {
    const code = await attackWith((peer) =>
      peer.send(
        JSON.stringify({
          t: 'hello',
          partyId: 'mallory',
          identityKey: [hex(32)],
          boxKey: hex(32),
          proof: hex(64),
          enrollMac: hex(32),
        }),
      ),
    );
    assert.equal(code, 1000);
  });

  test('a well-formed hello with a proof that does not verify, then a burst of frames', async () => {
    const hello = { t: 'hello', partyId: 'mallory', identityKey: hex(32), boxKey: hex(32) };
    const code = await attackWith((peer) => {
      peer.send(JSON.stringify({ ...hello, proof: hex(64), enrollMac: hex(32) }));
      for (let i = 0; i < 200; i++) peer.send(i % 2 === 0 ? 'null' : '{"t":"env","e":[]}');
    });
    assert.equal(code, 1000);
  });

  test('text that is not JSON, and a JSON array or string', async () => {
    assert.equal(await attackWith((peer) => peer.send('{"t":')), 1007);
    assert.equal(await attackWith((peer) => peer.send('[1,2,3]')), 1000);
    assert.equal(await attackWith((peer) => peer.send('"hello"')), 1000);
  });

  test('a binary frame, and a text frame that is not UTF-8', async () => {
    assert.equal(
      await attackWith((peer) => peer.send(Buffer.from([1, 2, 3]), { binary: true })),
      1003,
    );
    assert.equal(await attackWith((peer) => peer.send(notUtf8)), 1007);
  });

  test('a frame over the size limit, and a deeply nested one under it', async () => {
    assert.equal(await attackWith((peer) => peer.send(oversized)), 1009);
    const code = await attackWith((peer) => peer.send(deeplyNested));
    assert.ok(code === 1000 || code === 1007, `closed with ${code}`);
  });

  test('an envelope frame before the handshake, and objects whose fields are all wrong', async () => {
    assert.equal(await attackWith((peer) => peer.send('{"t":"env","e":null}')), 1000);
    const wrong = { t: 'hello', partyId: { toString: 'x' }, identityKey: 1, __proto__: 7 };
    assert.equal(await attackWith((peer) => peer.send(JSON.stringify(wrong))), 1000);
  });

  test('afterwards real parties connect, create a wallet and sign', async () => {
    for (const partyId of ['h1', 'h2']) cluster.startParty(partyId);
    await cluster.waitForParties(['h1', 'h2']);
    const created = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ed25519',
      threshold: 2,
      parties: ['h1', 'h2'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const signed = await cluster.request(
      'POST',
      `/v1/wallets/${created.json['walletId'] as string}/signatures`,
      { message: bytesToHex(new TextEncoder().encode('after the attacks')), intentKey: 'h-1' },
    );
    assert.equal(signed.status, 200, JSON.stringify(signed.json));
    assert.equal(signed.json['status'], 'signed');
  });
});

describe('a party dialing a hostile coordinator stays alive and dials again', () => {
  const partyId = 'victim';
  // The cluster only runs the party process (tracked and stopped by PID); its coordinator
  // URL is the fake coordinator's.
  const cluster = new LocalCluster();
  const coordinator = generateIdentity(new Uint8Array(randomBytes(64)));
  let fake: FakeCoordinator;
  before(async () => {
    fake = await startFakeCoordinator();
    cluster.urls[0] = fake.url;
    cluster.startParty(partyId);
  });
  after(async () => {
    await cluster.stop();
    await fake.close();
  });

  /** A valid challenge from the fake coordinator's (stable, so pinnable) identity. */
  const challenge = () =>
    buildChallenge({
      conn: hex(12),
      nonce: hex(16),
      coordinatorKey: bytesToHex(coordinator.signPublic),
      heartbeatMs: 1_000,
    });

  /** The connection the party opened after the last attack (its proof of life). */
  let next: RawPeer | undefined;

  /**
   * Takes the party's current connection, runs `attack`, waits (bounded) for the party to
   * close that connection, then for it to dial again: only a live party redials.
   */
  async function attackWith(attack: (peer: RawPeer) => Promise<void> | void): Promise<void> {
    const peer = next ?? (await fake.nextConnection());
    next = undefined;
    await attack(peer);
    await within(peer.closed, rawWaitMsMax, 'the party closes the connection');
    next = await fake.nextConnection();
    assert.ok(isRunning(cluster.pid(partyId)), 'the party process is alive');
  }

  /** Completes a real handshake on `peer`; returns a sender of signed envelopes on it. */
  async function handshake(peer: RawPeer): Promise<EnvelopeSender> {
    const sent = challenge();
    peer.send(JSON.stringify(sent));
    assert.equal(kindOf(await peer.nextFrame()), 'hello', 'the party answers with a hello');
    const transcript = welcomeTranscript({ ...sent, partyId });
    const proof = bytesToHex(signDetached(welcomeDomain, transcript, coordinator.signSecret));
    peer.send(JSON.stringify(buildWelcome({ conn: sent.conn, proof })));
    const sender = new EnvelopeSender(coordinatorRole, partyId, sent.conn, coordinator.signSecret);
    const ping = sender.build(buildPing());
    peer.send(JSON.stringify(buildEnvelopeFrame(ping)));
    const pong = await peer.nextFrame();
    assert.equal(kindOf(pong), 'env', 'the party answers a signed ping once welcomed');
    return sender;
  }

  test('a first frame that is the JSON text null', () => attackWith((peer) => peer.send('null')));

  test('a challenge whose fields are of the wrong types', () =>
    attackWith((peer) =>
      peer.send(
        JSON.stringify({
          t: 'challenge',
          conn: ['c'],
          nonce: 7,
          coordinatorKey: [bytesToHex(coordinator.signPublic)],
          heartbeatMs: 'soon',
        }),
      ),
    ));

  test('a welcome before any challenge', () =>
    attackWith((peer) => peer.send(JSON.stringify({ t: 'welcome', conn: 'c', proof: hex(64) }))));

  test('an envelope frame with a bogus envelope before the handshake', () =>
    attackWith((peer) =>
      peer.send(JSON.stringify({ t: 'env', e: { v: 1, kind: 'sign-start', body: null } })),
    ));

  test('after a complete handshake: a forged envelope is dropped, a bogus one closes', () =>
    attackWith(async (peer) => {
      const sender = await handshake(peer);
      const forged = { ...sender.build(buildPing()), sig: hex(64) };
      peer.send(JSON.stringify(buildEnvelopeFrame(forged)));
      peer.send(JSON.stringify(buildEnvelopeFrame(sender.build(buildPing()))));
      assert.equal(kindOf(await peer.nextFrame()), 'env', 'still served after the forgery');
      peer.send(JSON.stringify({ t: 'env', e: { v: 1, kind: 'sign-start', sessionId: [] } }));
    }));

  test('text that is not JSON, a binary frame, and an oversized frame', async () => {
    await attackWith((peer) => peer.send('{"t":'));
    await attackWith((peer) => peer.send(Buffer.from([1, 2, 3]), { binary: true }));
    await attackWith((peer) => peer.send(oversized));
  });

  test('afterwards the party still completes a handshake and answers', async () => {
    const peer = next ?? (await fake.nextConnection());
    await handshake(peer);
    assert.ok(isRunning(cluster.pid(partyId)));
    peer.terminate();
  });
});
