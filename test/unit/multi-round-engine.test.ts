/**
 * A real Coordinator (memory store) and three real PartyRuntime parties run an engine of THREE
 * signing rounds (test/helpers/toy-sealing-engine.ts): party-to-party notes sealed to their
 * recipient and relayed unread by the coordinator, then FROST's two rounds, with the nonce
 * (I2) named by the engine and spent at round 3. The links are in-memory, asynchronous
 * (delivered on the next turn of the event loop, in order) and recorded both ways.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { realEnv } from '../../src/core/env.ts';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { PartyRuntime } from '../../src/party/runtime.ts';
import { engines as frostEngines } from '../../src/protocol/frost.ts';
import type { SessionRecord } from '../../src/session/record.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { sealEnvelope } from '../../src/transport/envelope.ts';
import { generateIdentity, type IdentityKeys } from '../../src/transport/identity.ts';
import type { Link } from '../../src/transport/link.ts';
import type { Envelope } from '../../src/transport/wire.ts';
import { linkPair } from '../helpers/link-pair.ts';
import { plainSealer } from '../helpers/party-harness.ts';
import { toySealingEngine } from '../helpers/toy-sealing-engine.ts';

const rng = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const partyIds = ['p1', 'p2', 'p3'];
const partySecret = bytesToHex(rng(16));

/** A journal that counts, per one-time secret, how often it was consumed. */
class CountingJournal extends MemoryJournal {
  readonly consumed = new Map<string, number>();
  override consumeNonce(secretId: string, nowMs: number): boolean {
    const ok = super.consumeNonce(secretId, nowMs);
    if (ok) this.consumed.set(secretId, (this.consumed.get(secretId) ?? 0) + 1);
    return ok;
  }
}

/** One envelope seen on a link: to or from which party. */
interface Seen {
  partyId: string;
  e: Envelope;
  /** The frame exactly as it travelled (JSON). */
  json: string;
}

/** Rewrites a frame the coordinator sends to `partyId` (undefined: unchanged). */
type Tamper = (partyId: string, frame: unknown, coordinator: IdentityKeys) => unknown;

interface Deployment {
  coordinator: Coordinator;
  coordinatorIdentity: IdentityKeys;
  journals: Map<string, CountingJournal>;
  /** Coordinator → party envelopes, as sent (after any tampering). */
  down: Seen[];
  /** Party → coordinator envelopes. */
  up: Seen[];
  /** Every note drawn by a signer, in plaintext. */
  notes: { from: string; to: string; plaintextHex: string }[];
  stop(): Promise<void>;
}

function envelopeOf(frame: unknown): Envelope | undefined {
  const f = frame as { t?: unknown; e?: Envelope };
  return f.t === 'env' ? f.e : undefined;
}

