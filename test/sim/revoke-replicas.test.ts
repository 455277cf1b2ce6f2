/**
 * An operator's revoke or unpin reaches every coordinator replica (security review of issue 12:
 * it used to close the party's link only on the replica that served the request, so the others
 * kept choosing the revoked party for signing). Two replicas on the simulator's virtual clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limits } from '../../src/core/limits.ts';
import { seededRandom } from '../../src/core/seeded-random.ts';
import { SimCluster } from '../../src/sim/cluster.ts';
import { SimNetwork } from '../../src/sim/network.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';

async function twoReplicas() {
  const scheduler = new Scheduler();
  const network = new SimNetwork(scheduler, seededRandom(5, 'network'), 1, 5);
  const cluster = new SimCluster(scheduler, network, 5, ['p1', 'p2', 'p3'], 2);
  cluster.startCoordinator(0);
  cluster.startCoordinator(1);
  for (const p of ['p1', 'p2', 'p3']) cluster.startParty(p);
  await scheduler.runUntil(3_000);
  const [a, b] = cluster.coordinators;
  assert.ok(a && b, 'both replicas run');
  for (const p of ['p1', 'p2', 'p3'])
    assert.ok(a.registry.isConnected(p) && b.registry.isConnected(p), `${p} on both`);
  return { scheduler, a, b };
}

test('a party revoked through one replica is dropped by the other within a pin sweep', async () => {
  const { scheduler, a, b } = await twoReplicas();
  assert.ok((await a.registry.revoke('p1')) !== undefined);
  assert.equal(a.registry.isConnected('p1'), false, 'closed at once where it was served');
  await scheduler.runUntil(scheduler.nowMs + limits.partyPinSweepMs + 2 * 1_000);
  assert.equal(b.registry.isConnected('p1'), false, 'closed on the other replica too');
  assert.equal(b.registry.stateOf('p1'), 'down');
  assert.ok(b.registry.isConnected('p2'), 'the others stay');
});
