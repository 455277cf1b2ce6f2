/**
 * The bound on party records (pins plus pending invitations, `limits.storePartyRecordsMax`) on
 * the memory and SQLite stores; the etcd store shares the rule (src/store/party-records.ts) and
 * the contract suite covers its lifecycle. Filling 4 096 records is too slow over etcd's gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuorateError } from '../../src/core/errors.ts';
import { limits } from '../../src/core/limits.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/store.ts';

const overloaded = (e: unknown): boolean =>
  e instanceof QuorateError &&
  e.code === 'QUORATE_E_OVERLOADED' &&
  e.detail['reason'] === 'party-records-max';

const invite = (partyId: string, issuedMs = 10, expiresMs = 1_000) => ({
  partyId,
  macKey: `mac-${partyId}`,
  issuedMs,
  expiresMs,
  rotate: false,
});

async function boundHolds(store: Store): Promise<void> {
  const half = limits.storePartyRecordsMax / 2;
  for (let i = 0; i < half; i++) {
    await store.pinParty({ partyId: `pin-${i}`, identityKey: 'a', boxKey: 'b', enrolledMs: 1 });
    await store.putInvitation(invite(`inv-${i}`));
  }
  await assert.rejects(store.putInvitation(invite('one-more')), overloaded);
  await store.putInvitation(invite('pin-0'));
  await store.putInvitation({ ...invite('inv-0'), macKey: 'replaced' });
  assert.equal((await store.getInvitation('inv-0'))?.macKey, 'replaced', 'known ids still fit');
  assert.equal(await store.deleteParty('pin-1'), true);
  await store.putInvitation(invite('one-more'));
  await assert.rejects(store.putInvitation(invite('two-more')), overloaded);
  // Every invitation so far expires at 1 000: one issued then makes room by dropping them.
  await store.putInvitation(invite('two-more', 1_000, 2_000));
  assert.equal(await store.getInvitation('inv-5'), undefined);
  await store.close();
}

test('party records: pins and invitations together stay within storePartyRecordsMax (memory)', () =>
  boundHolds(new MemoryStore()));

test('party records: pins and invitations together stay within storePartyRecordsMax (sqlite)', () =>
  boundHolds(new SqliteStore(':memory:')));
