/**
 * The Store contract for the scale of history (issue 13, part 3), run on every store by
 * {@link storeContract}: the takeover candidates, cursor paging with bounded page sizes, and
 * retention (removal keeps the intent lock, so an archived intent is never signed again: I1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuorateError } from '../../src/core/errors.ts';
import { limits } from '../../src/core/limits.ts';
import type { Page, Store } from '../../src/store/store.ts';
import type { SessionRecord } from '../../src/session/record.ts';
import { session, type StoreFactory, type StoreUnderTest } from './store-contract.ts';

const ttlMs = limits.storeLeaseTtlMsMin;

const isCode =
  (code: string, reason?: string) =>
  (e: unknown): boolean =>
    e instanceof QuorateError &&
    e.code === code &&
    (reason === undefined || e.detail['reason'] === reason);

async function withStore(f: StoreFactory, body: (t: StoreUnderTest) => Promise<void>) {
  const t = await f.open();
  try {
    await body(t);
  } finally {
    await t.cleanup();
  }
}

/** Every page of a listing, following cursors (bounded, so a looping cursor fails the test). */
async function allPages<T>(
  read: (cursor: string | undefined) => Promise<Page<T>>,
  pagesMax = 100,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let pages = 1; pages <= pagesMax; pages++) {
    const page = await read(cursor);
    items.push(...page.items);
    if (page.nextCursor === undefined) return { items, pages };
    cursor = page.nextCursor;
  }
  throw new Error('the listing did not end');
}

/** Creates a session and moves it to `status` (one CAS); returns its version. */
async function put(store: Store, record: SessionRecord, status: SessionRecord['status']) {
  const created = await store.createSession(record);
  if (status === record.status) return created.session.version;
  return (await store.casSession(record.sessionId, 1, { ...record, status })).version;
}

