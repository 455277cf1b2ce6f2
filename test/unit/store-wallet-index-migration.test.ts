/**
 * A SQLite store written before the per-wallet velocity index existed: opening it adds the
 * counted-time column, filled from the stored bodies (a retried session counts from its retry),
 * so velocity over old sessions is exact from the first request after the upgrade.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { sessionRecord } from '../helpers/session-fixture.ts';

/** The sessions table as the store created it before the index (commit 0c499f9). */
const oldSessionsTable = `CREATE TABLE sessions (
  session_id TEXT PRIMARY KEY, wallet_id TEXT NOT NULL, active INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL)`;

test('sqlite: a store from before the wallet index is migrated on open, retries counted at their try', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-migrate-'));
  const path = join(dir, 'store.sqlite');
  try {
    const old = new Database(path);
    old.exec(oldSessionsTable);
    const insert = old.prepare(
      'INSERT INTO sessions (session_id, wallet_id, active, created_ms, version, body) VALUES (?, ?, 0, ?, 1, ?)',
    );
    const plain = sessionRecord({ sessionId: 'plain', walletId: 'w', createdMs: 500 });
    const retried = sessionRecord({
      sessionId: 'retried',
      walletId: 'w',
      createdMs: 100,
      retry: {
        count: 1,
        fromAttempt: 2,
        lastMs: 900,
        previousError: { code: 'QUORATE_E_DEADLINE_EXCEEDED' },
      },
    });
    for (const s of [plain, retried])
      insert.run(s.sessionId, s.walletId, s.createdMs, JSON.stringify(s));
    old.close();
    const store = new SqliteStore(path);
    const listed = await store.listWalletSessions('w', 0, 10);
    assert.deepEqual(
      listed.sessions.map((s) => s.sessionId),
      ['plain', 'retried'],
      'ordered by counted time: the retry counts at 900',
    );
    const recent = await store.listWalletSessions('w', 600, 10);
    assert.deepEqual(
      recent.sessions.map((s) => s.sessionId),
      ['retried'],
    );
    await store.close();
    const reopened = new SqliteStore(path); // a second open migrates nothing and loses nothing
    assert.equal((await reopened.listWalletSessions('w', 0, 10)).sessions.length, 2);
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
