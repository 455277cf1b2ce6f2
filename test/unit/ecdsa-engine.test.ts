/**
 * The `ecdsa` engine (DKLs23 on `@0xcarbon/dkls23-wasm`) in one process, on the fixture
 * wallets: every t-subset signs, every signature verifies with OpenSSL and libsecp256k1 and is
 * low-S with a recovery id that recovers the key; the one-time secret is spent by round 3 and
 * nothing runs phase 3 twice; a peer's malformed message is blamed on it before the engine
 * sees it; the engine's abort blames nobody; a seed replays exactly.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { subsetsOf } from '../../src/protocol/ecdsa-common.ts';
import { ecdsaEngine, recoveryIdOf } from '../../src/protocol/ecdsa.ts';
import { ethereumAddress, checksumAddress } from '../../src/protocol/ethereum-address.ts';
import { decodeShape } from '../../src/protocol/dkls23-shapes.ts';
import { shapes } from '../../src/protocol/dkls23-messages.ts';
import type {
  KeyShare,
  PartyEngine,
  PartySignerRole,
  ProtocolMessage,
  ProtocolRole,
  ShareSealer,
} from '../../src/protocol/engine.ts';
import { runSigningWith } from '../../src/protocol/local-run.ts';
import {
  ecdsaFixture,
  libsecp256k1Verifies,
  opensslVerifiesDigest,
  seededEcdsaEngine,
} from '../helpers/ecdsa.ts';

const digestOf = (text: string) => sha256(new TextEncoder().encode(text));

/** Signs `digest` with `signers` of the fixture; the 64-byte signature and recovery id. */
async function sign(
  engine: PartyEngine,
  rng: (n: number) => Uint8Array,
  keys: KeyShare[],
  signers: string[],
  digest: Uint8Array,
): Promise<Uint8Array> {
  const result = await runSigningWith(ecdsaEngine(), engine, keys, signers, digest, rng);
  const signature = hexToBytes(result.signature);
  assert.equal(result.recoveryId, recoveryIdOf(signature, digest, hexToBytes(keys[0]!.publicKey)));
  return signature;
}

