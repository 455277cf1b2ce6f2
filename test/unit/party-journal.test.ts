/** The party journal contract (nonce ledger, intent locks, fencing tokens) on SQLite. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteJournal } from '../../src/party/journal-sqlite.ts';

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
