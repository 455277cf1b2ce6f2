/** The party journal contract (nonce ledger, intent locks, fencing tokens) on SQLite. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { JournalFileReader, SqliteJournal } from '../../src/party/journal-sqlite.ts';

function withJournal(fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-journal-'));
  try {
    fn(join(dir, 'journal.sqlite'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a nonce is consumed at most once, and issued nonces become void when the journal reopens', () => {
  withJournal((path) => {
    const j = new SqliteJournal(path, 1);
    assert.equal(
      j.recordNonce({ commitment: 'c1', sessionId: 's', attempt: 1, token: 2, issuedMs: 1 }),
      true,
    );
    assert.equal(
      j.recordNonce({ commitment: 'c1', sessionId: 's', attempt: 1, token: 2, issuedMs: 1 }),
      false,
      'a commitment is never recorded twice',
    );
    assert.equal(
      j.recordNonce({ commitment: 'c2', sessionId: 's', attempt: 2, token: 3, issuedMs: 2 }),
      true,
    );
    assert.equal(j.consumeNonce('c1', 3), true);
    assert.equal(j.consumeNonce('c1', 4), false, 'second consume refused');
    assert.equal(j.countIssued(), 1);
    j.close();
    const reopened = new SqliteJournal(path, 10);
    assert.deepEqual(
      reopened.nonces().map((n) => [n.commitment, n.state]),
      [
        ['c1', 'consumed'],
        ['c2', 'void'],
      ],
    );
    assert.equal(
      reopened.consumeNonce('c2', 11),
      false,
      'a nonce lost in a crash can never be used',
    );
    reopened.close();
  });
});

test('intent locks bind one message per (wallet, intentKey); tokens never go backwards, across restarts', () => {
  withJournal((path) => {
    const j = new SqliteJournal(path, 1);
    assert.deepEqual(j.lockIntent('w', 'k', 'h1', 's1'), { ok: true });
    assert.deepEqual(j.lockIntent('w', 'k', 'h1', 's1'), { ok: true });
    assert.deepEqual(j.lockIntent('w', 'k', 'h2', 's2'), { ok: false, lockedMessageHash: 'h1' });
    assert.deepEqual(j.lockIntent('w', 'other', 'h2', 's2'), { ok: true });
    assert.equal(j.observeToken('s1', 5, 1), true);
    assert.equal(j.observeToken('s1', 5, 2), true, 'the same token is fine');
    assert.equal(j.observeToken('s1', 4, 3), false, 'a lower token is refused');
    j.close();
    const reopened = new SqliteJournal(path, 10);
    assert.equal(reopened.highestToken('s1'), 5);
    assert.equal(reopened.observeToken('s1', 3, 11), false);
    assert.deepEqual(reopened.lockIntent('w', 'k', 'h2', 's3'), {
      ok: false,
      lockedMessageHash: 'h1',
    });
    reopened.close();
  });
});

test('discarding a session moves only its issued nonces to discarded', () => {
  withJournal((path) => {
    const j = new SqliteJournal(path, 1);
    j.recordNonce({ commitment: 'a', sessionId: 's1', attempt: 1, token: 2, issuedMs: 1 });
    j.recordNonce({ commitment: 'b', sessionId: 's2', attempt: 1, token: 2, issuedMs: 1 });
    assert.equal(j.discardNonces('s1', 5), 1);
    assert.equal(j.consumeNonce('a', 6), false);
    assert.equal(j.consumeNonce('b', 6), true);
    j.close();
  });
});

test('a journal file written by an earlier release opens with its rows kept (no schema break)', () => {
  withJournal((path) => {
    // The schema and rows as the release before the engine-neutral ledger wrote them.
    const db = new Database(path);
    db.exec(`
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE key_shares (wallet_id TEXT PRIMARY KEY, sealed TEXT NOT NULL);
CREATE TABLE intent_locks (
  wallet_id TEXT NOT NULL, intent_key TEXT NOT NULL, message_hash TEXT NOT NULL,
  session_id TEXT NOT NULL, PRIMARY KEY (wallet_id, intent_key));
CREATE TABLE session_tokens (
  session_id TEXT PRIMARY KEY, token INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE nonces (
  commitment TEXT PRIMARY KEY, session_id TEXT NOT NULL, attempt INTEGER NOT NULL,
  token INTEGER NOT NULL, state TEXT NOT NULL, issued_ms INTEGER NOT NULL, closed_ms INTEGER);
INSERT INTO meta VALUES ('coordinator-identity-key', 'ab');
INSERT INTO key_shares VALUES ('w1', 'sealed-share');
INSERT INTO intent_locks VALUES ('w1', 'k1', 'h1', 's1');
INSERT INTO session_tokens VALUES ('s1', 7, 1);
INSERT INTO nonces VALUES ('c-used', 's1', 1, 7, 'consumed', 1, 2);
INSERT INTO nonces VALUES ('c-open', 's1', 2, 7, 'issued', 3, NULL);
`);
    db.close();
    const j = new SqliteJournal(path, 10);
    assert.equal(j.getMeta('coordinator-identity-key'), 'ab');
    assert.equal(j.getSealedShare('w1'), 'sealed-share');
    assert.deepEqual(j.lockIntent('w1', 'k1', 'h2', 's2'), { ok: false, lockedMessageHash: 'h1' });
    assert.equal(j.highestToken('s1'), 7);
    assert.deepEqual(
      j.nonces().map((n) => [n.commitment, n.state]),
      [
        ['c-used', 'consumed'],
        ['c-open', 'void'],
      ],
      'rows kept; an issued secret of the old process is void',
    );
    assert.equal(j.consumeNonce('c-used', 11), false, 'a used secret stays used');
    assert.equal(
      j.recordNonce({ commitment: 'c-used', sessionId: 's', attempt: 1, token: 8, issuedMs: 12 }),
      false,
    );
    j.close();
  });
});

test('a read-only reader of a live journal file sees the issued nonces and each reopening', () => {
  withJournal((path) => {
    const j = new SqliteJournal(path, 1);
    const reader = new JournalFileReader(path);
    try {
      const firstOpen = reader.lastOpenSeq();
      assert.ok(firstOpen > 0, 'the party opened it once');
      j.recordNonce({ commitment: 'c1', sessionId: 's', attempt: 1, token: 2, issuedMs: 1 });
      j.recordNonce({ commitment: 'c2', sessionId: 't', attempt: 3, token: 7, issuedMs: 1 });
      j.consumeNonce('c1', 2);
      assert.deepEqual(reader.issuedNonces(), [{ sessionId: 't', attempt: 3, token: 7 }]);
      j.close();
      const reopened = new SqliteJournal(path, 10);
      assert.ok(reader.lastOpenSeq() > firstOpen, 'a restarted party reopened it');
      assert.deepEqual(reader.issuedNonces(), [], 'reopening voided what the old process issued');
      reopened.close();
    } finally {
      reader.close();
    }
  });
});
