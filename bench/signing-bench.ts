/**
 * Signing benchmark (issue 13): raw in-process FROST vs coordinated end-to-end signing over
 * loopback with SQLite `synchronous=FULL`, for 2-of-3 bip340 and ed25519, side by side in one
 * run; then throughput with 16 concurrent requests, as a share of the raw bound (the raw
 * single-process rate times the cores). Issue 14 adds the `ecdsa` rows (ecdsa-bench.ts).
 * Wall-clock figures belong here, never in tests.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { cpus } from 'node:os';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { LocalCluster } from '../src/cli/local-cluster.ts';
import { runKeygen, runSigning } from '../src/protocol/local-run.ts';
import type { FrostScheme, Scheme } from '../src/protocol/engine.ts';
import { ecdsaExtraParties, runEcdsaRows } from './ecdsa-bench.ts';
import { percentile, round2 } from './stats.ts';

const rng = (n: number) => new Uint8Array(randomBytes(n));

/** Benchmark sizes (override with env for quick runs). */
const rawRuns = Number(process.env['QUORATE_BENCH_RAW_RUNS'] ?? 300);
const e2eRuns = Number(process.env['QUORATE_BENCH_E2E_RUNS'] ?? 200);
const concurrentTotal = Number(process.env['QUORATE_BENCH_CONCURRENT_TOTAL'] ?? 320);
const concurrency = 16;
const cores = cpus().length;
/** Goals of issue 13. */
const goalRatioP50Max = 1.3;
const goalThroughputShareMin = 0.6;
const schemes = (process.env['QUORATE_BENCH_SCHEMES'] ?? 'bip340,ed25519,ecdsa').split(
  ',',
) as Scheme[];

function rawSigning(scheme: FrostScheme): { p50: number; p99: number } {
  const parties = ['mobile', 'backend', 'guardian'];
  const keys = runKeygen(scheme, parties, 2, rng);
  const samples: number[] = [];
  for (let i = 0; i < rawRuns + 20; i++) {
    const msg = utf8ToBytes(`raw ${i}`);
    const t0 = performance.now();
    runSigning(scheme, keys, ['mobile', 'backend'], msg, rng);
    if (i >= 20) samples.push(performance.now() - t0);
  }
  return { p50: round2(percentile(samples, 50)), p99: round2(percentile(samples, 99)) };
}

/**
 * The caller: keep-alive HTTP/1.1 with one socket per concurrent request, as a wallet backend
 * would hold them (cheaper per request than `fetch`, and the caller shares the cores).
 */
