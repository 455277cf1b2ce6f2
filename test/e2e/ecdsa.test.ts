/**
 * Threshold ECDSA (DKLs23) with real processes on loopback: a coordinator and five parties.
 * 2-of-3 and 3-of-5 `ecdsa` wallets are made by key generation (with its test signature by
 * every t-subset) and sign 32-byte digests and an EIP-1559 transaction; every signature is
 * checked by OpenSSL and by libsecp256k1, its recovery id recovers the wallet key, and the
 * signed transaction recovers the wallet's address. With one party of the 2-of-3
 * killed signing goes on; with two, QUORATE_E_QUORUM_UNAVAILABLE.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as libsecp256k1 from 'tiny-secp256k1';
import { Transaction } from 'micro-eth-signer';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { decodeEvmTransaction } from '../../src/protocol/evm-transaction.ts';
import { libsecp256k1Verifies, opensslVerifiesDigest } from '../helpers/ecdsa.ts';

const parties = ['p1', 'p2', 'p3', 'p4', 'p5'];

/** The address from libsecp256k1's uncompressed key (lower case: EIP-55 is checked apart). */
function addressOf(publicKeyHex: string): string {
  const uncompressed = libsecp256k1.pointCompress(hexToBytes(publicKeyHex), false);
  return bytesToHex(keccak_256(uncompressed.subarray(1)).subarray(12));
}

