/**
 * Scale benchmark (issue 13, scale of history), real processes on loopback, one run:
 *
 * - SQLite: a coordinator on an empty store and one on a store seeded with
 *   QUORATE_BENCH_SCALE_SQLITE_SESSIONS (1 000 000) finished sessions across
 *   QUORATE_BENCH_SCALE_SQLITE_WALLETS (99 999, plus the benchmark's own) wallets, running side by side; sign requests
 *   alternate between them so machine noise hits both. Then the same for etcd (one member,
 *   fsync on) with QUORATE_BENCH_SCALE_ETCD_SESSIONS (200 000) across
 *   QUORATE_BENCH_SCALE_ETCD_WALLETS (20 000; the same ten sessions per wallet).
 * - Per coordinator: sign p50/p99 of a 2-of-3 bip340 wallet, RSS (VmRSS of the coordinator
 *   process) after start-up and after signing, the takeover scan's pass time (GET /metrics:
 *   `quorate_takeover_scan_seconds`, and the `quorate_takeover_scan_ms` gauge sampled while
 *   signing), and `quorate_store_lease_lost_total` (the counter the coordinator increments
 *   when its store lease lapses, the 503 failure of issue 13).
 * - etcd's database size after seeding, after the coordinator's compaction
 *   (`compactHistory`, the retention pass's call) and after a defragmentation.
 *
 * Goals: seeded/empty sign p50 <= 1.2, RSS <= 1.5, the lease never lost. The seed goes straight
 * into the store (src/store/seed.ts: one SQLite transaction per 10 000 sessions, etcd txns
 * within its op and size limits) before the coordinator starts on it.
 * Knobs: the four above, QUORATE_BENCH_SCALE_SIGN_RUNS (100).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../src/cli/local-cluster.ts';
import { realEnv } from '../src/core/env.ts';
import { EtcdStore } from '../src/store/etcd.ts';
import {
  seedHistory,
  seededSession,
  seededWalletId,
  type HistoryImporter,
  type SeedPlan,
} from '../src/store/seed.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import { EtcdCluster } from '../test/helpers/etcd-cluster.ts';
import { haBenchParties, signOnce, walletOn } from './ha-bench.ts';
import { percentile, round2 } from './stats.ts';

const knob = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const sqliteSessions = knob('QUORATE_BENCH_SCALE_SQLITE_SESSIONS', 1_000_000);
// One under walletsMax (100 000): the benchmark's own wallet is the 100 000th.
const sqliteWallets = knob('QUORATE_BENCH_SCALE_SQLITE_WALLETS', 99_999);
const etcdSessions = knob('QUORATE_BENCH_SCALE_ETCD_SESSIONS', 200_000);
const etcdWallets = knob('QUORATE_BENCH_SCALE_ETCD_WALLETS', 20_000);
const signRuns = knob('QUORATE_BENCH_SCALE_SIGN_RUNS', 100);
const warmup = 10;
const dayMs = 86_400_000;
const goals = { latencyRatioMax: 1.2, rssRatioMax: 1.5 };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const env = realEnv({ logLevel: 'silent' });

/**
 * Creation times of the seeded history: the 30 days before the last hour, inside the default
 * retention (35 days), so the hot store keeps all of it during the run.
 */
function seedWindow(): Pick<SeedPlan, 'fromMs' | 'toMs'> {
  const toMs = Date.now() - 3_600_000;
  return { fromMs: toMs - 30 * dayMs, toMs };
}

function progress(log: (line: string) => void, what: string, total: number) {
  const t0 = performance.now();
  let next = 0;
  return (written: number) => {
    if (written < next && written < total) return;
    next = written + Math.max(1, Math.floor(total / 10));
    const s = (performance.now() - t0) / 1_000;
    log(`  ${what}: ${written}/${total} sessions, ${s.toFixed(1)} s`);
  };
}

/** Seeds `store` with `sessions` across `wallets` in batches, logging progress; seconds taken. */
async function seedTimed(
  store: HistoryImporter,
  what: string,
  counts: { wallets: number; sessions: number; batchSessions: number },
  log: (line: string) => void,
): Promise<number> {
  const t0 = performance.now();
  await seedHistory(store, {
    ...counts,
    ...seedWindow(),
    onProgress: progress(log, what, counts.sessions),
  });
  return round2((performance.now() - t0) / 1_000);
}

/** Seeds the SQLite file a coordinator of `cluster` (replica 0) opens. */
async function seedSqlite(dataDir: string, log: (line: string) => void) {
  const dir = join(dataDir, LocalCluster.replicaName(0));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'store.sqlite');
  const store = new SqliteStore(path, { clock: env });
  let seconds: number;
  try {
    const counts = { wallets: sqliteWallets, sessions: sqliteSessions, batchSessions: 10_000 };
    seconds = await seedTimed(store, 'sqlite seed', counts, log);
  } finally {
    await store.close();
  }
  const bytes =
    statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  return { seedS: seconds, storeMiB: round2(bytes / 2 ** 20) };
}

