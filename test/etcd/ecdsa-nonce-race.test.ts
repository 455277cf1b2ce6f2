/**
 * One transaction per account nonce across coordinator replicas (issue 14 acceptance): two
 * different EIP-1559 transactions with the same nonce, sent at the same moment to two replicas
 * on a real 3-node etcd, for one 2-of-3 `ecdsa` wallet: exactly one is signed; the other is
 * QUORATE_E_NONCE_TAKEN. Repeated over several nonces, each race with its own winner.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Transaction } from 'micro-eth-signer';
import type { LocalCluster } from '../../src/cli/local-cluster.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import { startReplicas } from '../helpers/ha-cluster.ts';

const parties = ['p1', 'p2', 'p3'];
let etcd: EtcdCluster;
let cluster: LocalCluster;

before(async () => {
  etcd = await EtcdCluster.start(3);
  cluster = await startReplicas(etcd, 2, parties);
});

after(async () => {
  await cluster?.stop();
  await etcd?.stop();
});

const unsigned = (to: string, nonce: bigint) =>
  Transaction.prepare({
    to,
    value: 10n ** 17n,
    maxFeePerGas: 30n * 10n ** 9n,
    nonce,
    chainId: 1n,
  }).toHex({ includeSignature: false });

test('two transactions for one nonce on two replicas: exactly one is signed', async () => {
  const created = await cluster.request(
    'POST',
    '/v1/wallets',
    { scheme: 'ecdsa', threshold: 2, parties },
    0,
  );
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const walletId = created.json['walletId'] as string;
  for (const nonce of [0n, 1n, 2n, 3n]) {
    const [a, b] = await Promise.all(
      [
        ['0x1111111111111111111111111111111111111111', 0],
        ['0x2222222222222222222222222222222222222222', 1],
      ].map(([to, replica]) =>
        cluster.request(
          'POST',
          `/v1/wallets/${walletId}/signatures`,
          {
            transaction: { type: 'eip1559', hex: unsigned(String(to), nonce) },
            intentKey: `race-${nonce}-${replica}`,
          },
          Number(replica),
        ),
      ),
    );
    const answers = [a!, b!];
    const signed = answers.filter((r) => r.status === 200);
    const taken = answers.filter(
      (r) => (r.json['error'] as { code?: string } | undefined)?.code === 'QUORATE_E_NONCE_TAKEN',
    );
    assert.equal(signed.length, 1, `nonce ${nonce}: ${JSON.stringify(answers.map((r) => r.json))}`);
    assert.equal(taken.length, 1, `nonce ${nonce}: the other is refused with NONCE_TAKEN`);
    assert.equal(taken[0]!.status, 409);
  }
});
