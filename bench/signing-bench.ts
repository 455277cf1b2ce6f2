/**
 * Signing benchmark (issue: Foundation): raw in-process FROST vs coordinated end-to-end signing
 * over loopback with SQLite `synchronous=FULL`, for 2-of-3 bip340 and ed25519, plus throughput
 * with 16 concurrent requests. Wall-clock figures belong here, never in tests.
 */
import { randomBytes } from 'node:crypto';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { LocalCluster } from '../src/cli/local-cluster.ts';
import { runKeygen, runSigning } from '../src/protocol/local-run.ts';
import type { Scheme } from '../src/protocol/engine.ts';
import { percentile, round2 } from './stats.ts';

const rng = (n: number) => new Uint8Array(randomBytes(n));

/** Benchmark sizes (override with env for quick runs). */
const rawRuns = Number(process.env['QUORATE_BENCH_RAW_RUNS'] ?? 300);
const e2eRuns = Number(process.env['QUORATE_BENCH_E2E_RUNS'] ?? 200);
const concurrentTotal = Number(process.env['QUORATE_BENCH_CONCURRENT_TOTAL'] ?? 320);
const concurrency = 16;
const schemes = (process.env['QUORATE_BENCH_SCHEMES'] ?? 'bip340,ed25519').split(',') as Scheme[];

function rawSigning(scheme: Scheme): { p50: number; p99: number } {
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

async function coordinated(cluster: LocalCluster, scheme: Scheme) {
  const parties = ['mobile', 'backend', 'guardian'];
  const wallet = await cluster.request('POST', '/v1/wallets', { scheme, threshold: 2, parties });
  if (wallet.status !== 201) throw new Error(`wallet: ${JSON.stringify(wallet.json)}`);
  const walletId = wallet.json['walletId'] as string;
  const sign = async (key: string) => {
    const t0 = performance.now();
    const res = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: Buffer.from(key).toString('hex'),
      intentKey: key,
    });
    if (res.status !== 200) throw new Error(`sign: ${JSON.stringify(res.json)}`);
    return performance.now() - t0;
  };
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
}

/** Runs the signing benchmark and returns its results. */
export async function runSigningBench(
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const profileDir = process.env['QUORATE_BENCH_CPU_PROF'];
  const cluster = new LocalCluster(
    profileDir === undefined ? {} : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] },
  );
  const results: Record<string, unknown> = {};
  try {
    await cluster.startWithParties(['mobile', 'backend', 'guardian']);
    for (const scheme of schemes) {
      log(`signing ${scheme} 2-of-3: raw in-process (${rawRuns} runs)…`);
      const raw = rawSigning(scheme);
      log(
        `signing ${scheme} 2-of-3: coordinated over loopback (${e2eRuns} sequential, ${concurrentTotal} at concurrency ${concurrency})…`,
      );
      const e2e = await coordinated(cluster, scheme);
      const ratio = round2(e2e.p50 / raw.p50);
      results[scheme] = {
        rawMsP50: raw.p50,
        rawMsP99: raw.p99,
        coordinatedMsP50: e2e.p50,
        coordinatedMsP99: e2e.p99,
        ratioP50: ratio,
        goalRatioP50Max: 1.5,
        meetsGoal: ratio <= 1.5,
        throughputPerSecAtConcurrency16: e2e.throughputPerS,
      };
      log(
        `  ${scheme}: raw p50 ${raw.p50} ms p99 ${raw.p99} ms | coordinated p50 ${e2e.p50} ms p99 ${e2e.p99} ms | ratio ${ratio}x | ${e2e.throughputPerS} signatures/s @16`,
      );
    }
  } finally {
    await cluster.stop();
  }
  return {
    config: {
      rawRuns,
      e2eRuns,
      concurrentTotal,
      concurrency,
      store: 'sqlite synchronous=FULL',
      transport: 'WebSocket over loopback',
    },
    results,
  };
}
