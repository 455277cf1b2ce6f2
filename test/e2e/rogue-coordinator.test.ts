/**
 * Issue 12 finding 2 on real processes: a malicious coordinator (a WebSocket server on loopback
 * that speaks the real wire protocol with a valid coordinator key) substitutes its own X25519
 * box key for every participant in keygen-start, then tries to open the round-2 shares the
 * parties seal. Three real `quorate party` processes, anchored to an operator key (the default of
 * LocalCluster): every one refuses with QUORATE_E_UNTRUSTED_PEER before any DKG message leaves.
 * The same attack on legacy parties (no operator key: the behaviour before the fix) still lets
 * the coordinator open their shares — which is why docs/security.md says not to run that mode.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { bytesToHex } from '@noble/hashes/utils.js';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { coordinatorRole, type Payload } from '../../src/protocol/engine.ts';
import { createSealer } from '../../src/protocol/sealed-box.ts';
import { EnvelopeSender } from '../../src/transport/envelope.ts';
import { generateIdentity, signDetached, type IdentityKeys } from '../../src/transport/identity.ts';
import {
  buildChallenge,
  buildEnvelopeFrame,
  buildKeygenStart,
  buildProtocol,
  buildWelcome,
  validateEnvelopeFrame,
  validateHello,
  validateRefuse,
  welcomeDomain,
  welcomeTranscript,
  type Envelope,
  type HelloFrame,
} from '../../src/transport/wire.ts';
import { startFakeCoordinator, type FakeCoordinator, type RawPeer } from '../helpers/raw-ws.ts';

const parties = ['alpha', 'beta', 'gamma'];
const rng = (n: number) => new Uint8Array(randomBytes(n));

interface Victim {
  peer: RawPeer;
  hello: HelloFrame;
  sender: EnvelopeSender;
}

/** Next envelope the party sends on `peer` (frames that are not envelopes are skipped). */
async function nextEnvelope(peer: RawPeer): Promise<Envelope> {
  for (let i = 0; i < 16; i += 1) {
    const frame = validateEnvelopeFrame(await peer.nextFrame());
    if (frame.ok && frame.value.e.kind !== 'pong') return frame.value.e;
  }
  throw new Error('no envelope from the party');
}

/** Accepts the next dial, runs a valid handshake as `coordinator`, returns the victim. */
async function welcome(fake: FakeCoordinator, coordinator: IdentityKeys): Promise<Victim> {
  const peer = await fake.nextConnection();
  const challenge = buildChallenge({
    conn: bytesToHex(rng(12)),
    nonce: bytesToHex(rng(16)),
    coordinatorKey: bytesToHex(coordinator.signPublic),
    heartbeatMs: 1_000,
  });
  peer.send(JSON.stringify(challenge));
  const hello = validateHello(await peer.nextFrame());
  assert.ok(hello.ok, 'the party sends a valid hello');
  const { partyId } = hello.value;
  const proof = signDetached(
    welcomeDomain,
    welcomeTranscript({ ...challenge, partyId }),
    coordinator.signSecret,
  );
  peer.send(JSON.stringify(buildWelcome({ conn: challenge.conn, proof: bytesToHex(proof) })));
  const sender = new EnvelopeSender(
    coordinatorRole,
    partyId,
    challenge.conn,
    coordinator.signSecret,
  );
  return { peer, hello: hello.value, sender };
}

/**
 * Starts three party processes dialing a fake coordinator, substitutes the adversary's box key
 * in keygen-start and relays round 1; returns how each party answered and how many sealed
 * shares the adversary could open.
 */
async function substitutionAttack(anchored: boolean) {
  const cluster = new LocalCluster({ anchored });
  const fake = await startFakeCoordinator();
  const coordinator = generateIdentity(rng(64));
  const adversary = generateIdentity(rng(64));
  try {
    cluster.urls[0] = fake.url;
    for (const p of parties) cluster.startParty(p);
    const victims = new Map<string, Victim>();
    while (victims.size < parties.length) {
      const victim = await welcome(fake, coordinator);
      victims.set(victim.hello.partyId, victim);
    }
    const keygenId = 'kg-rogue';
    const walletId = 'w-rogue';
    const body = {
      walletId,
      scheme: 'bip340' as const,
      threshold: 2,
      parties,
      boxKeys: Object.fromEntries(parties.map((p) => [p, bytesToHex(adversary.boxPublic)])),
      certificates: Object.fromEntries(
        [...victims].flatMap(([p, v]) => (v.hello.certificate ? [[p, v.hello.certificate]] : [])),
      ),
    };
    const answers = new Map<string, Envelope>();
    for (const [p, v] of victims) {
      v.peer.send(
        JSON.stringify(buildEnvelopeFrame(v.sender.build(buildKeygenStart(keygenId, body)))),
      );
      answers.set(p, await nextEnvelope(v.peer));
    }
    const round1 = Object.fromEntries(
      [...answers].filter(([, e]) => e.kind === 'protocol').map(([p, e]) => [p, e.body]),
    ) as Record<string, Payload>;
    let opened = 0;
    if (Object.keys(round1).length === parties.length) {
      const at = { sessionId: keygenId, attempt: 1, token: 1 };
      for (const [p, v] of victims) {
        v.peer.send(
          JSON.stringify(buildEnvelopeFrame(v.sender.build(buildProtocol(at, 2, { round1 })))),
        );
        const sealed = (await nextEnvelope(v.peer)).body['sealed'] as Record<string, string>;
        for (const [to, box] of Object.entries(sealed)) {
          const opener = createSealer({
            context: `${walletId}|${keygenId}`,
            self: to,
            boxSecret: adversary.boxSecret,
            peerBoxKeys: { [p]: v.hello.boxKey },
            randomBytes: rng,
          });
          try {
            opener.open(p, box);
            opened += 1;
          } catch {
            // not readable by the adversary
          }
        }
      }
    }
    return { answers, opened };
  } finally {
    await cluster.stop();
    await fake.close();
  }
}

describe('finding 2 on real processes: a coordinator substituting box keys', () => {
  let anchored: Awaited<ReturnType<typeof substitutionAttack>>;
  let legacy: Awaited<ReturnType<typeof substitutionAttack>>;
  before(async () => {
    anchored = await substitutionAttack(true);
    legacy = await substitutionAttack(false);
  });

  test('anchored parties refuse with UNTRUSTED_PEER and seal nothing the coordinator can open', () => {
    for (const p of parties) {
      const e = anchored.answers.get(p);
      assert.equal(e?.kind, 'refuse', `${p} refused`);
      const refusal = validateRefuse(e.body);
      assert.ok(refusal.ok);
      assert.equal(refusal.value.code, 'QUORATE_E_UNTRUSTED_PEER', refusal.value.reason);
    }
    assert.equal(anchored.opened, 0);
  });

  test('legacy parties (no operator key) still leak every share to the coordinator', () => {
    for (const p of parties) assert.equal(legacy.answers.get(p)?.kind, 'protocol');
    assert.equal(legacy.opened, parties.length * (parties.length - 1));
  });
});
