/**
 * One transaction per account nonce: the coordinator's store slot and every party's journal
 * bind a (wallet, chainId, nonce) to the first transaction content; the same transaction again
 * and a speed-up (same destination, amount and data, a higher fee) pass; anything else is
 * QUORATE_E_NONCE_TAKEN, on the coordinator and on the party alike.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Transaction } from 'micro-eth-signer';
import { QuorateError } from '../../src/core/errors.ts';
import { claimNonce } from '../../src/coordinator/nonce-fence.ts';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { Refusal } from '../../src/party/refusal.ts';
import { lockNonce } from '../../src/party/transaction-check.ts';
import { decodeEvmTransaction, type EvmFacts } from '../../src/protocol/evm-transaction.ts';
import { MemoryStore } from '../../src/store/memory.ts';

const alice = '0x1111111111111111111111111111111111111111';
const bob = '0x2222222222222222222222222222222222222222';

function factsOf(to: string, valueWei: bigint, nonce: bigint, feeGwei = 30n): EvmFacts {
  const hex = Transaction.prepare({
    to,
    value: valueWei,
    maxFeePerGas: feeGwei * 10n ** 9n,
    nonce,
    chainId: 1n,
  }).toHex({ includeSignature: false });
  return decodeEvmTransaction({ type: 'eip1559', hex }).facts;
}

const first = factsOf(alice, 10n ** 18n, 5n);
const speedUp = factsOf(alice, 10n ** 18n, 5n, 90n);
const conflicting = factsOf(bob, 10n ** 18n, 5n);
const otherNonce = factsOf(bob, 10n ** 18n, 6n);

describe('one transaction per account nonce', () => {
  test('the coordinator: same transaction and speed-up pass, another is NONCE_TAKEN', async () => {
    const store = new MemoryStore();
    await claimNonce(store, 'w1', 'm', first, 'pay-alice');
    await claimNonce(store, 'w1', 'm', first, 'pay-alice-again');
    await claimNonce(store, 'w1', 'm', speedUp, 'pay-alice-faster');
    await assert.rejects(
      claimNonce(store, 'w1', 'm', conflicting, 'pay-bob'),
      (e: unknown) =>
        e instanceof QuorateError &&
        e.code === 'QUORATE_E_NONCE_TAKEN' &&
        e.detail['intentKey'] === 'pay-alice' &&
        e.detail['nonce'] === '5',
    );
    await claimNonce(store, 'w1', 'm', otherNonce, 'pay-bob-next');
    await claimNonce(store, 'w2', 'm', conflicting, 'another wallet, its own nonces');
    await claimNonce(store, 'w1', 'm/0/7', conflicting, 'a derived key is its own account');
  });

  test('a party: the same, in its journal, before any secret is drawn', () => {
    const journal = new MemoryJournal(0);
    lockNonce(journal, 'w1', 'm', first, 's1');
    lockNonce(journal, 'w1', 'm', speedUp, 's2');
    assert.throws(
      () => lockNonce(journal, 'w1', 'm', conflicting, 's3'),
      (e: unknown) => e instanceof Refusal && e.code === 'QUORATE_E_NONCE_TAKEN' && e.hard,
    );
    lockNonce(journal, 'w1', 'm', otherNonce, 's4');
    lockNonce(journal, 'w1', 'm/0/7', conflicting, 's6');
    // A client intent key can never be the slot: the lock lives under another wallet key.
    assert.equal(journal.lockIntent('w1', '1/5', 'ff'.repeat(32), 's5').ok, true);
  });
});
