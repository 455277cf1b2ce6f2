/**
 * Heartbeat classes and the scale of parties (issue 13, part 4), on a virtual clock: the
 * coordinator's registry pings each party on the interval its hello announced (a backend every
 * second, a mobile every 30 s, on demand), its detector and down-after scale with that
 * interval, announcements beyond the limits are refused, and the listing stays right with
 * thousands of parties. No wall-clock timing is asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  PartyRegistry,
  defaultDetectorOptions,
  type RegistryOptions,
} from '../../src/coordinator/party-registry.ts';
import { CoordinatorMetrics } from '../../src/coordinator/metrics.ts';
import { seededRandom } from '../../src/core/seeded-random.ts';
import { limits } from '../../src/core/limits.ts';
import { PhiAccrualDetector, defaultPhiOptions } from '../../src/detector/phi-accrual.ts';
import { RttWindow } from '../../src/detector/rtt-window.ts';
import { partySilenceMs, silenceMsFor } from '../../src/party/handshake.ts';
import { coordinatorRole } from '../../src/protocol/engine.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';
import { SimNode } from '../../src/sim/sim-env.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { EnvelopeSender } from '../../src/transport/envelope.ts';
import { generateIdentity, signDetached, type IdentityKeys } from '../../src/transport/identity.ts';
import {
  buildEnvelopeFrame,
  buildHello,
  buildPong,
  helloDomain,
  helloTranscript,
  validateChallenge,
  validateEnvelopeFrame,
} from '../../src/transport/wire.ts';
import { linkPair, type TestLink } from '../helpers/link-pair.ts';

const partySecret = 'heartbeat-classes-party-secret';

/** A fake party on the far end of an in-memory link: counts pings, answers them if told to. */
interface FakeParty {
  partyId: string;
  link: TestLink;
  pings: number;
  answering: boolean;
  rejected: string | undefined;
}

/** A registry on a memory store and a virtual clock; parties enrol with the shared secret. */
function world(seed: number, extra: RegistryOptions = {}) {
  const scheduler = new Scheduler();
  const rng = seededRandom(seed, 'heartbeat-classes');
  const env = new SimNode('coordinator', scheduler, rng, 0).env();
  const registry = new PartyRegistry(
    env,
    new MemoryStore(),
    generateIdentity(rng.bytes(64)),
    partySecret,
    defaultDetectorOptions,
    { onEnvelope: () => {}, onDisconnect: () => {}, onStateChange: () => {} },
    extra,
  );
  const identities = new Map<string, IdentityKeys>();
  const connect = (partyId: string, heartbeatMs?: unknown): FakeParty => {
    // One identity per party id: a second connection proves the pinned keys.
    const identity = identities.get(partyId) ?? generateIdentity(rng.bytes(64));
    identities.set(partyId, identity);
    const [coordSide, partyEnd] = linkPair();
    const party: FakeParty = {
      partyId,
      link: partyEnd,
      pings: 0,
      answering: true,
      rejected: undefined,
    };
    let sender: EnvelopeSender | undefined;
    partyEnd.onFrame((raw) => {
      const frame = raw as { t: string; message?: string };
      if (frame.t === 'challenge') {
        const challenge = validateChallenge(raw);
        assert.ok(challenge.ok);
        const { conn, nonce } = challenge.value;
        const identityKey = bytesToHex(identity.signPublic);
        const boxKey = bytesToHex(identity.boxPublic);
        const transcript = helloTranscript({ conn, nonce, partyId, identityKey, boxKey });
        const hello = buildHello({
          partyId,
          identityKey,
          boxKey,
          proof: bytesToHex(signDetached(helloDomain, transcript, identity.signSecret)),
          enrollMac: bytesToHex(hmac(sha256, utf8ToBytes(partySecret), transcript)),
        });
        // The raw frame may carry anything: the registry validates it.
        partyEnd.send(heartbeatMs === undefined ? hello : { ...hello, heartbeatMs });
        sender = new EnvelopeSender(partyId, coordinatorRole, conn, identity.signSecret);
      } else if (frame.t === 'reject') {
        party.rejected = frame.message;
      } else if (frame.t === 'env') {
        const env = validateEnvelopeFrame(raw);
        if (!env.ok || env.value.e.kind !== 'ping' || sender === undefined) return;
        party.pings += 1;
        if (party.answering)
          partyEnd.send(buildEnvelopeFrame(sender.build(buildPong(env.value.e.seq))));
      }
    });
    registry.accept(coordSide);
    return party;
  };
  /** Advances virtual time by `ms` (timers fire, promises settle between them). */
  const advance = (ms: number) => scheduler.runUntil(scheduler.nowMs + ms);
  /** Virtual ms until `partyId` is `state`, polled every 100 ms, at most `boundMs`. */
  const timeUntil = async (partyId: string, state: string, boundMs: number) => {
    const t0 = scheduler.nowMs;
    while (scheduler.nowMs - t0 < boundMs) {
      if (registry.stateOf(partyId) === state) return scheduler.nowMs - t0;
      await advance(100);
    }
    return Infinity;
  };
  return { registry, connect, advance, timeUntil, scheduler };
}

