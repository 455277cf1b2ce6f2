/**
 * EVM transactions signed as facts, with real processes: a governed 2-of-3 `ecdsa` wallet under
 * examples/policies/rules-evm.yaml ("more than 1 ETH only to allowlisted addresses"), enforced
 * by the coordinator and by every party on what they decode from the transaction. The signed raw
 * transaction recovers the wallet's address; its digest signature verifies with OpenSSL and
 * libsecp256k1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { Transaction } from 'micro-eth-signer';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { decodeEvmTransaction, type EvmTransaction } from '../../src/protocol/evm-transaction.ts';
import { libsecp256k1Verifies, opensslVerifiesDigest } from '../helpers/ecdsa.ts';

const policyPath = fileURLToPath(
  new URL('../../examples/policies/rules-evm.yaml', import.meta.url),
);
const parties = ['mobile', 'backend', 'guardian'];
const listed = '0x1111111111111111111111111111111111111111';
const unlisted = '0xdf90dea0e0bf5ca6d2a7f0cb86874ba6714f463e';
const eth = 10n ** 18n;

function eip1559(to: string, valueWei: bigint, nonce: bigint): string {
  return Transaction.prepare({
    to,
    value: valueWei,
    maxFeePerGas: 30n * 10n ** 9n,
    nonce,
    chainId: 1n,
  }).toHex({ includeSignature: false });
}

describe('EVM transactions as facts, with real processes', () => {
  const cluster = new LocalCluster({
    coordinatorArgs: ['--policy', policyPath],
    partyArgs: ['--policy', policyPath],
  });
  let walletId = '';
  let address = '';
  let publicKey = '';
  before(async () => {
    await cluster.startWithParties(parties);
    const w = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ecdsa',
      threshold: 2,
      parties,
      policy: 'evm-2of3',
    });
    assert.equal(w.status, 201, JSON.stringify(w.json));
    walletId = w.json['walletId'] as string;
    address = w.json['ethereumAddress'] as string;
    publicKey = w.json['publicKey'] as string;
  });
  after(() => cluster.stop());

  const sign = (transaction: { type: string; hex: string }, intentKey: string, context?: object) =>
    cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      transaction,
      intentKey,
      ...(context === undefined ? {} : { context }),
    });

  /** Checks a signed answer: the raw transaction recovers the wallet, the digest verifies. */
  function checkSigned(
    json: Record<string, unknown>,
    transaction: { type: 'eip1559' | 'legacy'; hex: string },
  ) {
    const raw = Transaction.fromHex(json['signedTransaction'] as string);
    assert.ok(raw.isSigned && raw.verifySignature());
    assert.equal(raw.recoverSender().address, address, 'the transaction recovers the wallet');
    const { digest } = decodeEvmTransaction(transaction);
    const sig = hexToBytes(json['signature'] as string);
    assert.ok(opensslVerifiesDigest(sig, digest, hexToBytes(publicKey)), 'OpenSSL accepts');
    assert.ok(libsecp256k1Verifies(sig, digest, hexToBytes(publicKey)), 'libsecp256k1 accepts');
  }

  test('0.5 ETH anywhere and 2 ETH to an allowlisted address are signed', async () => {
    for (const [to, value, nonce] of [
      [unlisted, eth / 2n, 0n],
      [listed, 2n * eth, 1n],
    ] as const) {
      const transaction = { type: 'eip1559' as const, hex: eip1559(to, value, nonce) };
      const res = await sign(transaction, `tx-${nonce}`);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      checkSigned(res.json, transaction);
      const session = await cluster.request('GET', `/v1/sessions/${res.json['sessionId']}`);
      const { initiator: _initiator, ...facts } = session.json['context'] as Record<string, string>;
      assert.deepEqual(facts, {
        amount: value === eth / 2n ? '0.5' : '2',
        asset: 'ETH',
        destination: to,
      });
      assert.equal(session.json['signedTransaction'], res.json['signedTransaction']);
    }
  });

  test('a transaction from a derived address (m/0/1) recovers that address', async () => {
    const child = await cluster.request('GET', `/v1/wallets/${walletId}/addresses?path=m/0/1`);
    assert.equal(child.status, 200, JSON.stringify(child.json));
    const transaction = { type: 'eip1559' as const, hex: eip1559(listed, eth / 4n, 0n) };
    const res = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      transaction,
      intentKey: 'derived-0',
      derivationPath: 'm/0/1',
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const raw = Transaction.fromHex(res.json['signedTransaction'] as string);
    assert.equal(raw.recoverSender().address, child.json['ethereumAddress']);
  });

  test('2 ETH to an unlisted address is denied, and claiming a small amount does not help', async () => {
    const transaction = { type: 'eip1559', hex: eip1559(unlisted, 2n * eth, 2n) };
    const denied = await sign(transaction, 'big-unlisted');
    assert.equal(denied.status, 403, JSON.stringify(denied.json));
    assert.equal((denied.json['error'] as { code: string }).code, 'QUORATE_E_POLICY_DENIED');
    const claimed = await sign(transaction, 'big-unlisted-claimed', {
      amount: '0.1',
      asset: 'ETH',
      destination: unlisted,
    });
    assert.equal(claimed.status, 400, JSON.stringify(claimed.json));
    assert.equal((claimed.json['error'] as { code: string }).code, 'QUORATE_E_TX_CONTEXT_MISMATCH');
    // Its bare digest, claiming a small amount: nothing decodes a claim, and the wallet's rules
    // sign only decoded transactions.
    const bare = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: bytesToHex(decodeEvmTransaction(transaction as EvmTransaction).digest),
      intentKey: 'big-unlisted-bare',
      context: { amount: '0.1', asset: 'ETH', destination: listed },
    });
    assert.equal(bare.status, 403, JSON.stringify(bare.json));
    assert.equal((bare.json['error'] as { code: string }).code, 'QUORATE_E_POLICY_DENIED');
    assert.match(JSON.stringify(bare.json), /transactions-only/);
  });

  test('an ERC-20 approve call is denied on its decoded selector; another call is signed', async () => {
    const token = '0x3333333333333333333333333333333333333333';
    const call = (selector: string, nonce: bigint) =>
      Transaction.prepare({
        to: token,
        value: 0n,
        data: `${selector}${'00'.repeat(64)}`,
        gasLimit: 100_000n,
        maxFeePerGas: 30n * 10n ** 9n,
        nonce,
        chainId: 1n,
      }).toHex({ includeSignature: false });
    const approve = { type: 'eip1559' as const, hex: call('0x095ea7b3', 4n) };
    const denied = await sign(approve, 'approve-4');
    assert.equal(denied.status, 403, JSON.stringify(denied.json));
    assert.equal((denied.json['error'] as { code: string }).code, 'QUORATE_E_POLICY_DENIED');
    assert.match(JSON.stringify(denied.json), /no-token-approvals/);
    // `transfer(address,uint256)` is another selector: allowed, and the session records it.
    const transfer = { type: 'eip1559' as const, hex: call('0xa9059cbb', 5n) };
    const signed = await sign(transfer, 'transfer-5');
    assert.equal(signed.status, 200, JSON.stringify(signed.json));
    checkSigned(signed.json, transfer);
    const session = await cluster.request('GET', `/v1/sessions/${signed.json['sessionId']}`);
    assert.equal((session.json['context'] as Record<string, string>)['selector'], '0xa9059cbb');
  });

  test('a legacy EIP-155 transaction is signed; a FROST-style message body is still accepted', async () => {
    const hex = Transaction.prepare({
      type: 'legacy',
      to: listed,
      value: eth / 10n,
      gasPrice: 20n * 10n ** 9n,
      nonce: 3n,
      chainId: 1n,
    }).toHex({ includeSignature: false });
    const transaction = { type: 'legacy' as const, hex };
    const res = await sign(transaction, 'legacy-3');
    assert.equal(res.status, 200, JSON.stringify(res.json));
    checkSigned(res.json, transaction);
    const both = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: '00'.repeat(32),
      transaction,
      intentKey: 'both',
    });
    assert.equal(both.status, 400);
  });
});
