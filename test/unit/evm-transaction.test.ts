/**
 * EVM transactions as facts: the digest of a legacy transaction is EIP-155's own example, an
 * EIP-1559 digest is what micro-eth-signer's own signer signs, the facts are exact, malformed or
 * already-signed or replayable transactions are refused, a declared context may repeat the facts
 * but not contradict them, and a party refuses a policy block that differs from them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { addr, Transaction } from 'micro-eth-signer';
import { QuorateError } from '../../src/core/errors.ts';
import { contextOfTransaction, intakeTransaction } from '../../src/coordinator/transactions.ts';
import { checkTransaction } from '../../src/party/transaction-check.ts';
import { Refusal } from '../../src/party/refusal.ts';
import {
  decodeEvmTransaction,
  signedEvmTransaction,
  weiToCoins,
  type EvmTransaction,
} from '../../src/protocol/evm-transaction.ts';
import type { KeyShare } from '../../src/protocol/engine.ts';
import type { WalletRecord } from '../../src/store/store.ts';
import type { SignStartBody } from '../../src/transport/wire.ts';

// EIP-155's example: nonce 9, gas price 20 gwei, gas 21000, to 0x3535…35, 1 ETH, chain 1.
const eip155 = {
  type: 'legacy' as const,
  hex: 'ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080',
};
const eip155Digest = 'daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53';

const unlisted = '0xdf90dea0e0bf5ca6d2a7f0cb86874ba6714f463e';
function eip1559(valueWei: bigint, to = unlisted, nonce = 7n): EvmTransaction {
  const tx = Transaction.prepare({
    to,
    value: valueWei,
    maxFeePerGas: 100n * 10n ** 9n,
    nonce,
    chainId: 1n,
  });
  return { type: 'eip1559', hex: tx.toHex({ includeSignature: false }) };
}

describe('EVM transactions', () => {
  test("a legacy transaction's digest is EIP-155's, with its facts", () => {
    const { digest, facts } = decodeEvmTransaction(eip155);
    assert.equal(bytesToHex(digest), eip155Digest);
    assert.equal(facts.chainId, '1');
    assert.equal(facts.nonce, '9');
    assert.equal(facts.destination, '0x3535353535353535353535353535353535353535');
    assert.equal(facts.amount, '1');
    assert.equal(facts.asset, 'ETH');
  });

  test('an EIP-1559 digest is what the library signs, and the signed raw transaction recovers', () => {
    const request = eip1559(1_500_000_000_000_000_000n);
    const { digest, facts } = decodeEvmTransaction(request);
    assert.equal(facts.amount, '1.5');
    const random = addr.random();
    const signedByLibrary = Transaction.fromHex(request.hex).signBy(random.privateKey);
    const { r, s, yParity } = signedByLibrary.raw as { r: bigint; s: bigint; yParity: number };
    const sig = hexToBytes(r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0'));
    const pk = secp256k1.getPublicKey(hexToBytes(random.privateKey.replace(/^0x/, '')), true);
    assert.ok(
      secp256k1.verify(sig, digest, pk, { prehash: false }),
      'our digest is the signed one',
    );
    const raw = signedEvmTransaction(request, sig, yParity);
    assert.equal(raw, signedByLibrary.toHex());
    assert.equal(Transaction.fromHex(raw).recoverSender().address, random.address);
  });

  test('wei as exact decimals of coins', () => {
    assert.equal(weiToCoins(0n), '0');
    assert.equal(weiToCoins(1n), '0.000000000000000001');
    assert.equal(weiToCoins(10n ** 18n), '1');
    assert.equal(weiToCoins(12_340_000_000_000_000_000n), '12.34');
  });

  test('malformed, mistyped, signed, replayable and non-canonical transactions are refused', () => {
    const refused = (request: EvmTransaction, reason: RegExp) =>
      assert.throws(() => decodeEvmTransaction(request), reason);
    refused({ type: 'eip1559', hex: 'zz' }, /not even-length hex/);
    refused({ type: 'eip1559', hex: '02c0' }, /does not decode/);
    refused({ type: 'eip1559', hex: eip155.hex }, /is legacy, not eip1559/);
    const signed = Transaction.fromHex(eip1559(1n).hex).signBy(addr.random().privateKey).toHex();
    refused({ type: 'eip1559', hex: signed }, /already signed/);
    // Pre-EIP-155: EIP-155's example without its (chainId, 0, 0): valid on every chain.
    const pre155 = `e9${eip155.hex.slice(2, -6)}`;
    refused({ type: 'legacy', hex: pre155 }, /chainId|does not decode/);
    // The nonce 9 as a one-byte string (0x8109) instead of the byte itself: not canonical RLP.
    const padded = `ed8109${eip155.hex.slice(4)}`;
    assert.throws(() => decodeEvmTransaction({ type: 'legacy', hex: padded }));
  });

  test('a declared context may repeat the facts, not contradict them', () => {
    const { facts } = decodeEvmTransaction(eip1559(2n * 10n ** 18n));
    assert.deepEqual(contextOfTransaction(facts, undefined), {
      amount: '2',
      asset: 'ETH',
      destination: unlisted,
    });
    assert.equal(contextOfTransaction(facts, { amount: '2.0' }).amount, '2');
    assert.throws(
      () => contextOfTransaction(facts, { amount: '0.5', destination: unlisted.toUpperCase() }),
      (e: unknown) =>
        e instanceof QuorateError &&
        e.code === 'QUORATE_E_TX_CONTEXT_MISMATCH' &&
        JSON.stringify(e.detail['fields']) === '["amount"]',
    );
    const frost = { scheme: 'bip340' } as WalletRecord;
    assert.throws(
      () => intakeTransaction(frost, eip1559(1n), undefined),
      (e: unknown) => e instanceof QuorateError && e.code === 'QUORATE_E_BAD_TRANSACTION',
    );
  });

  test('a party decodes it itself: a digest or policy context that differs is refused', () => {
    const request = eip1559(2n * 10n ** 18n);
    const { digest } = decodeEvmTransaction(request);
    const key = { scheme: 'ecdsa' } as KeyShare;
    const body = (over: Partial<SignStartBody>) =>
      ({ messageHex: bytesToHex(digest), transaction: request, ...over }) as SignStartBody;
    const refusedWith = (b: SignStartBody, code: string) =>
      assert.throws(
        () => checkTransaction(key, b),
        (e: unknown) => e instanceof Refusal && e.code === code && e.hard,
      );
    assert.equal(checkTransaction(key, body({}))?.amount, '2');
    refusedWith(body({ messageHex: '00'.repeat(32) }), 'QUORATE_E_BAD_ENVELOPE');
    const policy = (context: Record<string, string>) => ({
      tier: 't',
      policyHash: '00'.repeat(32),
      context,
      approvals: [],
    });
    refusedWith(
      body({ policy: policy({ amount: '0.5', asset: 'ETH', destination: unlisted }) }),
      'QUORATE_E_TX_CONTEXT_MISMATCH',
    );
    // Leaving the destination out would let an allowlist rule see none: refused too.
    refusedWith(
      body({ policy: policy({ amount: '2', asset: 'ETH' }) }),
      'QUORATE_E_TX_CONTEXT_MISMATCH',
    );
    const facts = checkTransaction(
      key,
      body({ policy: policy({ amount: '2', asset: 'ETH', destination: unlisted }) }),
    );
    assert.equal(facts?.destination, unlisted);
    assert.throws(
      () => checkTransaction({ scheme: 'bip340' } as KeyShare, body({})),
      (e: unknown) => e instanceof Refusal && e.code === 'QUORATE_E_BAD_TRANSACTION',
    );
  });

  test('a call selector is a decided fact: leaving it out or changing it is refused', () => {
    const hex = Transaction.prepare({
      to: unlisted,
      value: 0n,
      data: `0x095ea7b3${'00'.repeat(64)}`,
      gasLimit: 100_000n,
      maxFeePerGas: 30n * 10n ** 9n,
      nonce: 1n,
      chainId: 1n,
    }).toHex({ includeSignature: false });
    const request: EvmTransaction = { type: 'eip1559', hex: hex.slice(2) };
    const { digest, facts } = decodeEvmTransaction(request);
    assert.equal(facts.selector, '0x095ea7b3');
    const wallet = { walletId: 'w', scheme: 'ecdsa' } as WalletRecord;
    assert.equal(intakeTransaction(wallet, request, undefined).context.selector, '0x095ea7b3');
    const key = { scheme: 'ecdsa' } as KeyShare;
    const decided = { amount: '0', asset: 'ETH', destination: unlisted };
    const bodyWith = (context: Record<string, string>): SignStartBody =>
      ({
        messageHex: bytesToHex(digest),
        transaction: request,
        policy: { tier: 't', policyHash: '00'.repeat(32), context, approvals: [] },
      }) as unknown as SignStartBody;
    for (const context of [decided, { ...decided, selector: '0xa9059cbb' }])
      assert.throws(
        () => checkTransaction(key, bodyWith(context)),
        (e: unknown) => e instanceof Refusal && e.code === 'QUORATE_E_TX_CONTEXT_MISMATCH',
      );
    assert.equal(
      checkTransaction(key, bodyWith({ ...decided, selector: '0x095ea7b3' }))?.selector,
      '0x095ea7b3',
    );
  });
});