test('each class is pinged on its own interval: backend every second, mobile every 30 s, on demand only as keepalive', async () => {
  const w = world(1);
  await w.registry.start();
  const backend = w.connect('backend');
  const mobile = w.connect('mobile', 30_000);
  const onDemand = w.connect('on-demand', 'on-demand');
  const tooFast = w.connect('too-fast', 100);
  await w.advance(300_000);
  assert.ok(backend.pings >= 295 && backend.pings <= 301, `backend pinged ${backend.pings} times`);
  assert.ok(mobile.pings >= 9 && mobile.pings <= 10, `mobile pinged ${mobile.pings} times`);
  // One ping on connecting (its first RTT sample), then keepalives only.
  const keepalives = 1 + 300_000 / limits.heartbeatOnDemandKeepaliveMs;
  assert.ok(onDemand.pings <= keepalives, `on-demand pinged ${onDemand.pings} times`);
  // A party cannot make the coordinator ping it faster than the coordinator's own interval.
  assert.ok(tooFast.pings <= backend.pings, `too-fast pinged ${tooFast.pings} times`);
  for (const p of ['backend', 'mobile', 'on-demand', 'too-fast'])
    assert.equal(w.registry.stateOf(p), 'alive', p);
  w.registry.stop();
});

test('a silent party is declared down within a bounded multiple of ITS interval, not sooner', async () => {
  const w = world(2);
  await w.registry.start();
  const backend = w.connect('backend');
  const mobile = w.connect('mobile', 30_000);
  await w.advance(200_000); // the detectors learn both intervals
  // Half-open: the links stay open, nothing answers.
  backend.answering = false;
  mobile.answering = false;
  const backendDownMs = await w.timeUntil('backend', 'down', 60_000);
  assert.ok(backendDownMs <= 6 * 1_000, `backend down after ${backendDownMs} ms`);
  // 20 s of silence is normal for a 30 s mobile: a coordinator ignoring its class would have
  // declared it down after 5 s.
  assert.notEqual(w.registry.stateOf('mobile'), 'down');
  const mobileDownMs = await w.timeUntil('mobile', 'down', 400_000);
  const bound = (defaultDetectorOptions.downAfterMs / 1_000 + 1) * 30_000;
  assert.ok(mobileDownMs <= bound, `mobile down after ${backendDownMs + mobileDownMs} ms`);
  assert.ok(backendDownMs + mobileDownMs >= 30_000, 'the mobile was given at least one interval');
  // The coordinator closes a link that stays down (its slot is freed).
  await w.advance(60_000);
  assert.equal(mobile.link.isOpen, false);
  w.registry.stop();
});

test('an on-demand party is alive while connected, probed when it is a candidate, down if the probe goes unanswered', async () => {
  const w = world(3);
  await w.registry.start();
  const party = w.connect('phone', 'on-demand');
  await w.advance(100_000);
  assert.equal(w.registry.stateOf('phone'), 'alive', 'no heartbeat needed while connected');
  const pingsBefore = party.pings;
  w.registry.candidates(['phone']);
  assert.equal(party.pings, pingsBefore + 1, 'about to be chosen: probed');
  await w.advance(1_000);
  assert.equal(w.registry.stateOf('phone'), 'alive', 'probe answered');
  party.answering = false;
  await w.advance(limits.heartbeatOnDemandProbeAfterMs);
  w.registry.candidates(['phone']);
  const downMs = await w.timeUntil('phone', 'down', 30_000);
  assert.ok(downMs <= defaultDetectorOptions.downAfterMs, `down ${downMs} ms after the probe`);
  w.registry.stop();
});

