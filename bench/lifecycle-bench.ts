/**
 * Key-lifecycle benchmark (issue 15), real processes on loopback, one run: refresh and reshare
 * duration (POST → operation done, polled every 10 ms) for 2-of-3 and 3-of-5 bip340 wallets,
 * and sign latency (POST → 200 signed) while an operation runs beside the same measured outside
 * one, interleaved in the same run so machine noise hits both.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { LocalCluster } from '../src/cli/local-cluster.ts';
import { signDetached } from '../src/transport/identity.ts';
import { reshareAuthorization, reshareAuthorizationDomain } from '../src/transport/wire.ts';
import { percentile, round2 } from './stats.ts';

const runs = Number(process.env['QUORATE_BENCH_LIFECYCLE_RUNS'] ?? 20);
const parties = ['p1', 'p2', 'p3', 'p4', 'p5'];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function wallet(cluster: LocalCluster, threshold: number, members: string[]) {
  const r = await cluster.request('POST', '/v1/wallets', {
    scheme: 'bip340',
    threshold,
    parties: members,
  });
  if (r.status !== 201) throw new Error(`wallet: ${JSON.stringify(r.json)}`);
  return r.json['walletId'] as string;
}

/** Polls the operation until it ended (at most 30 s); throws unless it is done. */
async function untilDone(cluster: LocalCluster, operationId: string): Promise<void> {
  for (let i = 0; i < 3_000; i++) {
    const { json } = await cluster.request('GET', `/v1/operations/${operationId}`);
    if (json['status'] === 'done' && json['phase'] === 'ended') return;
    if (json['status'] === 'failed') throw new Error(`operation failed: ${JSON.stringify(json)}`);
    await sleep(10);
  }
  throw new Error(`operation ${operationId} did not end`);
}

/** One refresh (or a reshare to the same t and parties, signed): ms until done and retired. */
async function operationMs(cluster: LocalCluster, walletId: string, kind: 'refresh' | 'reshare') {
  const w = (await cluster.request('GET', `/v1/wallets/${walletId}`)).json;
  const threshold = w['threshold'] as number;
  const members = w['parties'] as string[];
  const statement = reshareAuthorization({
    walletId,
    fromEpoch: w['epoch'] as number,
    threshold,
    parties: members,
  });
  const authorization = bytesToHex(
    signDetached(reshareAuthorizationDomain, statement, cluster.operator.signSecret),
  );
  const t0 = performance.now();
  const body = kind === 'refresh' ? {} : { threshold, parties: members, authorization };
  const r = await cluster.request('POST', `/v1/wallets/${walletId}/${kind}`, body);
  if (r.status !== 202) throw new Error(`${kind}: ${JSON.stringify(r.json)}`);
  await untilDone(cluster, r.json['operationId'] as string);
  return performance.now() - t0;
}

async function signMs(cluster: LocalCluster, walletId: string, intentKey: string) {
  const t0 = performance.now();
  const r = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
    message: bytesToHex(new TextEncoder().encode(intentKey)),
    intentKey,
  });
  if (r.status !== 200) throw new Error(`sign: ${r.status} ${JSON.stringify(r.json)}`);
  return performance.now() - t0;
}

const p50 = (xs: number[]) => round2(percentile(xs, 50));

/** Runs the benchmark; returns its figures. */
export async function runLifecycleBench(
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const cluster = new LocalCluster({ logLevel: 'error' });
  try {
    await cluster.startWithParties(parties);
    const w23 = await wallet(cluster, 2, parties.slice(0, 3));
    const w35 = await wallet(cluster, 3, parties);
    const durations: Record<string, number[]> = {};
    for (let i = 0; i < runs; i++) {
      for (const [name, id] of [
        ['2-of-3', w23],
        ['3-of-5', w35],
      ] as const) {
        for (const kind of ['refresh', 'reshare'] as const) {
          const ms = await operationMs(cluster, id, kind);
          (durations[`${kind} ${name}`] ??= []).push(ms);
        }
      }
    }
    log(`operations: ${runs} of each`);
    const during: number[] = [];
    const outside: number[] = [];
    for (let i = 0; i < runs; i++) {
      outside.push(await signMs(cluster, w23, `outside-${i}`));
      const op = operationMs(cluster, w23, 'refresh');
      during.push(await signMs(cluster, w23, `during-${i}`));
      await op;
    }
    const figures = {
      runs,
      durationMsP50: Object.fromEntries(Object.entries(durations).map(([k, v]) => [k, p50(v)])),
      signMsP50: { outsideOperation: p50(outside), duringOperation: p50(during) },
      signMsP99: {
        outsideOperation: round2(percentile(outside, 99)),
        duringOperation: round2(percentile(during, 99)),
      },
      signDuringOverOutsideP50: round2(p50(during) / p50(outside)),
      note: 'duration: POST until the operation is done and every party acknowledged (retired); a sign request during an operation may wait at the flip',
    };
    return figures;
  } finally {
    await cluster.stop();
  }
}
