/** The bulk history import of the scale benchmark on SQLite (etcd: test/etcd). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realEnv } from '../../src/core/env.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { historyImportContract } from '../helpers/store-contract-import.ts';

const env = realEnv({ logLevel: 'silent' });

historyImportContract({
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'quorate-import-'));
    const store = new SqliteStore(join(dir, 'store.sqlite'), { clock: env });
    return {
      store,
      async cleanup() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
