/**
 * Every statement the SQLite store prepares reads through an index: after exercising every
 * store method, each cached statement's `EXPLAIN QUERY PLAN` is checked for a full scan of a
 * history table (sessions, intents, evidence, wallets) and for a temporary sort of one. The
 * small bounded tables (parties, invitations, leases, meta: see limits) may be scanned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { limits } from '../../src/core/limits.ts';
import { sessionCursor, walletCursor } from '../../src/store/paging.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { ManualClock, session } from '../helpers/store-contract.ts';

const historyTables = ['sessions', 'intents', 'evidence', 'wallets'];

/** The plan lines of `sql` that read a history table without an index, or sort one. */
export function unindexedSteps(db: Database.Database, sql: string): string[] {
  const params = (sql.match(/\?/g) ?? []).map(() => null);
  const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
  return plan
    .map((p) => p.detail)
    .filter((detail) =>
      historyTables.some(
        (table) =>
          (new RegExp(`^SCAN ${table}\\b`).test(detail) &&
            !/USING (COVERING )?INDEX/.test(detail)) ||
          (/TEMP B-TREE/.test(detail) && !/^USE TEMP B-TREE FOR (GROUP BY|DISTINCT)/.test(detail)),
      ),
    );
}

/** Calls every Store method once, so every statement is prepared. */
async function exercise(store: SqliteStore): Promise<void> {
  const lease = await store.acquireLease('replica-a', limits.storeLeaseTtlMsMin);
  await store.renewLease(lease);
  const record = session({ sessionId: 's1', walletId: 'w1' }, 100);
  await store.createSession(record, { lease });
  await store.createSession(record, { lease });
  await store.casSession('s1', 1, { ...record, status: 'signed' }, { lease });
  await store.claimSession('s1', 2, lease);
  await store.getSession('s1');
  await store.listActiveSessions(10);
  await store.listSessions(10);
  await store.listWalletSessions('w1', 0, 10);
  await store.listTakeoverCandidates(lease, 10);
  const first = await store.listSessionsPage({ limit: 1 });
  for (const walletId of [undefined, 'w1']) {
    for (const status of [undefined, 'signed' as const]) {
      const filters = { ...(walletId ? { walletId } : {}), ...(status ? { status } : {}) };
      await store.listSessionsPage({ limit: 1, ...filters });
      await store.listSessionsPage({
        limit: 1,
        ...filters,
        cursor: sessionCursor(first.items[0]!.value),
      });
    }
  }
  await store.createWallet({
    walletId: 'w1',
    scheme: 'bip340',
    threshold: 2,
    parties: ['a', 'b'],
    publicKey: '00',
    publicPackage: {},
    createdMs: 1,
  });
  await store.getWallet('w1');
  await store.countWallets(10);
  await store.listWalletsPage({ limit: 1 });
  await store.listWalletsPage({ limit: 1, cursor: walletCursor('w0') });
  await store.putEvidence({
    sessionId: 's1',
    attempt: 1,
    partyId: 'a',
    reason: 'r',
    evidence: {},
    recordedMs: 1,
  });
  await store.listEvidence('s1');
  const retained = await store.listRetainable(1_000, undefined, 10);
  await store.listRetainable(1_000, sessionCursor({ createdMs: 100, sessionId: 's1' }), 10);
  await store.removeSessions(
    retained.items.map((r) => ({
      sessionId: r.session.value.sessionId,
      version: r.session.version,
    })),
  );
  await store.putMetaIfAbsent('k', 'v');
  await store.getMeta('k');
  await store.pinParty({ partyId: 'a', identityKey: '00', boxKey: '00', enrolledMs: 1 });
  await store.getParty('a');
  await store.listParties();
  await store.putParty({ partyId: 'a', identityKey: '00', boxKey: '00', enrolledMs: 1 });
  await store.putInvitation({
    partyId: 'b',
    macKey: 'm',
    issuedMs: 1,
    expiresMs: 2,
    rotate: false,
  });
  await store.getInvitation('b');
  await store.redeemInvitation('m', {
    partyId: 'b',
    identityKey: '00',
    boxKey: '00',
    enrolledMs: 1,
  });
  await store.deleteParty('a');
  await store.revokeLease(lease);
}

test('SQLite: every statement the store prepares reads history tables through an index', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-plans-'));
  const path = join(dir, 'store.sqlite');
  const store = new SqliteStore(path, { clock: new ManualClock() });
  try {
    await exercise(store);
    const statements = store.preparedStatements();
    assert.ok(statements.length >= 40, `every method ran (${statements.length} statements)`);
    assert.ok(
      statements.some((sql) => sql.includes('owner_lease NOT IN')),
      'the takeover scan ran',
    );
    const db = new Database(path, { readonly: true });
    if (process.env['QUORATE_SHOW_PLANS']) {
      for (const sql of statements) {
        const params = (sql.match(/\?/g) ?? []).map(() => null);
        const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
        console.log(sql.replace(/\s+/g, ' '), '\n   ', plan.map((p) => p.detail).join(' | '));
      }
    }
    const offenders = statements
      .map((sql) => ({ sql, steps: unindexedSteps(db, sql) }))
      .filter((o) => o.steps.length > 0);
    db.close();
    assert.deepEqual(offenders, []);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the plan check itself flags a full scan and a temporary sort of sessions', () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE sessions (session_id TEXT PRIMARY KEY, body TEXT, created_ms INTEGER)');
  assert.equal(unindexedSteps(db, "SELECT body FROM sessions WHERE body LIKE '%x%'").length, 1);
  assert.ok(unindexedSteps(db, 'SELECT body FROM sessions ORDER BY created_ms LIMIT ?').length > 0);
  assert.deepEqual(unindexedSteps(db, 'SELECT body FROM sessions WHERE session_id = ?'), []);
  db.close();
});
