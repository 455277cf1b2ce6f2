/**
 * The Store contract suite on a real 1-node etcd started here on loopback ports with a temp
 * data dir. Fails (does not skip) if etcd is not installed. Each test gets its own key prefix;
 * "restart" is kill -9 of the etcd process and a restart on the same data dir.
 */
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { realEnv } from '../../src/core/env.ts';
import { EtcdStore } from '../../src/store/etcd.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import { storeContract } from '../helpers/store-contract.ts';

const cluster = await EtcdCluster.start(1);
after(() => cluster.stop());

const env = realEnv({ logLevel: 'silent' });
let prefixSeq = 0;

storeContract({
  name: 'etcd',
  // etcd's lessor revokes expired leases in a loop every 500 ms, then commits through raft.
  leaseSlackMs: 1_500,
  propertyRuns: 15,
  async open() {
    prefixSeq += 1;
    const prefix = `/contract-${process.pid}-${prefixSeq}/`;
    const store = await EtcdStore.open(cluster.url, env, prefix);
    return {
      store,
      async restart() {
        await store.close();
        await cluster.restart(0);
        return EtcdStore.open(cluster.url, env, prefix);
      },
      async elapse(ms) {
        await sleep(ms);
      },
      async cleanup() {
        await store.close();
      },
    };
  },
});
