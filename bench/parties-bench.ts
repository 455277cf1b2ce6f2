/**
 * Parties benchmark (issue 13, scale of parties): a real coordinator (LocalCluster, SQLite FULL)
 * with 1 000 and 10 000 extra party connections, real WebSockets on loopback from a load
 * generator process (bench/party-load.ts: real handshake, enrolled with the party secret,
 * answering heartbeats with signed pongs), among three real `quorate party` processes holding a
 * 2-of-3 wallet and one more real party that is killed with SIGKILL.
 *
 * Per run: the coordinator's CPU share (utime+stime from /proc/<pid>/stat over wall time, with
 * the fleet connected and idle apart from heartbeats), its RSS, the time of the whole
 * `GET /v1/parties` listing and of one page of it (`?limit=100`), the time until the killed
 * party shows `down` in `GET /v1/parties/{id}` (polled every 10 ms: the figure is the
 * coordinator's detection, not the cost of reading 10 000 rows), and the sign p50 of the
 * wallet. A run with no extra parties comes first, as the baseline detection is compared with.
 *
 * Knobs: QUORATE_BENCH_PARTY_RUNS (`count:heartbeat` pairs, default
 * `0:1000,1000:1000,1000:30000,10000:30000`), QUORATE_BENCH_CPU_WINDOW_S (20),
 * QUORATE_BENCH_SIGN_RUNS (30), QUORATE_BENCH_DETECT_RUNS (3).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../src/cli/local-cluster.ts';
import { percentile, round2 } from './stats.ts';

const benchDir = dirname(fileURLToPath(import.meta.url));
const runsSpec =
  process.env['QUORATE_BENCH_PARTY_RUNS'] ?? '0:1000,1000:1000,1000:30000,10000:30000';
const cpuWindowS = Number(process.env['QUORATE_BENCH_CPU_WINDOW_S'] ?? 20);
const signRuns = Number(process.env['QUORATE_BENCH_SIGN_RUNS'] ?? 30);
const detectRuns = Number(process.env['QUORATE_BENCH_DETECT_RUNS'] ?? 3);
const clockTicksPerS = 100; // USER_HZ on Linux
const detectPollMs = 10;
const walletParties = ['mobile', 'backend', 'guardian'];

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round3 = (x: number) => Math.round(x * 1_000) / 1_000;

/** CPU seconds (user + system) of a process so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerS;
}

/** Resident set size (MiB) of a process, from /proc/<pid>/status. */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return round2(Number(match?.[1] ?? 0) / 1024);
}

/** Starts the load generator and resolves once every connection is welcomed (or failed). */
async function startLoad(
  cluster: LocalCluster,
  count: number,
  heartbeatMs: number,
): Promise<{ child: ChildProcess; welcomed: number; readyS: number }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(benchDir, 'party-load.ts'),
      '--url',
      cluster.url,
      '--count',
      String(count),
      '--heartbeat-ms',
      String(heartbeatMs),
    ],
    {
      env: { ...process.env, QUORATE_PARTY_SECRET: cluster.partySecret },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-4_000)));
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (d: Buffer) => {
      buffer += String(d);
      const line = buffer.split('\n').find((l) => l.startsWith('{"ready"'));
      if (line === undefined) return;
      buffer = '';
      const { ready } = JSON.parse(line) as { ready: { welcomed: number; readyS: number } };
      resolve({ child, welcomed: ready.welcomed, readyS: ready.readyS });
    });
    child.on('exit', (code) => reject(new Error(`load generator exited ${code}: ${stderr}`)));
  });
}

async function listParties(cluster: LocalCluster, query = '') {
  const t0 = performance.now();
  const { json } = await cluster.request('GET', `/v1/parties${query}`);
  const ms = performance.now() - t0;
  return { ms, rows: (json['parties'] as { partyId: string; state: string }[] | undefined) ?? [] };
}

/** The median time of five requests of the listing with `query`, and its last row count. */
async function listingMs(cluster: LocalCluster, query = '') {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < 5; i++) {
    const listed = await listParties(cluster, query);
    times.push(listed.ms);
    rows = listed.rows.length;
  }
  return { ms: round2(percentile(times, 50)), rows };
}

/**
 * Kills a real party with SIGKILL; ms until `GET /v1/parties/{id}` shows it down, polled every
 * `detectPollMs`. It reads one row, so the figure is the coordinator's detection.
 */
async function detection(cluster: LocalCluster, victim: string): Promise<number> {
  cluster.startParty(victim);
  await cluster.waitForParties([victim], 'alive');
  await sleepMs(2_000);
  const t0 = performance.now();
  await cluster.kill(victim, 'SIGKILL');
  for (let i = 0; i < 6_000; i++) {
    const { json } = await cluster.request('GET', `/v1/parties/${victim}`);
    if (json['state'] === 'down') return performance.now() - t0;
    await sleepMs(detectPollMs);
  }
  throw new Error(`${victim} not down within the bound`);
}

