/**
 * Issue 12 finding 3: velocity counted over the newest 20 000 sessions of the WHOLE store, so
 * after 20 000 sessions of another wallet a transfer the rule should deny was allowed. Velocity
 * now comes from each store's per-wallet index, and a count that cannot be established denies
 * (`cause: 'velocity-unavailable'`). Run on the memory store and on SQLite; the other wallet's
 * sessions are written straight into the store (admission plays no part in the count).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuorateError } from '../../src/core/errors.ts';
import { limits } from '../../src/core/limits.ts';
import { evaluateSession, velocityEvents } from '../../src/coordinator/governance.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store, WalletRecord } from '../../src/store/store.ts';
import type { SessionRecord } from '../../src/session/record.ts';
import { loadRetail, mondayMorningMs } from '../policy-rules/rules-fixture.ts';
import { sessionRecord } from '../helpers/session-fixture.ts';

/** The old whole-store scan window (limits.velocitySessionsScanMax before the fix). */
const oldScanWindow = 20_000;
const hourMs = 3_600_000;
const nowMs = mondayMorningMs;

const policy = loadRetail([
  {
    id: 'daily-cap',
    effect: 'allow',
    when: "asset == 'USDC'",
    velocity: [{ window: '24h', maxAmount: '1000' }],
  },
]);

const wallet: WalletRecord = {
  walletId: 'governed',
  scheme: 'bip340',
  threshold: 2,
  parties: ['mobile', 'backend', 'guardian'],
  publicKey: 'pk',
  publicPackage: {},
  createdMs: 0,
  tier: 'retail',
};

const transfer = (id: string, amount: string, over: Partial<SessionRecord> = {}) =>
  sessionRecord({
    sessionId: id,
    intentKey: id,
    walletId: wallet.walletId,
    context: { amount, asset: 'USDC' },
    ...over,
  });

/** Writes `count` signed sessions of `walletId`, counted from `fromMs` on, 1 ms apart. */
async function flood(store: Store, walletId: string, count: number, fromMs: number) {
  for (let i = 0; i < count; i++) {
    const id = `${walletId}-${i}`;
    await store.createSession(
      sessionRecord({ sessionId: id, intentKey: id, walletId, createdMs: fromMs + i }),
    );
  }
}

const stores: [string, () => Store][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => new SqliteStore(':memory:')],
];

for (const [name, open] of stores) {
  test(`finding 3 (${name}): another wallet's ${oldScanWindow + 1} newer sessions do not hide this wallet's spending`, async () => {
    const store = open();
    try {
      const spentMs = nowMs - 2 * hourMs;
      for (const id of ['spent-1', 'spent-2']) {
        await store.createSession(transfer(id, '450', { status: 'signed', createdMs: spentMs }));
      }
      await flood(store, 'other', oldScanWindow + 1, spentMs + 1);
      const next = transfer('next', '200', { createdMs: nowMs });
      const decision = await evaluateSession(policy, store, wallet, next, nowMs);
      assert.equal(decision.effect, 'deny', '450 + 450 + 200 USDC exceeds 1000 in 24 h');
      assert.equal(decision.effect === 'deny' && decision.cause, 'velocity');
      const within = transfer('within', '100', { createdMs: nowMs });
      const allowed = await evaluateSession(policy, store, wallet, within, nowMs);
      assert.equal(allowed.effect, 'allow', '900 + 100 fits: the count is exact, not high');
    } finally {
      await store.close();
    }
  });
}

const unavailable = (e: unknown): boolean =>
  e instanceof QuorateError &&
  e.code === 'QUORATE_E_POLICY_DENIED' &&
  e.detail['cause'] === 'velocity-unavailable';

test('velocity-unavailable: more sessions of one wallet in the window than one read holds', async () => {
  const store = new MemoryStore();
  await flood(store, wallet.walletId, limits.velocityWalletSessionsMax, nowMs - hourMs);
  const events = await velocityEvents(store, wallet.walletId, nowMs);
  assert.equal(events.length, limits.velocityWalletSessionsMax, 'exactly the limit still counts');
  await flood(store, `${wallet.walletId}-more`, 1, nowMs); // another wallet: no effect
  await store.createSession(transfer('one-more', '1', { createdMs: nowMs }));
  await assert.rejects(velocityEvents(store, wallet.walletId, nowMs), unavailable);
  const next = transfer('next', '1', { createdMs: nowMs });
  await assert.rejects(evaluateSession(policy, store, wallet, next, nowMs), unavailable);
});

/** `store` with its wallet index read replaced by `listing`. */
function withListing(store: Store, listing: Store['listWalletSessions']): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'listWalletSessions') return listing;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function'
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

test('velocity-unavailable: a failing store read or an inconsistent index denies, never counts 0', async () => {
  const store = new MemoryStore();
  const failing = withListing(store, () =>
    Promise.reject(new QuorateError('QUORATE_E_STORE_UNAVAILABLE', 'cut')),
  );
  await assert.rejects(velocityEvents(failing, wallet.walletId, nowMs), unavailable);
  const stray = transfer('stray', '1', { walletId: 'someone-else' });
  const lying = withListing(store, () => Promise.resolve({ sessions: [stray], complete: true }));
  await assert.rejects(velocityEvents(lying, wallet.walletId, nowMs), unavailable);
  const stale = transfer('stale', '1', { createdMs: 0 });
  const old = withListing(store, () => Promise.resolve({ sessions: [stale], complete: true }));
  await assert.rejects(velocityEvents(old, wallet.walletId, nowMs), unavailable);
});