function apiClient(cluster: LocalCluster) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL(cluster.url);
  const post = (path: string, body: unknown): Promise<{ status: number; json: unknown }> =>
    new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = httpRequest(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path,
          method: 'POST',
          headers: {
            authorization: `Bearer ${cluster.apiToken}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(data),
          },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
            }),
          );
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.end(data);
    });
  return { post, close: () => agent.destroy() };
}

async function coordinated(cluster: LocalCluster, scheme: Scheme) {
  const parties = ['mobile', 'backend', 'guardian'];
  const wallet = await cluster.request('POST', '/v1/wallets', { scheme, threshold: 2, parties });
  if (wallet.status !== 201) throw new Error(`wallet: ${JSON.stringify(wallet.json)}`);
  const walletId = wallet.json['walletId'] as string;
  const client = apiClient(cluster);
  const sign = async (key: string) => {
    const t0 = performance.now();
    const res = await client.post(`/v1/wallets/${walletId}/signatures`, {
      message: Buffer.from(key).toString('hex'),
      intentKey: key,
    });
    if (res.status !== 200) throw new Error(`sign: ${JSON.stringify(res.json)}`);
    return performance.now() - t0;
  };
  try {
    for (let i = 0; i < 20; i++) await sign(`${scheme}-warm-${i}`);
    const samples: number[] = [];
    for (let i = 0; i < e2eRuns; i++) samples.push(await sign(`${scheme}-seq-${i}`));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < concurrentTotal) {
          const i = next++;
          await sign(`${scheme}-conc-${i}`);
        }
      }),
    );
    const elapsedS = (performance.now() - t0) / 1000;
    return {
      p50: round2(percentile(samples, 50)),
      p99: round2(percentile(samples, 99)),
      throughputPerS: round2(concurrentTotal / elapsedS),
    };
  } finally {
    client.close();
  }
}

/** One FROST row: raw in-process against coordinated over loopback, then throughput. */
async function frostRow(
  cluster: LocalCluster,
  scheme: FrostScheme,
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  log(`signing ${scheme} 2-of-3: raw in-process (${rawRuns} runs)…`);
  const raw = rawSigning(scheme);
  log(
    `signing ${scheme} 2-of-3: coordinated over loopback (${e2eRuns} sequential, ${concurrentTotal} at concurrency ${concurrency})…`,
  );
  const e2e = await coordinated(cluster, scheme);
  const ratio = round2(e2e.p50 / raw.p50);
  // The raw bound: every core signing raw FROST back to back, nothing else running.
  const rawBoundPerSec = round2((1000 / raw.p50) * cores);
  const share = round2(e2e.throughputPerS / rawBoundPerSec);
  log(
    `  ${scheme}: raw p50 ${raw.p50} ms p99 ${raw.p99} ms | coordinated p50 ${e2e.p50} ms p99 ${e2e.p99} ms | ratio ${ratio}x (goal <= ${goalRatioP50Max}) | ${e2e.throughputPerS} signatures/s @16 = ${share} of the raw bound ${rawBoundPerSec}/s (goal >= ${goalThroughputShareMin})`,
  );
  return {
    rawMsP50: raw.p50,
    rawMsP99: raw.p99,
    coordinatedMsP50: e2e.p50,
    coordinatedMsP99: e2e.p99,
    ratioP50: ratio,
    ratioP99: round2(e2e.p99 / raw.p99),
    goalRatioP50Max,
    throughputPerSecAtConcurrency16: e2e.throughputPerS,
    rawBoundPerSec,
    throughputShareOfRawBound: share,
    goalThroughputShareMin,
    meetsGoals: ratio <= goalRatioP50Max && share >= goalThroughputShareMin,
  };
}

/** Runs the signing benchmark and returns its results. */
export async function runSigningBench(
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const profileDir = process.env['QUORATE_BENCH_CPU_PROF'];
  const clusterOptions =
    profileDir === undefined ? {} : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] };
  const results: Record<string, unknown> = {};
  const parties = ['mobile', 'backend', 'guardian'];
  const frost = schemes.filter((s): s is FrostScheme => s !== 'ecdsa');
  if (frost.length > 0) {
    // The FROST rows on three parties, as issue 13 measured them.
    const cluster = new LocalCluster(clusterOptions);
    try {
      await cluster.startWithParties(parties);
      for (const scheme of frost) results[scheme] = await frostRow(cluster, scheme, log);
    } finally {
      await cluster.stop();
    }
  }
  if (schemes.includes('ecdsa')) {
    // The ecdsa rows need five parties (3-of-5): a cluster of their own, after the FROST rows.
    const cluster = new LocalCluster(clusterOptions);
    try {
      await cluster.startWithParties([...parties, ...ecdsaExtraParties]);
      Object.assign(results, await runEcdsaRows(cluster, [...parties, ...ecdsaExtraParties], log));
    } finally {
      await cluster.stop();
    }
  }
  return {
    config: {
      rawRuns,
      e2eRuns,
      concurrentTotal,
      concurrency,
      cores,
      client: 'node:http keep-alive, one socket per concurrent request',
      store: 'sqlite synchronous=FULL',
      transport: 'WebSocket over loopback',
    },
    results,
  };
}
