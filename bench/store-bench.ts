/**
 * Store benchmark (issue 6): latency of one session's store path — createSession (intent lock)
 * then two casSession — on SQLite (WAL, synchronous=FULL) versus a 1-node etcd on loopback
 * (started here, fsync on, temp data dir), run one after the other in the same process.
 * Also the per-operation p50 and a lease renewal round trip. Wall-clock figures belong here,
 * never in tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realEnv } from '../src/core/env.ts';
import { limits } from '../src/core/limits.ts';
import { EtcdStore } from '../src/store/etcd.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import type { Store } from '../src/store/store.ts';
import type { SessionRecord } from '../src/session/record.ts';
import { EtcdCluster } from '../test/helpers/etcd-cluster.ts';
import { percentile, round2 } from './stats.ts';

/** Iterations (override for quick runs); the first `warmup` are not measured. */
const runs = Number(process.env['QUORATE_BENCH_STORE_RUNS'] ?? 300);
const warmup = 20;

interface Figures {
  createCasCasMsP50: number;
  createCasCasMsP99: number;
  createMsP50: number;
  casMsP50: number;
  renewLeaseMsP50: number;
}

function record(i: number, createdMs: number): SessionRecord {
  return {
    sessionId: `bench-${i}`,
    walletId: 'bench-wallet',
    intentKey: `intent-${i}`,
    messageHex: 'ab'.repeat(32),
    messageHash: 'cd'.repeat(32),
    status: 'pending',
    createdMs,
    deadlineMs: createdMs + 30_000,
    attempts: [],
    excluded: [],
    slow: [],
  };
}

async function measure(store: Store): Promise<Figures> {
  const total: number[] = [];
  const create: number[] = [];
  const cas: number[] = [];
  const renew: number[] = [];
  const lease = await store.acquireLease('bench', limits.storeLeaseTtlMsMax);
  for (let i = 0; i < runs + warmup; i++) {
    const t0 = performance.now();
    const created = await store.createSession(record(i, Date.now()), { lease });
    const t1 = performance.now();
    const running = { ...created.session.value, status: 'running' as const };
    const v2 = await store.casSession(running.sessionId, 1, running, { lease });
    const t2 = performance.now();
    await store.casSession(running.sessionId, 2, { ...v2.value, status: 'signed' }, { lease });
    const t3 = performance.now();
    await store.renewLease(lease);
    const t4 = performance.now();
    if (i < warmup) continue;
    total.push(t3 - t0);
    create.push(t1 - t0);
    cas.push(t2 - t1, t3 - t2);
    renew.push(t4 - t3);
  }
  return {
    createCasCasMsP50: round2(percentile(total, 50)),
    createCasCasMsP99: round2(percentile(total, 99)),
    createMsP50: round2(percentile(create, 50)),
    casMsP50: round2(percentile(cas, 50)),
    renewLeaseMsP50: round2(percentile(renew, 50)),
  };
}

/** Runs the benchmark; starts and stops its own etcd and SQLite file. */
export async function runStoreBench(
  log: (line: string) => void = () => {},
): Promise<Record<string, unknown>> {
  const env = realEnv({ logLevel: 'silent' });
  const dir = mkdtempSync(join(tmpdir(), 'quorate-store-bench-'));
  let sqlite: Figures;
  try {
    const store = new SqliteStore(join(dir, 'store.sqlite'), { clock: env });
    log(`sqlite: ${runs} × create+CAS+CAS`);
    sqlite = await measure(store);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const cluster = await EtcdCluster.start(1);
  let etcd: Figures;
  try {
    const store = await EtcdStore.open(cluster.url, env, '/bench/');
    log(`etcd: ${runs} × create+CAS+CAS`);
    etcd = await measure(store);
    await store.close();
  } finally {
    await cluster.stop();
  }
  return {
    runs,
    sqlite: { synchronous: 'FULL', ...sqlite },
    etcd: { version: '3.4 (1 node, loopback, fsync on)', ...etcd },
    etcdOverSqliteP50: round2(etcd.createCasCasMsP50 / sqlite.createCasCasMsP50),
    etcdOverSqliteP99: round2(etcd.createCasCasMsP99 / sqlite.createCasCasMsP99),
  };
}