async function signP50(cluster: LocalCluster, tag: string): Promise<number> {
  const wallet = await cluster.request('POST', '/v1/wallets', {
    scheme: 'bip340',
    threshold: 2,
    parties: walletParties,
  });
  if (wallet.status !== 201) throw new Error(`wallet: ${JSON.stringify(wallet.json)}`);
  const walletId = wallet.json['walletId'] as string;
  const samples: number[] = [];
  for (let i = 0; i < signRuns + 5; i++) {
    const key = `${tag}-${i}`;
    const t0 = performance.now();
    const res = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: Buffer.from(key).toString('hex'),
      intentKey: key,
    });
    if (res.status !== 200) throw new Error(`sign: ${JSON.stringify(res.json)}`);
    if (i >= 5) samples.push(performance.now() - t0);
  }
  return round2(percentile(samples, 50));
}

/** One run: `count` load parties of class `heartbeatMs` among the real ones. */
async function oneRun(count: number, heartbeatMs: number, log: (line: string) => void) {
  const cluster = new LocalCluster({ anchored: false });
  let load: ChildProcess | undefined;
  try {
    await cluster.startWithParties(walletParties);
    const pid = cluster.pid('coordinator');
    if (pid === undefined) throw new Error('no coordinator pid');
    const rssIdleMiB = rssMiB(pid);
    let connect = { welcomed: 0, readyS: 0 };
    if (count > 0) {
      log(`  ${count} load parties (heartbeat ${heartbeatMs} ms): connecting…`);
      const started = await startLoad(cluster, count, heartbeatMs);
      load = started.child;
      connect = { welcomed: started.welcomed, readyS: started.readyS };
      log(`  ${started.welcomed}/${count} welcomed in ${started.readyS} s`);
    }
    await sleepMs(5_000); // past the enrolment burst and one pin sweep
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await sleepMs(cpuWindowS * 1_000);
    const cpuShare = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1_000);
    const rss = rssMiB(pid);
    const listing = await listingMs(cluster);
    const page = await listingMs(cluster, '?limit=100');
    const one = await listingMs(cluster, `/${walletParties[0]}`);
    const loadStates: Record<string, number> = {};
    for (const r of (await listParties(cluster)).rows) {
      if (r.partyId.startsWith('load-')) loadStates[r.state] = (loadStates[r.state] ?? 0) + 1;
    }
    const sign = await signP50(cluster, `n${count}-h${heartbeatMs}`);
    const detections: number[] = [];
    for (let i = 0; i < detectRuns; i++) detections.push(await detection(cluster, `victim-${i}`));
    const result = {
      loadParties: count,
      loadHeartbeatMs: heartbeatMs,
      welcomed: connect.welcomed,
      connectS: connect.readyS,
      loadStatesAtListing: loadStates,
      coordinatorCpuShare: round3(cpuShare),
      coordinatorCpuSharePer1000Parties: count > 0 ? round3((cpuShare * 1_000) / count) : null,
      coordinatorRssMiB: rss,
      coordinatorRssIdleMiB: rssIdleMiB,
      listPartiesMsP50: listing.ms,
      listPartiesRows: listing.rows,
      listPartiesPage100MsP50: page.ms,
      getOnePartyMsP50: one.ms,
      detectionMsKilledParty: detections.map(round2),
      detectionMsP50: round2(percentile(detections, 50)),
      signMsP50: sign,
    };
    log(`  ${JSON.stringify(result)}`);
    return result;
  } finally {
    load?.kill('SIGTERM');
    await cluster.stop();
  }
}

/** Runs the parties benchmark and returns its results. */
export async function runPartiesBench(
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const runs = runsSpec.split(',').map((pair) => {
    const [count, heartbeatMs] = pair.split(':').map(Number);
    return { count: count ?? 0, heartbeatMs: heartbeatMs ?? 1_000 };
  });
  const results = [];
  for (const { count, heartbeatMs } of runs) {
    log(`parties: ${count} extra connections, class ${heartbeatMs} ms`);
    results.push(await oneRun(count, heartbeatMs, log));
  }
  return {
    config: {
      runs: runsSpec,
      cpuWindowS,
      signRuns,
      detectRuns,
      detectPollMs,
      detectionReads: 'GET /v1/parties/{id} of the killed party',
      coordinatorHeartbeatMs: 1_000,
      store: 'sqlite synchronous=FULL',
      transport: 'WebSocket over loopback',
      loadGenerator: 'bench/party-load.ts, one separate process',
      fileDescriptorLimit: 'ulimit -n must exceed the connection count in both processes',
    },
    results,
  };
}
