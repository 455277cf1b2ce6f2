/**
 * The `ecdsa` rows of the signing benchmark (issue 14): coordinated key generation over
 * loopback (its p50, test signatures by every t-subset included), and signing of 2-of-3 and
 * 3-of-5 wallets coordinated end to end against the raw engine with every party in one process
 * (the fixture keys, the same engine build), side by side in one run. Goal: coordinated p50 at
 * most 1.5 times raw.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { dkls23Instance } from '../src/party/dkls23-instance.ts';
import { ecdsaEngine, ecdsaPartyEngine } from '../src/protocol/ecdsa.ts';
import { runSigningWith } from '../src/protocol/local-run.ts';
import { ecdsaFixture } from '../test/helpers/ecdsa.ts';
import { percentile, round2 } from './stats.ts';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const keygens = Number(process.env['QUORATE_BENCH_ECDSA_KEYGENS'] ?? 3);
const signRuns = Number(process.env['QUORATE_BENCH_ECDSA_SIGN_RUNS'] ?? 30);
/** The goal of issue 14. */
const goalRatioP50Max = 1.5;
/** The parties the ecdsa rows need besides the signing benchmark's three. */
export const ecdsaExtraParties = ['p4', 'p5'];

const summary = (samples: number[]) => ({
  p50: round2(percentile(samples, 50)),
  p99: round2(percentile(samples, 99)),
});

/** Raw: the engine's four phases for every signer in this one process, sequentially. */
async function rawSigning(t: number, n: number) {
  const fixture = ecdsaFixture(t, n);
  const engine = ecdsaPartyEngine(dkls23Instance(rng));
  const signers = fixture.parties.slice(0, t);
  const samples: number[] = [];
  for (let i = 0; i < signRuns + 3; i++) {
    const digest = sha256(utf8ToBytes(`raw ${t}-of-${n} ${i}`));
    const t0 = performance.now();
    await runSigningWith(ecdsaEngine(), engine, fixture.keys, signers, digest, rng, {
      runId: `raw|${i}`,
    });
    if (i >= 3) samples.push(performance.now() - t0);
  }
  return summary(samples);
}

/** Coordinated: key generations (timed), then sequential signatures on the last wallet. */
async function coordinated(cluster: LocalCluster, parties: string[], t: number) {
  const keygenMs: number[] = [];
  let walletId = '';
  for (let k = 0; k < keygens; k++) {
    const t0 = performance.now();
    const wallet = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ecdsa',
      threshold: t,
      parties,
    });
    if (wallet.status !== 201) throw new Error(`ecdsa wallet: ${JSON.stringify(wallet.json)}`);
    keygenMs.push(performance.now() - t0);
    walletId = wallet.json['walletId'] as string;
  }
  const samples: number[] = [];
  for (let i = 0; i < signRuns + 3; i++) {
    const digest = sha256(utf8ToBytes(`coordinated ${walletId} ${i}`));
    const t0 = performance.now();
    const res = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: bytesToHex(digest),
      intentKey: `ecdsa-${t}-${parties.length}-${i}`,
    });
    if (res.status !== 200) throw new Error(`ecdsa sign: ${JSON.stringify(res.json)}`);
    if (i >= 3) samples.push(performance.now() - t0);
  }
  return { keygen: summary(keygenMs), sign: summary(samples) };
}

/** The ecdsa rows: 2-of-3 and 3-of-5 over `parties` (five of the cluster's parties). */
export async function runEcdsaRows(
  cluster: LocalCluster,
  parties: string[],
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const rows: Record<string, unknown> = {};
  for (const [t, n] of [
    [2, 3],
    [3, 5],
  ] as const) {
    log(`signing ecdsa ${t}-of-${n}: raw engine in one process (${signRuns} runs)…`);
    const raw = await rawSigning(t, n);
    log(`signing ecdsa ${t}-of-${n}: ${keygens} key generations, ${signRuns} signatures…`);
    const e2e = await coordinated(cluster, parties.slice(0, n), t);
    const ratio = round2(e2e.sign.p50 / raw.p50);
    rows[`ecdsa ${t}-of-${n}`] = {
      keygenMsP50: e2e.keygen.p50,
      keygens,
      rawMsP50: raw.p50,
      rawMsP99: raw.p99,
      coordinatedMsP50: e2e.sign.p50,
      coordinatedMsP99: e2e.sign.p99,
      ratioP50: ratio,
      goalRatioP50Max,
      meetsGoal: ratio <= goalRatioP50Max,
    };
    log(
      `  ecdsa ${t}-of-${n}: key generation p50 ${e2e.keygen.p50} ms | raw p50 ${raw.p50} ms p99 ${raw.p99} ms | coordinated p50 ${e2e.sign.p50} ms p99 ${e2e.sign.p99} ms | ratio ${ratio}x (goal <= ${goalRatioP50Max})`,
    );
  }
  return rows;
}
