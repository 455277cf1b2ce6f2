/** MemoryJournal honours the PartyJournal contract, including crash semantics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryJournal } from '../../src/party/journal-memory.ts';

const entry = (commitment: string, attempt = 1, token = 2) => ({
  commitment,
  sessionId: 's1',
  attempt,
  token,
  issuedMs: 10,
});

test('a nonce is consumed at most once and never recorded twice', () => {
  const j = new MemoryJournal(0);
  assert.equal(j.recordNonce(entry('c1')), true);
  assert.equal(j.recordNonce(entry('c1')), false);
  assert.equal(j.consumeNonce('c1', 20), true);
  assert.equal(j.consumeNonce('c1', 21), false);
  assert.equal(j.countIssued(), 0);
});

test('reopen voids issued nonces and keeps locks, tokens and shares', () => {
  const j = new MemoryJournal(0);
  j.recordNonce(entry('c1'));
  j.recordNonce(entry('c2'));
  j.consumeNonce('c2', 11);
  assert.deepEqual(j.lockIntent('w', 'i', 'h1', 's1'), { ok: true });
  assert.equal(j.observeToken('s1', 5, 12), true);
  j.putSealedShare('w', 'sealed');
  j.close();
  assert.throws(() => j.consumeNonce('c1', 13));
  j.reopen(100);
  assert.equal(j.consumeNonce('c1', 101), false, 'a nonce from a dead process is void');
  assert.deepEqual(
    j.nonces().map((n) => [n.commitment, n.state]),
    [
      ['c1', 'void'],
      ['c2', 'consumed'],
    ],
  );
  assert.deepEqual(j.lockIntent('w', 'i', 'h2', 's2'), { ok: false, lockedMessageHash: 'h1' });
  assert.equal(j.highestToken('s1'), 5);
  assert.equal(j.observeToken('s1', 4, 102), false, 'lower token refused after restart');
  assert.equal(j.getSealedShare('w'), 'sealed');
  assert.equal(j.ops().filter((o) => o.op === 'open').length, 2);
});

test('discard by attempt only touches that attempt', () => {
  const j = new MemoryJournal(0);
  j.recordNonce(entry('a1', 1));
  j.recordNonce(entry('a2', 2));
  assert.equal(j.discardNonces('s1', 5, 1), 1);
  assert.equal(j.countIssued(), 1);
  assert.equal(j.discardNonces('s1', 6), 1);
  assert.equal(j.countIssued(), 0);
});

test('expireSessionsBefore drops idle token rows only', () => {
  const j = new MemoryJournal(0);
  j.observeToken('old', 3, 10);
  j.observeToken('new', 3, 1_000);
  assert.equal(j.expireSessionsBefore(500), 1);
  assert.equal(j.highestToken('old'), 0);
  assert.equal(j.highestToken('new'), 3);
});