/** `link` with each send delivered on a later turn (in order), recorded and maybe rewritten. */
function asyncLink(link: Link, onSend: (frame: unknown) => unknown): Link {
  return {
    get isOpen() {
      return link.isOpen;
    },
    send: (frame) => {
      const out = onSend(frame);
      setImmediate(() => link.send(out));
    },
    close: (reason) => link.close(reason),
    onFrame: (handler) => link.onFrame(handler),
    onClose: (handler) => link.onClose(handler),
  };
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A coordinator and parties p1..p3, every one running the toy engine for ed25519. */
async function deploy(tamper?: Tamper): Promise<Deployment> {
  const env = realEnv({ logLevel: 'silent' });
  const notes: Deployment['notes'] = [];
  const engine = toySealingEngine(frostEngines.ed25519, { onNote: (n) => notes.push(n) });
  const coordinatorIdentity = generateIdentity(rng(64));
  const coordinator = new Coordinator({
    env,
    store: new MemoryStore({ clock: env }),
    identity: coordinatorIdentity,
    partySecret,
    recoveryGraceMs: 0,
    engines: { ed25519: engine },
  });
  await coordinator.start();
  const journals = new Map<string, CountingJournal>();
  const runtimes: PartyRuntime[] = [];
  const down: Seen[] = [];
  const up: Seen[] = [];
  const record = (list: Seen[], partyId: string, frame: unknown) => {
    const e = envelopeOf(frame);
    if (e) list.push({ partyId, e: structuredClone(e), json: JSON.stringify(frame) });
  };
  for (const partyId of partyIds) {
    const journal = new CountingJournal(env.nowMs());
    journals.set(partyId, journal);
    const runtime = new PartyRuntime({
      partyId,
      env,
      journal,
      sealer: plainSealer,
      identity: generateIdentity(rng(64)),
      partySecret,
      engines: { ed25519: engine },
    });
    runtimes.push(runtime);
    const [partySide, coordinatorSide] = linkPair();
    runtime.attach(
      asyncLink(partySide, (frame) => {
        record(up, partyId, frame);
        return frame;
      }),
    );
    coordinator.acceptLink(
      asyncLink(coordinatorSide, (frame) => {
        const out = tamper?.(partyId, frame, coordinatorIdentity) ?? frame;
        record(down, partyId, out);
        return out;
      }),
    );
  }
  await until('every party alive', () => {
    const alive = coordinator.parties().filter((p) => p.state === 'alive');
    return alive.length === partyIds.length;
  });
  return {
    coordinator,
    coordinatorIdentity,
    journals,
    down,
    up,
    notes,
    async stop() {
      await coordinator.stop();
      for (const runtime of runtimes) runtime.close();
    },
  };
}

/** Creates a 2-of-3 ed25519 wallet by DKG and signs `message` in it; the terminal session. */
async function createAndSign(
  d: Deployment,
  message: Uint8Array,
): Promise<{ session: SessionRecord; publicKey: string }> {
  const wallet = await d.coordinator.createWallet({
    scheme: 'ed25519',
    threshold: 2,
    parties: partyIds,
  });
  const opened = await d.coordinator.sign(wallet.walletId, {
    messageHex: bytesToHex(message),
    intentKey: `intent-${bytesToHex(rng(8))}`,
  });
  const session = await d.coordinator.waitForSession(opened.sessionId, 30_000);
  return { session, publicKey: wallet.publicKey };
}

const protocolOf = (list: Seen[], sessionId: string, attempt?: number) =>
  list.filter(
    (s) =>
      s.e.kind === 'protocol' &&
      s.e.sessionId === sessionId &&
      (attempt === undefined || s.e.attempt === attempt),
  );

/** The sealed notes a relayed round-2 envelope carries, by sender. */
const relayedNotes = (s: Seen): Record<string, string> =>
  (s.e.body['notes'] ?? {}) as Record<string, string>;

/**
 * A link rewrite that flips one byte of the first relayed note reaching one party (the first
 * party a round-2 relay reaches); `rewrap` turns the tampered envelope back into a frame.
 */
function tamperFirstNote(
  rewrap: (e: Envelope, body: Envelope['body'], coordinator: IdentityKeys) => unknown,
): { tamper: Tamper; victim: () => string | undefined } {
  let target: string | undefined;
  const tamper: Tamper = (partyId, frame, coordinator) => {
    const e = envelopeOf(frame);
    if (e?.kind !== 'protocol' || e.round !== 2 || e.body['notes'] === undefined) return frame;
    target ??= partyId;
    if (partyId !== target) return frame;
    const notes = relayedNotes({ partyId, e, json: '' });
    const [from, sealed] = Object.entries(notes)[0] ?? [];
    if (from === undefined || sealed === undefined) return frame;
    return rewrap(e, { notes: { ...notes, [from]: flipByte(sealed) } }, coordinator);
  };
  return { tamper, victim: () => target };
}

/** Flips one byte in the middle of a sealed note (in its ciphertext). */
function flipByte(sealedHex: string): string {
  const at = Math.floor(sealedHex.length / 4) * 2;
  const flipped = (Number.parseInt(sealedHex.slice(at, at + 2), 16) ^ 0x01)
    .toString(16)
    .padStart(2, '0');
  return sealedHex.slice(0, at) + flipped + sealedHex.slice(at + 2);
}

describe('an engine of three rounds with sealed party-to-party notes, end to end', () => {
  const deployments: Deployment[] = [];
  after(async () => {
    for (const d of deployments) await d.stop();
  });

  test('signs: notes relayed sealed, nonce consumed once at round 3, signature verifies', async () => {
    const d = await deploy();
    deployments.push(d);
    const message = utf8ToBytes('pay 10 to bob, in three rounds');
    const { session, publicKey } = await createAndSign(d, message);

    assert.equal(session.status, 'signed', JSON.stringify(session.error ?? session.attempts));
    assert.equal(session.attempts.length, 1);
    const signers = session.signers ?? [];
    assert.equal(signers.length, 2);
    const signature = hexToBytes(session.signature ?? '');
    // The scheme's real verifier, and the engine's (FROST's) own.
    assert.equal(ed25519.verify(signature, message, hexToBytes(publicKey)), true);
    assert.equal(frostEngines.ed25519.verify(signature, message, hexToBytes(publicKey)), true);
    assert.equal(
      ed25519.verify(signature, utf8ToBytes('another message'), hexToBytes(publicKey)),
      false,
    );

    // Three rounds: each signer answered rounds 1, 2 and 3; the coordinator opened 2 and 3.
    const upRounds = (p: string) =>
      protocolOf(d.up, session.sessionId)
        .filter((s) => s.partyId === p)
        .map((s) => s.e.round);
    for (const p of signers) assert.deepEqual(upRounds(p), [1, 2, 3], `rounds sent by ${p}`);
    const downRounds = protocolOf(d.down, session.sessionId).map((s) => s.e.round);
    assert.deepEqual([...downRounds].sort(), [2, 2, 3, 3]);
    const start = d.down.filter(
      (s) => s.e.kind === 'sign-start' && s.e.sessionId === session.sessionId,
    );
    assert.equal(start.length, 2);
    for (const s of start)
      assert.deepEqual(Object.keys(s.e.body['boxKeys'] ?? {}).sort(), [...signers].sort());

    // One note per ordered pair of signers, each relayed once, still sealed, to its recipient.
    assert.equal(d.notes.length, 2);
    const relayed = protocolOf(d.down, session.sessionId).filter((s) => s.e.round === 2);
    assert.equal(relayed.length, 2);
    for (const note of d.notes) {
      const toRecipient = relayed.find((s) => s.partyId === note.to);
      assert.ok(toRecipient, `a round-2 envelope to ${note.to}`);
      const sealed = relayedNotes(toRecipient)[note.from];
      assert.equal(typeof sealed, 'string', `note of ${note.from} relayed to ${note.to}`);
      // What the sender sealed is exactly what the coordinator relayed.
      const sent = protocolOf(d.up, session.sessionId).find(
        (s) => s.partyId === note.from && s.e.round === 1,
      );
      assert.equal((sent?.e.body['notes'] as Record<string, string>)[note.to], sealed);
      assert.ok(!sealed?.includes(note.plaintextHex), 'the relayed note is sealed');
    }
    // No plaintext note anywhere on any link, in either direction.
    for (const { plaintextHex } of d.notes) {
      assert.equal(plaintextHex.length, 64);
      for (const s of [...d.down, ...d.up])
        assert.ok(!s.json.includes(plaintextHex), `plaintext note on the wire: ${s.e.kind}`);
    }

    // I2: each signer's nonce recorded and consumed exactly once; the third party drew none.
    for (const p of partyIds) {
      const journal = d.journals.get(p) as CountingJournal;
      const mine = journal.nonces().filter((n) => n.sessionId === session.sessionId);
      if (!signers.includes(p)) {
        assert.equal(mine.length, 0, `${p} is not a signer`);
        continue;
      }
      assert.equal(mine.length, 1, `${p} holds one nonce`);
      const nonce = mine[0];
      assert.equal(nonce?.state, 'consumed');
      assert.equal(journal.consumed.get(nonce?.commitment ?? ''), 1);
      // The nonce is FROST's (named by the round-2 commitment it sent), spent by round 3.
      const commitment = protocolOf(d.up, session.sessionId).find(
        (s) => s.partyId === p && s.e.round === 2,
      );
      const body = commitment?.e.body ?? {};
      assert.equal(nonce?.commitment, `${String(body['hiding'])}${String(body['binding'])}`);
      assert.equal(typeof body['notesDigest'], 'string');
    }
  });

  test('a relayed note flipped on the wire: the envelope signature catches it, the round times out, the next quorum signs', async () => {
    const tampered = tamperFirstNote((e, body) => ({ t: 'env', e: { ...e, body } }));
    const d = await deploy(tampered.tamper);
    deployments.push(d);
    const message = utf8ToBytes('pay 20 to carol');
    const { session, publicKey } = await createAndSign(d, message);
    const victim = tampered.victim() as string;
    assert.ok(partyIds.includes(victim), 'a note was tampered');

    // The party drops the envelope (its coordinator signature no longer verifies), so it never
    // answers round 2 and the coordinator's round clock fails the attempt on it.
    const first = session.attempts[0];
    assert.ok(first?.parties.includes(victim), 'the victim signed in attempt 1');
    assert.equal(first?.outcome, 'aborted');
    assert.match(first?.reason ?? '', /^timeout: round 2 deadline missed/);
    assert.deepEqual(
      protocolOf(d.up, session.sessionId, 1)
        .filter((s) => s.partyId === victim)
        .map((s) => s.e.round),
      [1],
    );
    assert.ok(session.slow.includes(victim), 'the victim is marked slow');
    assert.deepEqual(session.excluded, []);
    // The machine then picks a quorum without the slow party, which signs.
    assert.equal(session.status, 'signed');
    assert.equal(session.attempts.length, 2);
    assert.ok(!session.attempts[1]?.parties.includes(victim), 'attempt 2 runs without the victim');
    assert.deepEqual(
      [...(session.signers ?? [])].sort(),
      partyIds.filter((p) => p !== victim),
    );
    assert.equal(
      ed25519.verify(hexToBytes(session.signature ?? ''), message, hexToBytes(publicKey)),
      true,
    );
    assertNonceHistory(d, session, victim);
  });

  test('a relayed note tampered and re-signed with the coordinator key: the seal catches it, the recipient refuses', async () => {
    // A relay that holds the coordinator's signing key (a compromised coordinator): only the
    // seal between the two parties protects the note now.
    const tampered = tamperFirstNote((e, body, coordinator) => {
      const { sig: _sig, ...unsigned } = e;
      return { t: 'env', e: sealEnvelope({ ...unsigned, body }, coordinator.signSecret) };
    });
    const d = await deploy(tampered.tamper);
    deployments.push(d);
    const message = utf8ToBytes('pay 30 to dave');
    const { session, publicKey } = await createAndSign(d, message);
    const victim = tampered.victim() as string;

    // The recipient's role aborts ("note from <sender> does not open", blaming the sender);
    // the driver turns that into a soft refusal, and the coordinator fails the attempt as
    // `stale` on the REFUSING party (a refusal carries no blame of its own).
    const first = session.attempts[0];
    assert.ok(first?.parties.includes(victim), 'the victim signed in attempt 1');
    const sender = first?.parties.find((p) => p !== victim) as string;
    assert.equal(first?.outcome, 'aborted');
    assert.equal(
      first?.reason,
      `stale: QUORATE_E_PROTOCOL_ABORT: note from ${sender} does not open`,
    );
    const refusal = d.up.find(
      (s) => s.partyId === victim && s.e.kind === 'refuse' && s.e.sessionId === session.sessionId,
    );
    assert.equal(refusal?.e.round, 2);
    assert.deepEqual(refusal?.e.body, {
      code: 'QUORATE_E_PROTOCOL_ABORT',
      reason: `note from ${sender} does not open`,
      hard: false,
    });
    assert.ok(session.slow.includes(victim), 'the victim is marked slow');
    assert.deepEqual(session.excluded, []);
    assert.equal(session.status, 'signed');
    assert.equal(session.attempts.length, 2);
    assert.ok(!session.attempts[1]?.parties.includes(victim), 'attempt 2 runs without the victim');
    assert.equal(
      ed25519.verify(hexToBytes(session.signature ?? ''), message, hexToBytes(publicKey)),
      true,
    );
    assertNonceHistory(d, session, victim);
  });
});

/**
 * After a failed first attempt and a signed second: the victim never drew a nonce (it failed
 * before FROST's commitment); no nonce of attempt 1 was consumed (its co-signer's, if drawn,
 * was discarded); each signer of attempt 2 consumed exactly one.
 */
function assertNonceHistory(d: Deployment, session: SessionRecord, victim: string): void {
  for (const p of partyIds) {
    const journal = d.journals.get(p) as CountingJournal;
    const mine = journal.nonces().filter((n) => n.sessionId === session.sessionId);
    if (p === victim) assert.deepEqual(mine, [], `${p} never committed`);
    for (const n of mine.filter((x) => x.attempt === 1)) assert.equal(n.state, 'discarded');
    const second = mine.filter((x) => x.attempt === 2);
    if (session.signers?.includes(p)) {
      assert.equal(second.length, 1);
      assert.equal(second[0]?.state, 'consumed');
      assert.equal(journal.consumed.get(second[0]?.commitment ?? ''), 1);
    } else assert.equal(second.length, 0);
    for (const count of journal.consumed.values()) assert.equal(count, 1);
  }
}
