/** The Store contract suite (test/helpers/store-contract.ts) on the memory and SQLite stores. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/store/memory.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { ManualClock, storeContract } from '../helpers/store-contract.ts';

storeContract({
  name: 'memory',
  leaseSlackMs: 1,
  propertyRuns: 100,
  async open() {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    return {
      store,
      async restart() {
        await store.close();
        store.reopen();
        return store;
      },
      async elapse(ms) {
        clock.advance(ms);
      },
      async cleanup() {
        await store.close();
      },
    };
  },
});

storeContract({
  name: 'sqlite',
  leaseSlackMs: 1,
  propertyRuns: 100,
  async open() {
    const clock = new ManualClock();
    const dir = mkdtempSync(join(tmpdir(), 'quorate-store-'));
    const path = join(dir, 'store.sqlite');
    const store = new SqliteStore(path, { clock });
    return {
      store,
      async restart() {
        await store.close();
        return new SqliteStore(path, { clock });
      },
      async elapse(ms) {
        clock.advance(ms);
      },
      async cleanup() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
