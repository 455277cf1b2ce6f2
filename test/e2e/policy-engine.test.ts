/**
 * The signing-time policy engine on real processes: the example runs end to end, and velocity
 * counters hold across a coordinator kill -9 (they are counted in the store).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { LocalCluster } from '../../src/cli/local-cluster.ts';

const policyPath = fileURLToPath(
  new URL('../../examples/policies/rules-retail.yaml', import.meta.url),
);
const allowed = '0x1111111111111111111111111111111111111111';

test('npm run example:policy-engine: every step behaves as stated', () => {
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('../../examples/policy-engine.ts', import.meta.url))],
    {
      encoding: 'utf8',
      timeout: 180_000,
    },
  );
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.equal((run.stdout.match(/^PASS /gm) ?? []).length, 7, run.stdout);
  assert.doesNotMatch(run.stdout, /^FAIL /m);
});

test('velocity counters survive a coordinator kill -9 (counted durably in the store)', async () => {
  const parties = ['mobile', 'backend', 'guardian'];
  const cluster = new LocalCluster({
    coordinatorArgs: ['--policy', policyPath],
    partyArgs: ['--policy', policyPath],
  });
  try {
    await cluster.startWithParties(parties);
    const w = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ed25519',
      threshold: 2,
      parties,
      policy: 'retail-2of3',
    });
    assert.equal(w.status, 201, JSON.stringify(w.json));
    assert.equal(w.json['policy'], 'retail-2of3');
    const walletId = w.json['walletId'] as string;
    let n = 0;
    const transfer = (amount: string) =>
      cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
        message: bytesToHex(utf8ToBytes(`t${n}`)),
        intentKey: `v-${n++}`,
        context: { amount, asset: 'USDC', destination: allowed },
      });
    assert.equal((await transfer('1000')).status, 200);
    assert.equal((await transfer('1000')).status, 200);
    await cluster.kill('coordinator', 'SIGKILL');
    await cluster.startCoordinator();
    await cluster.waitForParties(parties);
    const over = await transfer('1000'); // 3 000 > 2 500 per 24 h
    assert.equal(over.status, 403, JSON.stringify(over.json));
    const error = over.json['error'] as { code: string; detail: { cause: string } };
    assert.equal(error.code, 'QUORATE_E_POLICY_DENIED');
    assert.equal(error.detail.cause, 'velocity');
    const fits = await transfer('400'); // 2 400 ≤ 2 500: the denied one released nothing it never held
    assert.equal(fits.status, 200, JSON.stringify(fits.json));
  } finally {
    await cluster.stop();
  }
});