describe('ecdsa engine: signing on the fixture wallets', () => {
  for (const [t, n] of [
    [2, 3],
    [3, 5],
  ] as const) {
    test(`${t}-of-${n}: signatures verify with OpenSSL and libsecp256k1, low-S, recoverable`, async () => {
      const fixture = ecdsaFixture(t, n);
      const { engine, rng } = await seededEcdsaEngine(1, `sign-${t}-${n}`);
      const pk = hexToBytes(fixture.keys[0]!.publicKey);
      // 2-of-3: every pair; 3-of-5: two of the ten triples (the e2e suite signs with others).
      const subsets = subsetsOf(fixture.parties, t).slice(0, t === 2 ? 3 : 2);
      for (const subset of subsets) {
        const digest = digestOf(`pay ${subset.join(',')}`);
        const sig = await sign(engine, rng, fixture.keys, subset, digest);
        assert.equal(sig.length, 64);
        assert.ok(opensslVerifiesDigest(sig, digest, pk), `OpenSSL accepts ${subset}`);
        assert.ok(libsecp256k1Verifies(sig, digest, pk), `libsecp256k1 accepts ${subset}`);
        const s = secp256k1.Signature.fromBytes(sig, 'compact');
        assert.equal(s.hasHighS(), false, 'low-S');
        const recoveryId = recoveryIdOf(sig, digest, pk);
        assert.ok(recoveryId === 0 || recoveryId === 1);
        const recovered = s.addRecoveryBit(recoveryId).recoverPublicKey(digest).toBytes(true);
        assert.equal(bytesToHex(recovered), fixture.keys[0]!.publicKey);
        assert.equal(
          opensslVerifiesDigest(sig, digestOf('another message'), pk),
          false,
          'the check can fail',
        );
      }
    });
  }

  test('the key share holds the engine party of the same key and EIP-55 address', () => {
    // EIP-55's own example, then the engine's address against ours for every share.
    assert.equal(
      checksumAddress('5aaeb6053f3e94c9b9a09f33669435e7ef1beaed'),
      '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    );
    for (const key of ecdsaFixture(2, 3).keys) {
      const party = decodeShape(shapes.party, hexToBytes(key.secretPackage['party'] as string)) as {
        pk: string;
        eth_address: string;
      };
      assert.equal(party.pk.toLowerCase(), key.publicKey);
      assert.equal(party.eth_address, ethereumAddress(hexToBytes(key.publicKey)));
      assert.equal(key.publicPackage['ethereumAddress'], party.eth_address);
    }
  });

  test('a seed replays exactly: two fresh instances, one seed, one signature', async () => {
    const fixture = ecdsaFixture(2, 3);
    const digest = digestOf('replay');
    const a = await seededEcdsaEngine(7, 'replay');
    const b = await seededEcdsaEngine(7, 'replay');
    const c = await seededEcdsaEngine(8, 'replay');
    const sigA = await sign(a.engine, a.rng, fixture.keys, ['p1', 'p2'], digest);
    const sigB = await sign(b.engine, b.rng, fixture.keys, ['p1', 'p2'], digest);
    const sigC = await sign(c.engine, c.rng, fixture.keys, ['p1', 'p2'], digest);
    assert.equal(bytesToHex(sigA), bytesToHex(sigB));
    assert.notEqual(bytesToHex(sigA), bytesToHex(sigC));
  });
});

/** A pass-through sealer: these tests look at the roles, not at the boxes. */
const plainSealer: ShareSealer = {
  seal: (_to, plaintext) => bytesToHex(plaintext),
  open: (_from, sealed) => hexToBytes(sealed),
};

/** Signer roles of `signers` and the aggregator, started; returns their first messages. */
async function startRoles(engine: PartyEngine, keys: KeyShare[], signers: string[]) {
  const digest = digestOf('roles');
  const aggregator = ecdsaEngine().aggregator({
    publicPackage: keys[0]!.publicPackage,
    message: digest,
    signers,
  });
  aggregator.start();
  const roles = new Map<string, PartySignerRole>();
  const queue: ProtocolMessage[] = [];
  for (const p of signers) {
    const key = keys.find((k) => k.partyId === p)!;
    const role = engine.signer({
      key,
      message: digest,
      signers,
      rng: (n) => new Uint8Array(n),
      sealer: plainSealer,
      runId: 'w|s|1|1',
    });
    roles.set(p, role);
    queue.push(...(await role.start()).outgoing);
  }
  return { aggregator, roles, queue };
}

/** Delivers coordinator messages for `round` to their roles; returns the roles' answers. */
function deliverRound(
  aggregator: ProtocolRole<unknown>,
  roles: Map<string, PartySignerRole>,
  fromParties: ProtocolMessage[],
): { toParties: ProtocolMessage[] } {
  const toParties: ProtocolMessage[] = [];
  for (const m of fromParties) {
    const step = aggregator.handle(m);
    assert.notEqual(step.kind, 'abort', JSON.stringify(step));
    toParties.push(...step.outgoing);
  }
  void roles;
  return { toParties };
}

/** Each role's answer to its message, in order. */
async function answersOf(
  roles: Map<string, PartySignerRole>,
  messages: ProtocolMessage[],
): Promise<ProtocolMessage[]> {
  const out: ProtocolMessage[] = [];
  for (const m of messages) {
    const step = await roles.get(m.to)!.handle(m);
    assert.equal(step.kind, 'continue', JSON.stringify(step));
    out.push(...step.outgoing);
  }
  return out;
}

describe('ecdsa engine: the one-time secret and hostile messages', () => {
  test('the secret is named after phase 1, spent by round 3, and phase 3 never runs twice', async () => {
    const { engine } = await seededEcdsaEngine(3, 'secret');
    const keys = ecdsaFixture(2, 3).keys;
    const { aggregator, roles, queue } = await startRoles(engine, keys, ['p1', 'p2']);
    const p1 = roles.get('p1')!;
    const secret = p1.oneTimeSecret();
    assert.ok(secret);
    assert.equal(secret.spentAtRound, 3);
    assert.match(secret.id, /^dkls23-sign:[0-9a-f]{64}:p1$/, 'named by the sign id and the party');
    let toParties = deliverRound(aggregator, roles, queue).toParties;
    const round2Answers = await answersOf(roles, toParties);
    assert.deepEqual(p1.oneTimeSecret(), secret, 'still held after round 2');
    toParties = deliverRound(aggregator, roles, round2Answers).toParties;
    const round3ForP1 = toParties.find((m) => m.to === 'p1')!;
    const step = await p1.handle(round3ForP1);
    assert.equal(step.kind, 'continue');
    assert.equal(p1.oneTimeSecret(), undefined, 'spent by round 3');
    const again = await p1.handle(round3ForP1);
    assert.equal(again.kind, 'abort', 'a replayed round 3 does not run phase 3 again');
  });

  test('a malformed message from a peer is blamed on it, and the engine never sees it', async () => {
    const { engine } = await seededEcdsaEngine(4, 'hostile');
    const keys = ecdsaFixture(2, 3).keys;
    const { aggregator, roles, queue } = await startRoles(engine, keys, ['p1', 'p3']);
    const { toParties } = deliverRound(aggregator, roles, queue);
    const forP1 = toParties.find((m) => m.to === 'p1')!;
    const sealed = forP1.payload['sealed'] as Record<string, string>;
    // p3's phase-1 message to p1, cut short by one byte.
    const cut = { ...forP1, payload: { sealed: { p3: sealed['p3']!.slice(0, -2) } } };
    const step = await roles.get('p1')!.handle(cut);
    assert.equal(step.kind, 'abort');
    if (step.kind === 'abort') {
      assert.deepEqual(step.abort.blamed, ['p3']);
      assert.match(step.abort.reason, /truncated|trailing/);
    }
  });

  test("the engine's own abort blames nobody (its index names the detector)", async () => {
    const { engine } = await seededEcdsaEngine(5, 'engine-abort');
    const keys = ecdsaFixture(2, 3).keys;
    const { aggregator, roles, queue } = await startRoles(engine, keys, ['p1', 'p2']);
    let toParties = deliverRound(aggregator, roles, queue).toParties;
    const answers = await answersOf(roles, toParties);
    toParties = deliverRound(aggregator, roles, answers).toParties;
    // p2's phase-2 message to p1 with a well-formed but wrong psi (p2 cheats in shape only).
    const forP1 = toParties.find((m) => m.to === 'p1')!;
    const box = hexToBytes((forP1.payload['sealed'] as Record<string, string>)['p2']!);
    const psiAt = 2 + 33 + 33; // parties (2 bytes), gamma_u, gamma_v
    box[psiAt + 31] = (box[psiAt + 31]! ^ 1) & 0xff;
    const tampered = { ...forP1, payload: { sealed: { p2: bytesToHex(box) } } };
    // Phase 3 takes it (psi is checked only through the final signature): both broadcast.
    const round3 = await answersOf(roles, [tampered, toParties.find((m) => m.to === 'p2')!]);
    toParties = deliverRound(aggregator, roles, round3).toParties;
    const step = await roles.get('p1')!.handle(toParties.find((m) => m.to === 'p1')!);
    assert.equal(step.kind, 'abort');
    if (step.kind === 'abort') {
      assert.deepEqual(step.abort.blamed, []);
      assert.match(JSON.stringify(step.abort.evidence), /Invalid ECDSA signature/);
    }
  });

  test('a signer set other than t is refused before the engine runs (it would panic)', async () => {
    const { engine } = await seededEcdsaEngine(6, 'count');
    const keys = ecdsaFixture(2, 3).keys;
    const role = engine.signer({
      key: keys[0]!,
      message: digestOf('three'),
      signers: ['p1', 'p2', 'p3'],
      rng: (n) => new Uint8Array(n),
      sealer: plainSealer,
      runId: 'w|s|1|1',
    });
    const step = await role.start();
    assert.equal(step.kind, 'abort');
    if (step.kind === 'abort') assert.match(step.abort.reason, /exactly 2 signers/);
  });

  test('a box of round 1 relayed as round 2 is blamed on the relay, not on its sealer', async () => {
    const { engine } = await seededEcdsaEngine(7, 'replay-box');
    const keys = ecdsaFixture(2, 3).keys;
    const { aggregator, roles, queue } = await startRoles(engine, keys, ['p1', 'p2']);
    const toParties = deliverRound(aggregator, roles, queue).toParties;
    const answers = await answersOf(roles, toParties);
    const forP1Round2 = toParties.find((m) => m.to === 'p1')!;
    void answers;
    // p1 now waits for round 3; the coordinator hands it p2's round-1 box again.
    const step = await roles.get('p1')!.handle({ ...forP1Round2, round: 3 });
    assert.equal(step.kind, 'abort');
    if (step.kind === 'abort') assert.deepEqual(step.abort.blamed, ['coordinator']);
  });

  test('phase-3 values: out of range blamed on their sender; u summing to zero on the relay', async () => {
    const { engine } = await seededEcdsaEngine(8, 'broadcasts');
    const keys = ecdsaFixture(2, 3).keys;
    const { aggregator, roles, queue } = await startRoles(engine, keys, ['p1', 'p2']);
    let toParties = deliverRound(aggregator, roles, queue).toParties;
    toParties = deliverRound(aggregator, roles, await answersOf(roles, toParties)).toParties;
    const round3 = await answersOf(roles, toParties);
    // The aggregator checks each sender's values where its signed envelope is the evidence.
    const order = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
    const bad = { ...round3[0]!, payload: { ...round3[0]!.payload, u: order } };
    assert.equal(aggregator.handle(bad).kind, 'continue', 'checked once every broadcast is in');
    const step = aggregator.handle(round3[1]!);
    assert.equal(step.kind, 'abort');
    if (step.kind === 'abort') assert.deepEqual(step.abort.blamed, [bad.from]);
    // A coordinator choosing u values that sum to zero would make the engine panic.
    const x = String(round3[0]!.payload['x']);
    const a = BigInt('0x1234');
    const minus = (BigInt(`0x${order}`) - a).toString(16).padStart(64, '0');
    const w = '00'.repeat(31) + '01';
    const broadcasts = { p1: { u: a.toString(16).padStart(64, '0'), w }, p2: { u: minus, w } };
    const zero = await roles.get('p1')!.handle({
      from: 'coordinator',
      to: 'p1',
      round: 4,
      payload: { x, broadcasts },
    });
    assert.equal(zero.kind, 'abort');
    if (zero.kind === 'abort') assert.deepEqual(zero.abort.blamed, ['coordinator']);
  });
});