describe('ecdsa over loopback with real processes', () => {
  const cluster = new LocalCluster();
  const wallets = new Map<string, { walletId: string; publicKey: string }>();
  before(async () => {
    await cluster.startWithParties(parties);
  });
  after(() => cluster.stop());

  async function signAndCheck(label: string, walletId: string, publicKey: string, n: number) {
    const digest = sha256(new TextEncoder().encode(`withdrawal ${label} ${n}`));
    const signed = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: bytesToHex(digest),
      intentKey: `${label}-${n}`,
    });
    assert.equal(signed.status, 200, JSON.stringify(signed.json));
    const sig = hexToBytes(signed.json['signature'] as string);
    const pk = hexToBytes(publicKey);
    assert.equal(sig.length, 64);
    assert.ok(opensslVerifiesDigest(sig, digest, pk), 'OpenSSL accepts');
    assert.ok(libsecp256k1Verifies(sig, digest, pk), 'libsecp256k1 accepts (low-S)');
    const recoveryId = signed.json['recoveryId'] as number;
    const recovered = secp256k1.Signature.fromBytes(sig, 'compact')
      .addRecoveryBit(recoveryId)
      .recoverPublicKey(digest)
      .toBytes(true);
    assert.equal(bytesToHex(recovered), publicKey, 'the recovery id recovers the wallet key');
    const session = await cluster.request('GET', `/v1/sessions/${signed.json['sessionId']}`);
    assert.equal(session.json['signature'], signed.json['signature']);
    assert.equal(session.json['recoveryId'], recoveryId);
    return signed.json['signers'] as string[];
  }

  /** An EIP-1559 transfer signed: both verifiers accept, the raw transaction recovers the wallet. */
  async function signTransactionAndCheck(walletId: string, publicKey: string, address: string) {
    const hex = Transaction.prepare({
      to: '0xdf90dea0e0bf5ca6d2a7f0cb86874ba6714f463e',
      value: 10n ** 16n,
      nonce: 0n,
      chainId: 1n,
      maxFeePerGas: 30n * 10n ** 9n,
    }).toHex({ includeSignature: false });
    const transaction = { type: 'eip1559' as const, hex };
    const signed = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      transaction,
      intentKey: `transfer-${walletId}`,
    });
    assert.equal(signed.status, 200, JSON.stringify(signed.json));
    const { digest } = decodeEvmTransaction(transaction);
    const sig = hexToBytes(signed.json['signature'] as string);
    assert.ok(opensslVerifiesDigest(sig, digest, hexToBytes(publicKey)), 'OpenSSL accepts');
    assert.ok(libsecp256k1Verifies(sig, digest, hexToBytes(publicKey)), 'libsecp256k1 accepts');
    const raw = Transaction.fromHex(signed.json['signedTransaction'] as string);
    assert.ok(raw.isSigned && raw.verifySignature());
    assert.equal(raw.recoverSender().address, address, 'the transaction recovers the wallet');
  }

  for (const [t, n] of [
    [2, 3],
    [3, 5],
  ] as const) {
    test(`${t}-of-${n}: key generation, then digests and an EIP-1559 transaction signed and verified twice over`, async () => {
      const members = parties.slice(0, n);
      const created = await cluster.request('POST', '/v1/wallets', {
        scheme: 'ecdsa',
        threshold: t,
        parties: members,
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const publicKey = created.json['publicKey'] as string;
      assert.match(publicKey, /^0[23][0-9a-f]{64}$/);
      const address = created.json['ethereumAddress'] as string;
      assert.equal(address.slice(2).toLowerCase(), addressOf(publicKey));
      assert.notEqual(address.slice(2), address.slice(2).toLowerCase(), 'EIP-55 casing');
      const walletId = created.json['walletId'] as string;
      const fetched = await cluster.request('GET', `/v1/wallets/${walletId}`);
      assert.deepEqual(fetched.json, created.json);
      wallets.set(`${t}-of-${n}`, { walletId, publicKey });
      for (let i = 0; i < 2; i++) {
        const signers = await signAndCheck(`tx${i}`, walletId, publicKey, n);
        assert.equal(signers.length, t);
        assert.ok(signers.every((s) => members.includes(s)));
      }
      await signTransactionAndCheck(walletId, publicKey, address);
    });
  }

  test('2-of-3: a derived key (m/0/7) has its address and signs under its own key', async () => {
    const wallet = wallets.get('2-of-3');
    assert.ok(wallet, 'the 2-of-3 wallet exists');
    const base = `/v1/wallets/${wallet.walletId}`;
    const address = await cluster.request('GET', `${base}/addresses?path=m/0/7`);
    assert.equal(address.status, 200, JSON.stringify(address.json));
    const childKey = address.json['publicKey'] as string;
    assert.notEqual(childKey, wallet.publicKey);
    assert.equal(
      (address.json['ethereumAddress'] as string).slice(2).toLowerCase(),
      addressOf(childKey),
    );
    const digest = sha256(new TextEncoder().encode('sweep deposit 7'));
    const signed = await cluster.request('POST', `${base}/signatures`, {
      message: bytesToHex(digest),
      intentKey: 'sweep-7',
      derivationPath: 'm/0/7',
    });
    assert.equal(signed.status, 200, JSON.stringify(signed.json));
    const sig = hexToBytes(signed.json['signature'] as string);
    assert.ok(opensslVerifiesDigest(sig, digest, hexToBytes(childKey)), 'OpenSSL, child key');
    assert.ok(libsecp256k1Verifies(sig, digest, hexToBytes(childKey)), 'libsecp256k1, child key');
    const hardened = await cluster.request('GET', `${base}/addresses?path=m/0'`);
    assert.equal(hardened.status, 400);
    assert.equal(
      (hardened.json['error'] as { code: string }).code,
      'QUORATE_E_BAD_DERIVATION_PATH',
    );
  });

  test('a message that is not a 32-byte digest, and a threshold of 1, are refused', async () => {
    const wallet = wallets.get('2-of-3');
    assert.ok(wallet, 'the 2-of-3 wallet exists');
    const short = await cluster.request('POST', `/v1/wallets/${wallet.walletId}/signatures`, {
      message: 'ab'.repeat(31),
      intentKey: 'short',
    });
    assert.equal(short.status, 400);
    assert.equal((short.json['error'] as { code: string }).code, 'QUORATE_E_DIGEST_REQUIRED');
    const one = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ecdsa',
      threshold: 1,
      parties: ['p1', 'p2'],
    });
    assert.equal(one.status, 400);
    assert.equal((one.json['error'] as { code: string }).code, 'QUORATE_E_INVALID_THRESHOLD');
  });

  test('2-of-3: one party killed, signing goes on; two killed, QUORUM_UNAVAILABLE', async () => {
    const wallet = wallets.get('2-of-3');
    assert.ok(wallet, 'the 2-of-3 wallet exists');
    await cluster.kill('p1');
    await cluster.waitForParties(['p1'], 'down');
    const signers = await signAndCheck('after-kill', wallet.walletId, wallet.publicKey, 3);
    assert.deepEqual([...signers].sort(), ['p2', 'p3']);
    await cluster.kill('p2');
    await cluster.waitForParties(['p2'], 'down');
    const refused = await cluster.request('POST', `/v1/wallets/${wallet.walletId}/signatures`, {
      message: bytesToHex(sha256(new TextEncoder().encode('two down'))),
      intentKey: 'two-down',
    });
    assert.equal(refused.status, 503, JSON.stringify(refused.json));
    assert.equal((refused.json['error'] as { code: string }).code, 'QUORATE_E_QUORUM_UNAVAILABLE');
  });
});