test('heartbeat announcements beyond the limits are refused at the hello', async () => {
  const w = world(4);
  await w.registry.start();
  const bad: unknown[] = [
    limits.partyHeartbeatMsMax + 1,
    limits.heartbeatIntervalMsMin - 1,
    1.5e3 + 0.5,
    'often',
    -1,
  ];
  const parties = bad.map((heartbeatMs, i) => w.connect(`bad-${i}`, heartbeatMs));
  const ok = w.connect('slowest', limits.partyHeartbeatMsMax);
  await w.advance(10);
  for (const p of parties) {
    assert.match(p.rejected ?? '', /invalid heartbeat/, p.partyId);
    assert.equal(w.registry.isConnected(p.partyId), false, p.partyId);
  }
  assert.equal(ok.rejected, undefined);
  assert.equal(w.registry.isConnected('slowest'), true);
  w.registry.stop();
});

test('the listing stays right with thousands of parties: sorted, every new one in it, down when gone', async () => {
  const w = world(5);
  await w.registry.start();
  const count = 2_000;
  const parties: FakeParty[] = [];
  for (let i = 0; i < count; i++) {
    parties.push(w.connect(`p-${String(i).padStart(5, '0')}`, 30_000));
    // Handshakes in flight stay within handshakesPendingMax, as a reconnect storm's would.
    if (i % 256 === 255) await w.advance(1);
  }
  await w.advance(60_000);
  let rows = w.registry.snapshot();
  assert.equal(rows.length, count);
  assert.deepEqual(
    rows.map((r) => r.partyId),
    parties.map((p) => p.partyId),
  );
  assert.ok(rows.every((r) => r.state === 'alive'));
  // A party that joins after a listing is in the next one, in order.
  w.connect('a-late-party');
  await w.advance(10);
  rows = w.registry.snapshot();
  assert.equal(rows[0]?.partyId, 'a-late-party');
  assert.equal(rows.length, count + 1);
  // Closed links are down at once; pings went to the live ones only.
  for (const p of parties.slice(0, 10)) p.link.close('gone');
  rows = w.registry.snapshot();
  assert.equal(rows.filter((r) => r.state === 'down').length, 10);
  const enrolment = await w.registry.enrolmentOf(rows.map((r) => r.partyId));
  assert.ok(Object.values(enrolment).every((e) => e === 'enrolled'));
  // 2 000 mobiles for 60 s: about 2 pings each, not 60 (the wheel pings only the links due).
  const pings = parties.reduce((sum, p) => sum + p.pings, 0);
  assert.ok(pings <= 2 * count + 10, `${pings} pings`);
  w.registry.stop();
});

test('idle registered links that never answer free their slots: a genuine party gets in (bounded connections)', async () => {
  const connectionsMax = 8;
  const w = world(6, { connectionsMax });
  await w.registry.start();
  const squatters = Array.from({ length: connectionsMax }, (_, i) => w.connect(`squat-${i}`));
  for (const s of squatters) s.answering = false;
  await w.advance(10);
  const refused = w.connect('genuine');
  await w.advance(10);
  assert.match(refused.rejected ?? '', /too many connections/);
  await w.advance(defaultDetectorOptions.downAfterMs + 2_000);
  assert.ok(
    squatters.every((s) => !s.link.isOpen),
    'unanswered links were closed',
  );
  w.connect('genuine');
  await w.advance(10);
  assert.equal(w.registry.isConnected('genuine'), true);
  assert.equal(w.registry.stateOf('squat-0'), 'down');
  w.registry.stop();
});