/** One call to etcd's JSON gateway (member 0); throws unless 200. */
async function etcdCall(etcd: EtcdCluster, path: string, body: unknown) {
  const res = await fetch(`${etcd.endpoints[0]}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(600_000),
  });
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** etcd's database size (MiB), total and in use, from the gateway's maintenance status. */
async function etcdDbMiB(etcd: EtcdCluster) {
  const status = await etcdCall(etcd, '/v3/maintenance/status', {});
  return {
    dbMiB: round2(Number(status['dbSize'] ?? 0) / 2 ** 20),
    dbInUseMiB: round2(Number(status['dbSizeInUse'] ?? 0) / 2 ** 20),
  };
}

/** Seeds etcd, then measures its db size after seeding, compaction and defragmentation. */
async function seedEtcd(etcd: EtcdCluster, log: (line: string) => void) {
  const store = await EtcdStore.open(etcd.url, env);
  try {
    const counts = { wallets: etcdWallets, sessions: etcdSessions, batchSessions: 2_000 };
    const seedS = await seedTimed(store, 'etcd seed', counts, log);
    const afterSeed = await etcdDbMiB(etcd);
    // The coordinator's own compaction keeps etcdCompactKeepRevisions; the seed wrote few,
    // large txns (one revision each), so compact to the head too, as an operator would
    // (`etcdctl compact --physical`: the answer waits until the compaction is applied).
    const keptRevision = await store.compactHistory();
    const afterKeepCompaction = await etcdDbMiB(etcd);
    const compactedRevision = await etcdCall(etcd, '/v3/kv/range', {
      key: btoa('/'),
      count_only: true,
    }).then((r) => Number((r['header'] as { revision?: string } | undefined)?.revision ?? 0));
    await etcdCall(etcd, '/v3/kv/compaction', {
      revision: String(compactedRevision),
      physical: true,
    });
    const afterCompaction = await etcdDbMiB(etcd);
    const d0 = performance.now();
    await etcdCall(etcd, '/v3/maintenance/defragment', {});
    const defragS = round2((performance.now() - d0) / 1_000);
    const afterDefrag = await etcdDbMiB(etcd);
    log(
      `  etcd db: ${afterSeed.dbMiB} MiB after seeding, ${afterCompaction.dbMiB} MiB (in use ${afterCompaction.dbInUseMiB}) after compaction to ${compactedRevision}, ${afterDefrag.dbMiB} MiB after defrag (${defragS} s)`,
    );
    return {
      seedS,
      afterSeed,
      keptRevision,
      afterKeepCompaction,
      compactedRevision,
      afterCompaction,
      afterDefrag,
      defragS,
    };
  } finally {
    await store.close();
  }
}

/** Resident set size (MiB) of a process, from /proc/<pid>/status. */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return round2(Number(match?.[1] ?? 0) / 1024);
}

function coordinatorPid(cluster: LocalCluster): number {
  const pid = cluster.pid(LocalCluster.replicaName(0));
  if (pid === undefined) throw new Error('no coordinator pid');
  return pid;
}

/** The value of one unlabelled sample of GET /metrics (0 when absent). */
async function metrics(cluster: LocalCluster): Promise<(name: string) => number> {
  const res = await fetch(`${cluster.url}/metrics`, {
    headers: { authorization: `Bearer ${cluster.apiToken}` },
  });
  const text = await res.text();
  return (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.slice(name.length + 1));
  };
}

async function startCluster(cluster: LocalCluster): Promise<string> {
  await cluster.startWithParties(haBenchParties);
  return walletOn(cluster);
}

/** Fails unless the seeded history is what the coordinator serves (one seeded session). */
async function checkSeeded(cluster: LocalCluster, sessions: number, wallets: number) {
  const i = sessions - 1;
  const sessionId = seededSession(i, seededWalletId(i % wallets), 0).sessionId;
  const r = await cluster.request('GET', `/v1/sessions/${sessionId}`);
  if (r.status !== 200 || r.json['status'] !== 'signed') {
    throw new Error(
      `seeded session ${sessionId} not served: ${r.status} ${JSON.stringify(r.json)}`,
    );
  }
}

interface Side {
  cluster: LocalCluster;
  walletId: string;
  latencies: number[];
  scanSamplesMs: number[];
  rssSamplesMiB: number[];
  rssStartMiB: number;
}

/** Signs on both sides alternately; then each side's figures. */
async function compare(empty: Side, seeded: Side, log: (line: string) => void) {
  for (let i = 0; i < signRuns + warmup; i++) {
    for (const side of [empty, seeded]) {
      const ms = await signOnce(side.cluster, side.walletId, i);
      if (i >= warmup) side.latencies.push(ms);
      if (i % 5 !== 0) continue;
      side.rssSamplesMiB.push(rssMiB(coordinatorPid(side.cluster)));
      side.scanSamplesMs.push((await metrics(side.cluster))('quorate_takeover_scan_ms'));
    }
  }
  const figures = async (side: Side) => {
    const m = await metrics(side.cluster);
    const scans = m('quorate_takeover_scan_seconds_count');
    return {
      signMsP50: round2(percentile(side.latencies, 50)),
      signMsP99: round2(percentile(side.latencies, 99)),
      rssStartMiB: side.rssStartMiB,
      // The median of samples taken while signing: one reading lands anywhere in a GC cycle.
      rssMiB: round2(percentile(side.rssSamplesMiB, 50)),
      rssMiBMax: round2(Math.max(...side.rssSamplesMiB)),
      rssEndMiB: rssMiB(coordinatorPid(side.cluster)),
      takeoverScans: scans,
      takeoverScanMsMean:
        scans > 0 ? round2((m('quorate_takeover_scan_seconds_sum') * 1_000) / scans) : null,
      takeoverScanMsMaxSampled: round2(Math.max(0, ...side.scanSamplesMs)),
      leaseLost: m('quorate_store_lease_lost_total'),
    };
  };
  const a = await figures(empty);
  const b = await figures(seeded);
  const latencyRatio = round2(b.signMsP50 / a.signMsP50);
  const rssRatio = round2(b.rssMiB / a.rssMiB);
  const result = {
    empty: a,
    seeded: b,
    latencyRatioP50: latencyRatio,
    rssRatio,
    leaseNeverLost: a.leaseLost === 0 && b.leaseLost === 0,
    goalsMet:
      latencyRatio <= goals.latencyRatioMax &&
      rssRatio <= goals.rssRatioMax &&
      a.leaseLost === 0 &&
      b.leaseLost === 0,
  };
  log(`  ${JSON.stringify(result)}`);
  return result;
}

async function side(cluster: LocalCluster): Promise<Side> {
  const walletId = await startCluster(cluster);
  await sleep(2_000); // past start-up: RSS of a settled process
  return {
    cluster,
    walletId,
    latencies: [],
    scanSamplesMs: [],
    rssSamplesMiB: [],
    rssStartMiB: rssMiB(coordinatorPid(cluster)),
  };
}

async function sqliteRun(log: (line: string) => void) {
  const seededDir = mkdtempSync(join(tmpdir(), 'quorate-scale-'));
  const empty = new LocalCluster();
  const seeded = new LocalCluster({ dataDir: seededDir });
  try {
    log(`sqlite: seeding ${sqliteSessions} sessions across ${sqliteWallets} wallets`);
    const seed = await seedSqlite(seededDir, log);
    log(`  seeded in ${seed.seedS} s, store ${seed.storeMiB} MiB`);
    const t0 = performance.now();
    const sides = [await side(empty), await side(seeded)] as const;
    const startS = round2((performance.now() - t0) / 1_000);
    await checkSeeded(seeded, sqliteSessions, sqliteWallets);
    return {
      sessions: sqliteSessions,
      wallets: sqliteWallets,
      ...seed,
      startS,
      ...(await compare(...sides, log)),
    };
  } finally {
    await empty.stop();
    await seeded.stop();
    rmSync(seededDir, { recursive: true, force: true });
  }
}

async function etcdRun(log: (line: string) => void) {
  const etcdEmpty = await EtcdCluster.start(1);
  const etcdSeeded = await EtcdCluster.start(1);
  const empty = new LocalCluster({ coordinatorArgs: ['--store', etcdEmpty.url] });
  const seeded = new LocalCluster({ coordinatorArgs: ['--store', etcdSeeded.url] });
  try {
    log(`etcd: seeding ${etcdSessions} sessions across ${etcdWallets} wallets`);
    const seed = await seedEtcd(etcdSeeded, log);
    const sides = [await side(empty), await side(seeded)] as const;
    await checkSeeded(seeded, etcdSessions, etcdWallets);
    return {
      sessions: etcdSessions,
      wallets: etcdWallets,
      ...seed,
      ...(await compare(...sides, log)),
    };
  } finally {
    await empty.stop();
    await seeded.stop();
    await etcdEmpty.stop();
    await etcdSeeded.stop();
  }
}

/** Runs the scale benchmark and returns its results. */
export async function runScaleBench(log: (line: string) => void): Promise<Record<string, unknown>> {
  const sqlite = await sqliteRun(log);
  const etcd = await etcdRun(log);
  return {
    config: {
      signRuns,
      warmup,
      wallet: 'bip340 2-of-3, three real parties',
      seededHistory:
        'signed sessions, created over the 30 days before the run (inside the default 35-day retention)',
      sqlite: 'WAL, synchronous=FULL',
      etcd: 'one member, fsync on; the empty and the seeded coordinator each on their own member',
      goals,
    },
    sqlite,
    etcd,
    goalsMet: sqlite.goalsMet && etcd.goalsMet,
  };
}
