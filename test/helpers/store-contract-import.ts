/**
 * The bulk history import (src/store/seed.ts, used by `npm run bench -- scale`) on every store
 * that has one: what it writes must be exactly what the stores' own writes leave, or the
 * benchmark measures a different store. Checked through the Store methods the coordinator uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limits } from '../../src/core/limits.ts';
import {
  historyRevisions,
  seedHistory,
  seededSession,
  seededWalletId,
  type HistoryImporter,
} from '../../src/store/seed.ts';
import type { Store } from '../../src/store/store.ts';

/** A store with the import, fresh per call, and how to dispose of it. */
export interface ImportingStoreFactory {
  name: string;
  open(): Promise<{ store: Store & HistoryImporter; cleanup(): Promise<void> }>;
}

const wallets = 4;
const sessions = 30;
const fromMs = 1_000_000;
const toMs = 2_000_000;

/** Registers the import tests for one store. */
export function historyImportContract(f: ImportingStoreFactory): void {
  test(`${f.name}: imported history reads back as the stores' own writes would have left it`, async () => {
    const { store, cleanup } = await f.open();
    try {
      const seen: number[] = [];
      await seedHistory(store, {
        wallets,
        sessions,
        fromMs,
        toMs,
        batchSessions: 7, // batches that do not divide the counts
        onProgress: (n) => seen.push(n),
      });
      assert.deepEqual(seen, [7, 14, 21, 28, 30]);
      for (let w = 0; w < wallets; w++) {
        assert.equal((await store.getWallet(seededWalletId(w)))?.threshold, 2);
      }
      assert.equal(await store.countWallets(100), wallets);

      const last = sessions - 1;
      const expected = seededSession(last, seededWalletId(last % wallets), 0);
      const got = await store.getSession(expected.sessionId);
      assert.equal(got?.value.status, 'signed');
      assert.equal(got?.version, historyRevisions(got.value).length);
      assert.equal(got?.value.signature, expected.signature);

      // The intent lock is there: the same intent is that session, never a new one (I1).
      const again = await store.createSession({ ...got.value, sessionId: 's_new' });
      assert.equal(again.created, false);
      assert.equal(again.session.value.sessionId, expected.sessionId);

      // Velocity index: every session of wallet 0 is counted.
      const velocity = await store.listWalletSessions(seededWalletId(0), 0, 100);
      assert.equal(velocity.sessions.length, Math.ceil(sessions / wallets));
      assert.equal(velocity.complete, true);

      // Finished: nothing for the takeover scan, everything for retention once old enough.
      const lease = await store.acquireLease('replica-a', limits.storeLeaseTtlMsMin);
      assert.deepEqual(await store.listTakeoverCandidates(lease, 100), []);
      assert.deepEqual(await store.listActiveSessions(100), []);
      const retained = await store.listRetainable(toMs + 1, undefined, 100);
      assert.equal(retained.items.length, sessions);
      assert.equal(retained.nextCursor, undefined);
      const page = await store.listSessionsPage({ limit: 10 });
      assert.equal(page.items.length, 10);
      assert.equal(page.items[0]?.value.sessionId, expected.sessionId); // newest first
    } finally {
      await cleanup();
    }
  });
}