test('a party times the silence of its connection by its own class', () => {
  assert.equal(partySilenceMs(1_000, undefined), silenceMsFor(1_000), 'no class: as before');
  assert.equal(partySilenceMs(1_000, 30_000), 150_000);
  assert.equal(partySilenceMs(1_000, 500), silenceMsFor(1_000), 'pinged no faster than 1 s');
  assert.equal(partySilenceMs(1_000, 'on-demand'), limits.partyCoordinatorSilenceMsMax);
  assert.ok(partySilenceMs(1_000, 'on-demand') > limits.heartbeatOnDemandKeepaliveMs);
});

test('phi and RTT percentiles from running sums equal the direct computation', () => {
  const rng = seededRandom(7, 'phi');
  const options = { ...defaultPhiOptions, windowSize: 16, outageFactor: 1e9, threshold: 1e9 };
  const d = new PhiAccrualDetector(options);
  const intervals: number[] = [];
  const rtt = new RttWindow(8);
  const rtts: number[] = [];
  let t = 0;
  let previous = options.firstIntervalMs; // the seed the first heartbeat learns
  for (let i = 0; i < 500; i++) {
    d.heartbeat(t);
    intervals.push(previous);
    const elapsed = 500 + rng.int(0, 1_000);
    const window = intervals.slice(-options.windowSize);
    const mean = window.reduce((s, x) => s + x, 0) / window.length;
    const std = Math.max(
      Math.sqrt(window.reduce((s, x) => s + (x - mean) ** 2, 0) / window.length),
      options.minStdDevMs,
    );
    const z = (elapsed - mean) / std;
    t += elapsed;
    previous = elapsed;
    const e = Math.exp(-z * (1.5976 + 0.070566 * z * z));
    const p = z > 0 ? e / (1 + e) : 1 - 1 / (1 + e);
    assert.ok(
      Math.abs(d.phi(t) - Math.min(100, -Math.log10(Math.max(p, 1e-100)))) < 1e-6,
      `beat ${i}`,
    );
    const sample = rng.int(1, 100);
    rtt.push(sample);
    rtts.push(sample);
    const sorted = rtts.slice(-8).sort((a, b) => a - b);
    assert.equal(rtt.percentile(50), sorted[Math.floor(0.5 * sorted.length)]);
    assert.equal(
      rtt.percentile(99),
      sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))],
    );
  }
});

test('pages of the listing by state: every party of the state exactly once, rows as listed, counts for /metrics', async () => {
  const metrics = new CoordinatorMetrics();
  const w = world(6, { metrics });
  await w.registry.start();
  const parties = Array.from({ length: 30 }, (_, i) =>
    w.connect(`q-${String(i).padStart(2, '0')}`),
  );
  await w.advance(3_000);
  // Every third one goes away: down at once; the others stay alive.
  for (const p of parties.filter((_, i) => i % 3 === 0)) p.link.close('gone');
  const all = w.registry.snapshot();
  const pagesOf = (state: 'alive' | 'down') => {
    const rows = [];
    let after: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = w.registry.snapshotPage({ limit: 4, state, ...(after ? { after } : {}) });
      assert.ok(page.rows.length <= 4 && page.rows.every((r) => r.state === state));
      rows.push(...page.rows);
      if (!page.more) break;
      after = page.rows[page.rows.length - 1]?.partyId;
    }
    return rows;
  };
  const alive = pagesOf('alive');
  const down = pagesOf('down');
  assert.equal(alive.length, 20);
  assert.equal(down.length, 10);
  assert.deepEqual(
    alive,
    all.filter((r) => r.state === 'alive'),
  );
  assert.deepEqual(
    down,
    all.filter((r) => r.state === 'down'),
  );
  // A page that ends exactly on the last match says there is no more.
  assert.equal(w.registry.snapshotPage({ limit: 10, state: 'down' }).more, false);
  assert.equal(w.registry.snapshotPage({ limit: 9, state: 'down' }).more, true);
  assert.deepEqual(
    w.registry.snapshotOf('q-01'),
    all.find((r) => r.partyId === 'q-01'),
  );
  assert.equal(w.registry.snapshotOf('nobody'), undefined);
  const counts = Object.fromEntries(
    (await metrics.parties.get()).values.map((v) => [String(v.labels.state), v.value]),
  );
  assert.deepEqual(counts, { alive: 20, suspect: 0, down: 10 });
  w.registry.stop();
});
