/**
 * Retention on the memory and SQLite stores: old finished sessions end up in the day's gzip
 * JSONL archive and out of the store, recent or active ones stay, and the archived intent is
 * never signed again (I1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { realEnv } from '../../src/core/env.ts';
import { QuorateError } from '../../src/core/errors.ts';
import { limits } from '../../src/core/limits.ts';
import { CoordinatorMetrics } from '../../src/coordinator/metrics.ts';
import { archiveFileName, checkRetentionDays, Retention } from '../../src/coordinator/retention.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { session } from '../helpers/store-contract.ts';

const dayMs = 86_400_000;
const nowMs = Date.UTC(2025, 5, 30, 12);
const env = { ...realEnv({ logLevel: 'silent' }), nowMs: () => nowMs };

const stores: [string, (dir: string) => Store][] = [
  ['memory', () => new MemoryStore({ clock: env })],
  ['sqlite', (dir) => new SqliteStore(join(dir, 'store.sqlite'), { clock: env })],
];

for (const [name, open] of stores) {
  test(`retention (${name}): archives then removes old finished sessions; the intent stays spent`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorate-retention-'));
    const store = open(dir);
    try {
      const oldMs = nowMs - 40 * dayMs;
      const count = limits.retentionBatchSessionsMax + 7; // more than one batch
      for (let i = 0; i < count; i++) {
        const record = session(
          { sessionId: `old-${i}`, walletId: 'w', intentKey: `k-${i}` },
          oldMs + i,
        );
        await store.createSession(record);
        await store.casSession(record.sessionId, 1, {
          ...record,
          status: i % 2 ? 'failed' : 'signed',
        });
      }
      const active = session({ sessionId: 'old-active', walletId: 'w' }, oldMs);
      await store.createSession(active);
      const recent = session({ sessionId: 'recent', walletId: 'w' }, nowMs - 10 * dayMs);
      await store.createSession(recent);
      await store.casSession('recent', 1, { ...recent, status: 'signed' });

      const archiveDir = join(dir, 'archive');
      const metrics = new CoordinatorMetrics();
      const retention = new Retention({
        env,
        store,
        log: env.log,
        archiveDir,
        retentionDays: 35,
        metrics,
      });
      const pass = await retention.pass();
      assert.deepEqual([pass.archived, pass.removed], [count, count]);
      const counted = async (name: string) =>
        (await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value;
      assert.equal(await counted('quorate_retention_archived_total'), count);
      assert.equal(await counted('quorate_retention_removed_total'), count);
      assert.deepEqual(readdirSync(archiveDir), [archiveFileName(oldMs)]);
      const lines = gunzipSync(readFileSync(join(archiveDir, archiveFileName(oldMs))))
        .toString('utf8')
        .trim()
        .split('\n')
        .map(
          (l) =>
            JSON.parse(l) as { sessionId: string; version: number; session: { status: string } },
        );
      assert.equal(lines.length, count, 'two gzip members, read as one stream');
      assert.deepEqual(new Set(lines.map((l) => l.sessionId)).size, count);
      assert.ok(
        lines.every((l) => l.version === 2 && ['signed', 'failed'].includes(l.session.status)),
      );
      for (const id of ['old-0', 'old-1', `old-${count - 1}`]) {
        assert.equal(await store.getSession(id), undefined, `${id} left the hot store`);
      }
      assert.ok(await store.getSession('old-active'), 'an active session is never removed');
      assert.ok(await store.getSession('recent'), 'a recent one stays');
      await assert.rejects(
        store.createSession(session({ sessionId: 'again', walletId: 'w', intentKey: 'k-0' })),
        (e: unknown) => e instanceof QuorateError && e.code === 'QUORATE_E_INTENT_ARCHIVED',
      );
      assert.deepEqual(await retention.pass(), { archived: 0, removed: 0 }, 'nothing left to do');
      const passes = (await metrics.retentionPassSeconds.get()).values.find(
        (v) => v.metricName === 'quorate_retention_pass_seconds_count',
      );
      assert.equal(passes?.value, 2, 'each pass timed');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('retention days: 0 disables; otherwise never shorter than the longest velocity window', () => {
  checkRetentionDays(0);
  checkRetentionDays(limits.retentionDaysDefault);
  assert.throws(() => checkRetentionDays(30));
  assert.throws(() => checkRetentionDays(limits.retentionDaysMax + 1));
  assert.throws(() => checkRetentionDays(35.5));
});