export function historyTests(f: StoreFactory): void {
  test('takeover candidates: unowned, own and expired owners; never a live foreign owner', () =>
    withStore(f, async (t) => {
      const { store } = t;
      const a = await store.acquireLease('replica-a', ttlMs);
      const b = await store.acquireLease('replica-b', ttlMs);
      await store.createSession(session({ sessionId: 'free' }, 10));
      await store.createSession(session({ sessionId: 'of-a' }, 20), { lease: a });
      await store.createSession(session({ sessionId: 'of-b' }, 30), { lease: b });
      const done = session({ sessionId: 'done' }, 40);
      await put(store, done, 'signed');
      const ids = async (lease = a) =>
        (await store.listTakeoverCandidates(lease, 100)).map((h) => h.sessionId);
      assert.deepEqual(await ids(), ['free', 'of-a'], 'b is live: its session is not read');
      const ofA = (await store.listTakeoverCandidates(a, 100))[1];
      assert.deepEqual(ofA?.owner, { ownerId: 'replica-a', leaseId: a.leaseId });
      assert.deepEqual(await ids(), ['free', 'of-a']);
      assert.deepEqual(await ids(b), ['free', 'of-b']);
      assert.deepEqual(
        (await store.listTakeoverCandidates(a, 1)).map((h) => h.sessionId),
        ['free'],
        'bounded, oldest first',
      );
      await t.elapse(ttlMs + f.leaseSlackMs);
      const c = await store.acquireLease('replica-c', ttlMs);
      assert.deepEqual(await ids(c), ['free', 'of-a', 'of-b'], 'expired owners are candidates');
      const claim = await store.claimSession('of-b', 1, c);
      assert.equal(claim.claimed, true);
      const d = await store.acquireLease('replica-d', ttlMs);
      assert.deepEqual(await ids(d), ['free', 'of-a'], 'the claim moved the owner in the index');
    }));

  test('paging: sessions newest first by cursor, filtered by wallet and status, exactly once', () =>
    withStore(f, async (t) => {
      const { store } = t;
      const expected: string[] = [];
      for (let i = 0; i < 23; i++) {
        const id = `p${String(i).padStart(2, '0')}`;
        // Two sessions share each creation time: the session id breaks the tie.
        const record = session({ sessionId: id, walletId: i % 2 ? 'odd' : 'even' }, 100 + (i >> 1));
        await put(store, record, i % 3 === 0 ? 'signed' : 'pending');
        expected.unshift(id);
      }
      const ids = (items: { value: SessionRecord }[]) => items.map((s) => s.value.sessionId);
      const all = await allPages((cursor) =>
        store.listSessionsPage({ limit: 5, ...(cursor ? { cursor } : {}) }),
      );
      assert.deepEqual(ids(all.items), expected);
      assert.equal(all.pages, 5);
      const odd = await allPages((cursor) =>
        store.listSessionsPage({ limit: 4, walletId: 'odd', ...(cursor ? { cursor } : {}) }),
      );
      assert.deepEqual(
        ids(odd.items),
        expected.filter((id) => Number(id.slice(1)) % 2 === 1),
      );
      const signedEven = await allPages((cursor) =>
        store.listSessionsPage({
          limit: 2,
          walletId: 'even',
          status: 'signed',
          ...(cursor ? { cursor } : {}),
        }),
      );
      assert.deepEqual(
        ids(signedEven.items),
        expected.filter((id) => Number(id.slice(1)) % 2 === 0 && Number(id.slice(1)) % 3 === 0),
      );
      assert.deepEqual((await store.listSessionsPage({ limit: 3, walletId: 'none' })).items, []);
    }));

  test('paging: page sizes above the maximum, zero or fractional, and bad cursors are refused', () =>
    withStore(f, async (t) => {
      const { store } = t;
      for (const limit of [0, -1, 1.5, limits.storePageSizeMax + 1]) {
        await assert.rejects(store.listSessionsPage({ limit }), isCode('QUORATE_E_BAD_REQUEST'));
        await assert.rejects(store.listWalletsPage({ limit }), isCode('QUORATE_E_BAD_REQUEST'));
      }
      const page = await store.listSessionsPage({ limit: limits.storePageSizeMax });
      assert.deepEqual(page.items, []);
      for (const cursor of [
        '',
        'not-base64!',
        Buffer.from('[1]').toString('base64url'),
        'x'.repeat(limits.storeCursorCharsMax + 1),
      ]) {
        await assert.rejects(
          store.listSessionsPage({ limit: 1, cursor }),
          isCode('QUORATE_E_BAD_REQUEST', 'bad-cursor'),
        );
        await assert.rejects(
          store.listWalletsPage({ limit: 1, cursor }),
          isCode('QUORATE_E_BAD_REQUEST', 'bad-cursor'),
        );
      }
    }));

  test('paging: wallets by id, exactly once', () =>
    withStore(f, async (t) => {
      const { store } = t;
      const idsWanted = Array.from(
        { length: 11 },
        (_, i) => `wallet-${String(i).padStart(2, '0')}`,
      );
      for (const walletId of [...idsWanted].reverse()) {
        await store.createWallet({
          walletId,
          scheme: 'bip340',
          threshold: 2,
          parties: ['a', 'b', 'c'],
          publicKey: '00',
          publicPackage: {},
          createdMs: 1,
        });
      }
      const all = await allPages((cursor) =>
        store.listWalletsPage({ limit: 4, ...(cursor ? { cursor } : {}) }),
      );
      assert.deepEqual(
        all.items.map((w) => w.walletId),
        idsWanted,
      );
      assert.equal(all.pages, 3);
    }));

  test('retention: old finished sessions are listed and removed with their evidence; the intent stays spent (I1)', () =>
    withStore(f, async (t) => {
      const { store } = t;
      const old = session({ sessionId: 'old', walletId: 'wr', intentKey: 'k-old' }, 100);
      const oldFailed = session({ sessionId: 'old-failed', walletId: 'wr' }, 110);
      const oldActive = session({ sessionId: 'old-active', walletId: 'wr' }, 120);
      const recent = session({ sessionId: 'recent', walletId: 'wr' }, 5_000);
      const vOld = await put(store, old, 'signed');
      const vFailed = await put(store, oldFailed, 'failed');
      await put(store, oldActive, 'running');
      await put(store, recent, 'signed');
      await store.putEvidence({
        sessionId: 'old',
        attempt: 1,
        partyId: 'p1',
        reason: 'bad-share',
        evidence: { x: 1 },
        recordedMs: 100,
      });
      const listed = await allPages((cursor) => store.listRetainable(1_000, cursor, 1));
      assert.deepEqual(
        listed.items.map((r) => [r.session.value.sessionId, r.session.version]),
        [
          ['old', vOld],
          ['old-failed', vFailed],
        ],
      );
      assert.equal(listed.items[0]?.evidence.length, 1, 'evidence travels with the archive');
      assert.equal(
        await store.removeSessions([
          { sessionId: 'old', version: vOld },
          { sessionId: 'old-failed', version: vFailed + 1 }, // moved since: kept
          { sessionId: 'old-active', version: 2 }, // not finished: kept
          { sessionId: 'absent', version: 1 },
        ]),
        1,
      );
      assert.equal(await store.getSession('old'), undefined);
      assert.deepEqual(await store.listEvidence('old'), []);
      assert.ok(await store.getSession('old-failed'));
      assert.ok(await store.getSession('old-active'));
      const velocity = await store.listWalletSessions('wr', 0, 10);
      assert.deepEqual(velocity.sessions.map((s) => s.sessionId).sort(), [
        'old-active',
        'old-failed',
        'recent',
      ]);
      const page = await store.listSessionsPage({ limit: 10, walletId: 'wr' });
      assert.ok(!page.items.some((s) => s.value.sessionId === 'old'));
      // I1: the archived intent is never signed again, whatever the message.
      for (const messageHash of [old.messageHash, 'another']) {
        const again = session({
          sessionId: `again-${messageHash}`,
          walletId: 'wr',
          intentKey: 'k-old',
          messageHash,
        });
        await assert.rejects(store.createSession(again), (e: unknown) => {
          assert.ok(isCode('QUORATE_E_INTENT_ARCHIVED')(e));
          const detail = (e as QuorateError).detail;
          assert.equal(detail['sessionId'], 'old');
          assert.equal(detail['sameMessage'], messageHash === old.messageHash);
          return true;
        });
        assert.equal(await store.getSession(again.sessionId), undefined, 'nothing was written');
      }
      const reopened = await t.restart();
      await assert.rejects(
        reopened.createSession(
          session({ sessionId: 'after-restart', walletId: 'wr', intentKey: 'k-old' }),
        ),
        isCode('QUORATE_E_INTENT_ARCHIVED'),
      );
      assert.deepEqual(
        (await reopened.listRetainable(1_000, undefined, 10)).items.map(
          (r) => r.session.value.sessionId,
        ),
        ['old-failed'],
      );
      await reopened.close();
    }));
}
