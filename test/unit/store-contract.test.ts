import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/store/memory.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { SessionRecord, Store } from '../../src/store/store.ts';
import { QuorateError } from '../../src/core/errors.ts';

function session(id: string, intentKey: string, messageHash = 'h1', createdMs = 1): SessionRecord {
  return {
    sessionId: id,
    walletId: 'w',
    intentKey,
    messageHex: '00',
    messageHash,
    status: 'pending',
    createdMs,
    deadlineMs: 1000,
    attempts: [],
    excluded: [],
    slow: [],
  };
}

interface Factory {
  name: string;
  open(): { store: Store; reopen(): Store; cleanup(): void };
}

const factories: Factory[] = [
  {
    name: 'memory',
    open() {
      const store = new MemoryStore();
      return { store, reopen: () => (store.reopen(), store), cleanup: () => {} };
    },
  },
  {
    name: 'sqlite',
    open() {
      const dir = mkdtempSync(join(tmpdir(), 'quorate-store-'));
      const path = join(dir, 'store.sqlite');
      return {
        store: new SqliteStore(path),
        reopen: () => new SqliteStore(path),
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
];

for (const f of factories) {
  describe(`Store contract: ${f.name}`, () => {
    test('CAS succeeds once per version; the version (fencing token) strictly increases', async () => {
      const { store, cleanup } = f.open();
      const created = await store.createSession(session('s1', 'k1'));
      assert.equal(created.created, true);
      assert.equal(created.session.version, 1);
      const v2 = await store.casSession('s1', 1, { ...created.session.value, status: 'running' });
      assert.equal(v2.version, 2);
      await assert.rejects(
        store.casSession('s1', 1, created.session.value),
        (e: unknown) => e instanceof QuorateError && e.code === 'QUORATE_E_STALE_TOKEN',
      );
      const v3 = await store.casSession('s1', 2, {
        ...v2.value,
        status: 'signed',
        signature: 'ab',
      });
      assert.equal(v3.version, 3);
      assert.equal((await store.getSession('s1'))?.value.signature, 'ab');
      await store.close();
      cleanup();
    });

    test('intent lock: 20 concurrent writers, exactly one session created', async () => {
      const { store, cleanup } = f.open();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.createSession(session(`s${i}`, 'same', `m${i}`)),
        ),
      );
      const winners = results.filter((r) => r.created);
      assert.equal(winners.length, 1);
      const winnerId = winners[0]!.session.value.sessionId;
      assert.ok(results.every((r) => r.session.value.sessionId === winnerId));
      assert.equal((await store.listSessions(100)).length, 1);
      await store.close();
      cleanup();
    });

    test('active sessions list excludes terminal ones; state survives close and reopen', async () => {
      const { store, reopen, cleanup } = f.open();
      await store.createSession(session('a', 'k-a', 'h', 1));
      const b = await store.createSession(session('b', 'k-b', 'h', 2));
      await store.casSession('b', b.session.version, { ...b.session.value, status: 'failed' });
      await store.pinParty({ partyId: 'p', identityKey: 'aa', boxKey: 'bb', enrolledMs: 1 });
      assert.equal(
        (await store.pinParty({ partyId: 'p', identityKey: 'cc', boxKey: 'dd', enrolledMs: 2 }))
          .identityKey,
        'aa',
      );
      await store.close();
      const again = reopen();
      assert.deepEqual(
        (await again.listActiveSessions(10)).map((s) => s.value.sessionId),
        ['a'],
      );
      assert.equal((await again.getSession('b'))?.version, 2);
      assert.equal((await again.getParty('p'))?.identityKey, 'aa');
      await again.close();
      cleanup();
    });

    test('wallets are create-only; evidence is stored per session', async () => {
      const { store, cleanup } = f.open();
      const w = {
        walletId: 'w1',
        scheme: 'bip340' as const,
        threshold: 2,
        parties: ['a', 'b'],
        publicKey: 'pk',
        publicPackage: {},
        createdMs: 1,
      };
      assert.equal(await store.createWallet(w), true);
      assert.equal(await store.createWallet({ ...w, publicKey: 'other' }), false);
      assert.equal((await store.getWallet('w1'))?.publicKey, 'pk');
      await store.putEvidence({
        sessionId: 's',
        attempt: 1,
        partyId: 'b',
        reason: 'bad share',
        evidence: { share: '00' },
        recordedMs: 1,
      });
      assert.deepEqual(
        (await store.listEvidence('s')).map((e) => e.partyId),
        ['b'],
      );
      await store.close();
      cleanup();
    });
  });
}
