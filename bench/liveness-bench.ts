/**
 * Liveness benchmark (issue: partition tolerance): detection time, time to explicit failure,
 * recovery time after heal, and signing latency with one party down versus all up — from the
 * deterministic simulator (virtual time) and from real processes on loopback (wall clock).
 */
import { LocalCluster } from '../src/cli/local-cluster.ts';
import { runCampaign } from '../src/sim/campaign.ts';
import { percentile, round2 } from './stats.ts';

const simSeeds = Number(process.env['QUORATE_BENCH_SIM_SEEDS'] ?? 300);
const rounds = Number(process.env['QUORATE_BENCH_LIVENESS_ROUNDS'] ?? 5);
const signRuns = Number(process.env['QUORATE_BENCH_LIVENESS_SIGNS'] ?? 40);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const parties = ['l1', 'l2', 'l3'];

const summary = (xs: number[]) => ({
  p50: round2(percentile(xs, 50)),
  p99: round2(percentile(xs, 99)),
  n: xs.length,
});

async function stateOf(cluster: LocalCluster, partyId: string): Promise<string> {
  const { json } = await cluster.request('GET', '/v1/parties');
  return (
    (json['parties'] as { partyId: string; state: string }[]).find((p) => p.partyId === partyId)
      ?.state ?? 'unknown'
  );
}

/** Polls every 10 ms (bounded) until the party is no longer alive; returns the elapsed ms. */
async function timeUntilNotAlive(
  cluster: LocalCluster,
  partyId: string,
  t0: number,
): Promise<number> {
  for (let i = 0; i < 3_000; i++) {
    if ((await stateOf(cluster, partyId)) !== 'alive') return performance.now() - t0;
    await sleep(10);
  }
  throw new Error(`${partyId} never left alive`);
}

async function realProcesses(log: (line: string) => void) {
  const cluster = new LocalCluster();
  let n = 0;
  try {
    await cluster.startWithParties(parties);
    const w = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ed25519',
      threshold: 2,
      parties,
    });
    const walletId = w.json['walletId'] as string;
    const sign = async (waitMs = 30_000) => {
      const t0 = performance.now();
      const res = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
        message: (n + 1).toString(16).padStart(2, '0'),
        intentKey: `bench-${n++}`,
        waitMs,
      });
      return { ms: performance.now() - t0, status: res.status };
    };
    for (let i = 0; i < 10; i++) await sign();
    const allUp: number[] = [];
    for (let i = 0; i < signRuns; i++) allUp.push((await sign()).ms);
    log(`  real: signing all up p50 ${round2(percentile(allUp, 50))} ms`);

    const detectKill: number[] = [];
    const detectPause: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      await cluster.kill('l1', 'SIGKILL');
      detectKill.push(await timeUntilNotAlive(cluster, 'l1', t0));
      cluster.startParty('l1');
      await cluster.waitForParties(['l1']);
      const t1 = performance.now();
      cluster.signal('l2', 'SIGSTOP');
      detectPause.push(await timeUntilNotAlive(cluster, 'l2', t1));
      cluster.signal('l2', 'SIGCONT');
      await cluster.waitForParties(['l2']);
    }
    log(
      `  real: detection kill -9 p50 ${round2(percentile(detectKill, 50))} ms, SIGSTOP p50 ${round2(percentile(detectPause, 50))} ms`,
    );

    await cluster.kill('l1', 'SIGKILL');
    await cluster.waitForParties(['l1'], 'down');
    const oneDown: number[] = [];
    for (let i = 0; i < signRuns; i++) oneDown.push((await sign()).ms);
    log(`  real: signing with one party down p50 ${round2(percentile(oneDown, 50))} ms`);

    const failFast: number[] = [];
    const recovery: number[] = [];
    for (let r = 0; r < rounds; r++) {
      cluster.signal('l2', 'SIGSTOP');
      await cluster.waitForParties(['l2'], 'not-alive', 15_000);
      for (let i = 0; i < 5; i++) {
        const res = await sign();
        if (res.status !== 503) throw new Error(`expected 503, got ${res.status}`);
        failFast.push(res.ms);
      }
      const healed = performance.now();
      cluster.signal('l2', 'SIGCONT');
      let ok = false;
      for (let i = 0; i < 2_000 && !ok; i++) {
        ok = (await sign(5_000)).status === 200;
        if (!ok) await sleep(10);
      }
      if (!ok) throw new Error('no recovery');
      recovery.push(performance.now() - healed);
    }
    log(
      `  real: time to explicit failure p50 ${round2(percentile(failFast, 50))} ms, recovery after heal p50 ${round2(percentile(recovery, 50))} ms`,
    );
    return {
      signingAllUpMs: summary(allUp),
      signingOneDownMs: summary(oneDown),
      detectionKill9Ms: summary(detectKill),
      detectionSigstopMs: summary(detectPause),
      failFastMs: summary(failFast),
      recoveryAfterHealMs: summary(recovery),
    };
  } finally {
    await cluster.stop();
  }
}

/** Runs the liveness benchmark. */
export async function runLivenessBench(
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  log(`liveness: simulator, ${simSeeds} seeds (virtual time)…`);
  const seeds = Array.from({ length: simSeeds }, (_, i) => i + 1);
  const sim = await runCampaign(seeds);
  const { failures: _f, unavailableSeeds: _u, ...simFigures } = sim;
  log(
    `  sim: detection p50 ${sim.detectionMsP50} ms p99 ${sim.detectionMsP99} ms; fail-fast p50 ${sim.failFastMsP50} ms; recovery p50 ${sim.recoveryMsP50} ms; violations ${sim.violations}`,
  );
  log(`liveness: real processes on loopback (${rounds} rounds per fault)…`);
  const real = await realProcesses(log);
  return {
    config: { simSeeds, rounds, signRuns, heartbeatMs: 1000 },
    simulator: simFigures,
    realProcesses: real,
  };
}
