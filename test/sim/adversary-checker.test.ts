/**
 * The adversarial checker fails on broken histories: each of A1 (opened share, rebuilt secret,
 * forged signature), A2, I2, A3 and I3 is fed a crafted history that breaks it, and the clean one
 * passes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAdversary } from '../../src/checker/check-adversary.ts';
import type { AdversaryCheckInput, AdversaryRelease } from '../../src/checker/adversary-types.ts';

const release = (over: Partial<AdversaryRelease> = {}): AdversaryRelease => ({
  partyId: 'p1',
  honest: true,
  sessionId: 's1',
  attempt: 1,
  walletId: 'w1',
  messageHash: 'aa',
  commitment: 'c1',
  share: '01',
  governed: false,
  permitted: true,
  reason: 'ungoverned wallet',
  ...over,
});

const clean = (): AdversaryCheckInput => ({
  seed: 1,
  mode: 'coordinator',
  thresholds: { w1: 2 },
  releases: [release(), release({ partyId: 'p2', commitment: 'c2' })],
  activations: [
    { partyId: 'p1', honest: true, walletId: 'w2', publicKey: 'k', packageHash: 'h' },
    { partyId: 'p2', honest: true, walletId: 'w2', publicKey: 'k', packageHash: 'h' },
  ],
  keygens: [],
  loot: {
    openedShares: [{ walletId: 'w2', dealer: 'p1', recipient: 'p3', ownRecipient: true }],
    reconstructions: [{ walletId: 'w1', sharesUsed: 1, matched: false }],
    forgeries: [
      { walletId: 'w1', messageHash: 'bb', method: 'aggregate', verified: false },
      { walletId: 'w1', messageHash: 'aa', method: 'aggregate', verified: true },
    ],
  },
  crashes: [],
});

const invariants = (input: AdversaryCheckInput) => checkAdversary(input).map((v) => v.invariant);

test('a clean history passes (a verified signature on an agreed message is no forgery)', () => {
  assert.deepEqual(checkAdversary(clean()), []);
});

test('A1: an opened box of an honest party, a rebuilt secret, a forged signature', () => {
  const opened = clean();
  opened.loot.openedShares.push({
    walletId: 'w2',
    dealer: 'p1',
    recipient: 'p2',
    ownRecipient: false,
  });
  assert.deepEqual(invariants(opened), ['A1']);
  const rebuilt = clean();
  rebuilt.loot.reconstructions.push({ walletId: 'w1', sharesUsed: 3, matched: true });
  assert.deepEqual(invariants(rebuilt), ['A1']);
  const forged = clean();
  forged.loot.forgeries.push({
    walletId: 'w1',
    messageHash: 'cc',
    method: 'reconstructed-key',
    verified: true,
  });
  assert.deepEqual(invariants(forged), ['A1']);
});

test('A2: an honest share released for a governed request its rules refuse', () => {
  const input = clean();
  input.releases.push(
    release({
      partyId: 'p3',
      commitment: 'c3',
      governed: true,
      permitted: false,
      reason: 'denied',
    }),
  );
  assert.deepEqual(invariants(input), ['A2']);
  // The adversary's own parties may do as they like.
  const own = clean();
  own.releases.push(release({ partyId: 'p3', honest: false, governed: true, permitted: false }));
  assert.deepEqual(invariants(own), []);
});

test('I2: two shares under one commitment from one honest party, or a share without one', () => {
  const reused = clean();
  reused.releases.push(release({ sessionId: 's2', messageHash: 'dd' }));
  assert.deepEqual(invariants(reused), ['I2']);
  const blind = clean();
  blind.releases.push(release({ partyId: 'p3', commitment: '' }));
  assert.deepEqual(invariants(blind), ['I2']);
});

test('A3: one wallet active at two honest parties with different keys or packages', () => {
  const keys = clean();
  keys.activations.push({
    partyId: 'p3',
    honest: true,
    walletId: 'w2',
    publicKey: 'k2',
    packageHash: 'h',
  });
  assert.deepEqual(invariants(keys), ['A3']);
  const packages = clean();
  packages.activations.push({
    partyId: 'p3',
    honest: true,
    walletId: 'w2',
    publicKey: 'k',
    packageHash: 'h2',
  });
  assert.deepEqual(invariants(packages), ['A3']);
});

test('I3: a commitment or share sent under a lower token than one received', () => {
  const stale = clean();
  stale.staleActions = [
    { partyId: 'p1', sessionId: 's1', round: 2, token: 9, highestReceived: 10 },
  ];
  assert.deepEqual(invariants(stale), ['I3']);
  const none = clean();
  none.staleActions = [];
  assert.deepEqual(invariants(none), []);
});

test('a crash of the run is a violation', () => {
  const input = clean();
  input.crashes.push('Error: boom');
  assert.deepEqual(invariants(input), ['CRASH']);
});
