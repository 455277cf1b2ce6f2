/**
 * etcd-specific behaviour the contract suite cannot express: endpoint parsing, failover between
 * members of a real 3-node cluster (a dead follower, then a killed leader), and an explicit,
 * retryable `QUORATE_E_STORE_UNAVAILABLE` when no member answers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { realEnv } from '../../src/core/env.ts';
import { QuorateError } from '../../src/core/errors.ts';
import { EtcdStore } from '../../src/store/etcd.ts';
import { parseEtcdEndpoints } from '../../src/store/etcd-gateway.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import { session } from '../helpers/store-contract.ts';

const env = realEnv({ logLevel: 'silent' });

const isUnavailable = (e: unknown): boolean =>
  e instanceof QuorateError && e.code === 'QUORATE_E_STORE_UNAVAILABLE' && e.retryable;

/** Index of the member that is the raft leader, asked of each member in turn. */
async function leaderIndex(cluster: EtcdCluster): Promise<number> {
  for (let round = 0; round < 50; round++) {
    for (const m of cluster.members) {
      if (!m.process) continue;
      try {
        const r = await fetch(`${m.clientUrl}/v3/maintenance/status`, {
          method: 'POST',
          body: '{}',
        });
        const s = (await r.json()) as { header?: { member_id?: string }; leader?: string };
        if (s.leader && s.leader !== '0' && s.leader === s.header?.member_id) {
          return cluster.members.indexOf(m);
        }
      } catch {
        // member down
      }
    }
    await sleep(100);
  }
  throw new Error('no etcd leader within 5 s');
}

/** Retries a retryable store error a bounded number of times (what a coordinator does). */
async function retrying<T>(op: () => Promise<T>, attempts = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (error) {
      if (!isUnavailable(error) || i >= attempts) throw error;
      await sleep(200);
    }
  }
}

test('etcd:// URLs parse into gateway endpoints; bad ones are config errors', () => {
  assert.deepEqual(parseEtcdEndpoints('etcd://h1:2379,h2:2379, 10.0.0.3:2379'), [
    'http://h1:2379',
    'http://h2:2379',
    'http://10.0.0.3:2379',
  ]);
  assert.deepEqual(parseEtcdEndpoints('http://127.0.0.1:1/'), ['http://127.0.0.1:1']);
  for (const bad of ['etcd://', 'etcd://,', 'etcd://h:99999x']) {
    assert.throws(
      () => parseEtcdEndpoints(bad),
      (e: unknown) => e instanceof QuorateError && e.code === 'QUORATE_E_CONFIG',
    );
  }
});

describe('etcd store on a 3-node cluster', () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await EtcdCluster.start(3);
  });
  after(() => cluster.stop());

  test('a dead endpoint is skipped: every call succeeds through the next member', async () => {
    const follower = ((await leaderIndex(cluster)) + 1) % 3;
    const others = cluster.endpoints.filter((_, i) => i !== follower);
    const endpoints = [cluster.endpoints[follower]!, ...others];
    const store = new EtcdStore({ endpoints, env, prefix: '/failover-follower/' });
    const created = await store.createSession(session());
    await cluster.kill(follower);
    const id = created.session.value.sessionId;
    const v2 = await store.casSession(id, 1, { ...created.session.value, status: 'running' });
    assert.equal(v2.version, 2);
    assert.equal((await store.getSession(id))?.version, 2);
    await store.close();
    await cluster.restart(follower);
  });

  test('kill -9 of the leader: calls fail explicitly (retryable) or succeed; state is intact', async () => {
    const leader = await leaderIndex(cluster);
    const store = new EtcdStore({ endpoints: cluster.endpoints, env, prefix: '/failover-leader/' });
    const created = await store.createSession(session());
    const id = created.session.value.sessionId;
    await cluster.kill(leader);
    try {
      const v2 = await retrying(() =>
        store.casSession(id, 1, { ...created.session.value, status: 'running' }),
      );
      assert.equal(v2.version, 2);
    } catch (error) {
      // An attempt whose answer was lost in the election may have been applied, so a later
      // retry finds version 2 and is refused as stale: the write then happened exactly once.
      assert.ok(
        error instanceof QuorateError && error.code === 'QUORATE_E_STALE_TOKEN',
        String(error),
      );
    }
    const read = await retrying(() => store.getSession(id));
    assert.equal(read?.version, 2);
    assert.equal(read?.value.status, 'running');
    await store.close();
    await cluster.restart(leader);
    await cluster.waitAllHealthy();
  });

  test('no member answers: QUORATE_E_STORE_UNAVAILABLE, retryable, after bounded attempts', async () => {
    const dead = ['http://127.0.0.1:9', 'http://127.0.0.1:1'];
    const store = new EtcdStore({ endpoints: dead, env, prefix: '/dead/' });
    await assert.rejects(store.getSession('x'), (e: unknown) => {
      assert.ok(isUnavailable(e));
      const detail = (e as QuorateError).detail;
      assert.deepEqual(detail['endpoints'], dead);
      assert.equal(typeof detail['lastError'], 'string');
      return true;
    });
    await assert.rejects(EtcdStore.open('etcd://127.0.0.1:9', env), isUnavailable);
  });
});
