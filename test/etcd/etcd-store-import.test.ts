/** The bulk history import of the scale benchmark on a real 1-node etcd (SQLite: test/unit). */
import { after } from 'node:test';
import { realEnv } from '../../src/core/env.ts';
import { EtcdStore } from '../../src/store/etcd.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import { historyImportContract } from '../helpers/store-contract-import.ts';

const cluster = await EtcdCluster.start(1);
after(() => cluster.stop());
const env = realEnv({ logLevel: 'silent' });
let prefixSeq = 0;

historyImportContract({
  name: 'etcd',
  async open() {
    prefixSeq += 1;
    const store = await EtcdStore.open(cluster.url, env, `/import-${process.pid}-${prefixSeq}/`);
    return { store, cleanup: () => store.close() };
  },
});
