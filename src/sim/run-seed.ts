/**
 * One simulated run: a seed fixes the topology, scheme, wallet, workload, nemesis, latencies
 * and every random byte the runtimes draw, so the same seed gives the same history.
 */
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { checkRun, defaultCheckOptions } from '../checker/check.ts';
import type { HistoryEvent } from '../checker/history.ts';
import type { CheckInput, CheckReport, StateObservation } from '../checker/types.ts';
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import { schemes, type Scheme } from '../protocol/engine.ts';
import { SimCluster } from './cluster.ts';
import { HistoryRecorder } from './history-recorder.ts';
import {
  partyNemesisKinds,
  planNemesis,
  planSecondFault,
  replicasFor,
  type NemesisKind,
} from './nemesis.ts';
import { SimNetwork, type NetworkStats } from './network.ts';
import { Scheduler } from './scheduler.ts';
import { seededStream } from './seeded-bytes.ts';
import { walletKeys } from './wallet-fixture.ts';
import { planRequests, Workload, type RequestPlan } from './workload.ts';

/** What to run. Unset fields are drawn from the seed. */
export interface SeedOptions {
  seed: number;
  kind?: NemesisKind;
  scheme?: Scheme;
  /** Create the wallet by DKG through the real runtimes instead of the cached fixture. */
  dkg?: boolean;
  /** Number of concurrent requests besides the post-heal one. */
  requests?: number;
  /** Add an overlapping second fault of another kind (nemesis.ts planSecondFault). */
  combined?: boolean;
}

/** The outcome of one run. */
export interface SeedResult {
  seed: number;
  kind: NemesisKind;
  /** The second fault's kind, in a combined run. */
  secondKind?: NemesisKind;
  scheme: Scheme;
  threshold: number;
  parties: string[];
  history: HistoryEvent[];
  input: CheckInput;
  report: CheckReport;
  virtualMs: number;
  network: NetworkStats;
  /** Owner (replica id) of every session at the end of the run, by session id. */
  sessionOwners: Record<string, string>;
}

const connectMs = 500;
const monitorEveryMs = 100;
const observeEveryMs = 250;

/** Runs one seed to completion and checks it. */
export async function runSeed(options: SeedOptions): Promise<SeedResult> {
  const { seed } = options;
  assert(Number.isSafeInteger(seed) && seed >= 0 && seed < 2 ** 32, 'seed is a uint32');
  const plan = seededStream(seed, 'plan');
  const kind = options.kind ?? plan.pick(partyNemesisKinds);
  const n = kind === 'bridge' || plan.chance(0.2) ? 5 : 3;
  const threshold = n === 5 ? 3 : 2;
  const scheme = options.scheme ?? plan.pick(schemes);
  const partyIds = Array.from({ length: n }, (_, i) => `p${i + 1}`);
  const scheduler = new Scheduler();
  const network = new SimNetwork(scheduler, seededStream(seed, 'network'), 1, plan.int(1, 20));
  const cluster = new SimCluster(scheduler, network, seed, partyIds, replicasFor(kind));
  const history = new HistoryRecorder(scheduler);
  const fixture = options.dkg === true ? undefined : walletKeys(scheme, threshold, partyIds);
  if (fixture) await installWallet(cluster, fixture);
  for (let i = 0; i < cluster.coordinatorNodes.length; i++) cluster.startCoordinator(i);
  for (const p of partyIds) cluster.startParty(p);
  await scheduler.runUntil(connectMs);
  const wallet =
    fixture ?? (await createWalletByDkg(cluster, scheduler, scheme, threshold, partyIds));
  const first = planNemesis(kind, plan, partyIds);
  // The second fault draws from its own stream: the rest of the run is what the seed gives alone.
  const nemesis =
    options.combined === true
      ? planSecondFault(first, seededStream(seed, 'second-fault'), partyIds)
      : first;
  const start = Math.ceil(scheduler.nowMs);
  for (const step of nemesis.steps) {
    scheduler.schedule(step.atMs + start - scheduler.nowMs, () => {
      if (step.event) history.add({ process: 'nemesis', type: 'info', ...step.event });
      step.run(cluster);
    });
  }
  const workload = new Workload(scheduler, cluster, history, wallet.walletId);
  const requests = planRequests(
    plan,
    options.requests ?? plan.int(3, 5),
    start + 100,
    start + nemesis.healMs,
  );
  const recovery: RequestPlan = {
    requestId: `r${requests.length}`,
    atMs: start + nemesis.healMs + plan.int(0, 200),
    intentKey: 'intent-after-heal',
    messageHex: '00'.repeat(32),
    deadlineMs: 6_000,
  };
  // One request timed to be mid-protocol when the fault begins (signing takes ~5–30 ms).
  const inFlight: RequestPlan = {
    requestId: `r${requests.length + 1}`,
    atMs: start + nemesis.startMs - plan.int(1, 12),
    intentKey: 'intent-at-fault',
    messageHex: '11'.repeat(32),
    deadlineMs: 6_000,
  };
  requests.push(inFlight);
  for (const r of [...requests, recovery]) workload.submit(r);
  const observations: StateObservation[] = [];
  startMonitor(scheduler, cluster, history);
  startObserver(scheduler, cluster, observations);
  const hardEndMs =
    Math.max(...[...requests, recovery].map((r) => r.atMs + r.deadlineMs)) +
    limits.abortCleanupMsMax +
    limits.simRequestRetriesMax * 500 +
    1_000;
  const healedAtMs = start + nemesis.healMs + 1_000;
  await scheduler.runUntil(
    hardEndMs,
    () => workload.active === 0 && scheduler.nowMs >= healedAtMs && partiesIdle(cluster),
  );
  observe(scheduler, cluster, observations, true);
  const input = await collect(cluster, history, observations, wallet, scheduler);
  const report = checkRun(input, defaultCheckOptions);
  for (const crash of scheduler.crashes)
    report.violations.push({ invariant: 'CRASH', message: 'a callback threw', detail: { crash } });
  return {
    seed,
    kind,
    ...(nemesis.secondKind === undefined ? {} : { secondKind: nemesis.secondKind }),
    scheme,
    threshold,
    parties: partyIds,
    history: history.events,
    input,
    report,
    virtualMs: scheduler.nowMs,
    network: network.stats,
    sessionOwners: Object.fromEntries(
      (await cluster.store.listSessions(limits.sessionsActiveMax)).map((s) => [
        s.value.sessionId,
        s.value.owner?.ownerId ?? '',
      ]),
    ),
  };
}

interface WalletInfo {
  walletId: string;
  publicKey: string;
  scheme: Scheme;
  threshold: number;
  parties: string[];
}

async function installWallet(
  cluster: SimCluster,
  keys: ReturnType<typeof walletKeys>,
): Promise<void> {
  await cluster.store.createWallet({
    walletId: keys.walletId,
    scheme: keys.scheme,
    threshold: keys.threshold,
    parties: keys.parties,
    publicKey: keys.publicKey,
    publicPackage: keys.publicPackage,
    createdMs: 0,
  });
  for (const [partyId, share] of keys.shares) {
    const party = cluster.mustParty(partyId);
    const label = `share:${keys.walletId}`;
    party.journal.putSealedShare(
      keys.walletId,
      party.sealer.seal(label, utf8ToBytes(JSON.stringify(share))),
    );
  }
}

async function createWalletByDkg(
  cluster: SimCluster,
  scheduler: Scheduler,
  scheme: Scheme,
  threshold: number,
  parties: string[],
): Promise<WalletInfo> {
  const coordinator = cluster.coordinator;
  assert(coordinator !== undefined, 'coordinator running');
  let created: WalletInfo | undefined;
  let failure: unknown;
  void coordinator.createWallet({ scheme, threshold, parties }).then(
    (w) => {
      created = w;
    },
    (error: unknown) => {
      failure = error;
    },
  );
  await scheduler.runUntil(
    scheduler.nowMs + limits.keygenDeadlineMs,
    () => created !== undefined || failure !== undefined,
  );
  if (!created) throw new Error(`DKG failed in simulation: ${String(failure)}`);
  return created;
}

function partiesIdle(cluster: SimCluster): boolean {
  for (const party of cluster.parties.values()) {
    if (!party.node.up) continue;
    if ((party.runtime?.activeSessions ?? 0) > 0 || party.journal.countIssued() > 0) return false;
  }
  return true;
}

/** Polls party liveness as `GET /v1/parties` would, recording changes. */
function startMonitor(scheduler: Scheduler, cluster: SimCluster, history: HistoryRecorder): void {
  const last = new Map<string, string>();
  const tick = () => {
    const coordinator = cluster.coordinator;
    if (coordinator) {
      for (const p of coordinator.parties()) {
        if (last.get(p.partyId) === p.state) continue;
        last.set(p.partyId, p.state);
        history.add({
          process: 'monitor',
          type: 'info',
          f: 'party-state',
          value: { partyId: p.partyId, state: p.state },
        });
      }
    } else last.clear();
    scheduler.schedule(monitorEveryMs, tick);
  };
  tick();
}

function startObserver(
  scheduler: Scheduler,
  cluster: SimCluster,
  observations: StateObservation[],
): void {
  const tick = () => {
    observe(scheduler, cluster, observations, false);
    scheduler.schedule(observeEveryMs, tick);
  };
  scheduler.schedule(observeEveryMs, tick);
}

/** Records what each live party holds (only non-empty snapshots, unless `always`). */
function observe(
  scheduler: Scheduler,
  cluster: SimCluster,
  observations: StateObservation[],
  always: boolean,
): void {
  for (const party of cluster.parties.values()) {
    if (!party.node.up) continue;
    const issued = party.journal
      .nonces()
      .filter((e) => e.state === 'issued')
      .map((e) => ({ sessionId: e.sessionId, attempt: e.attempt, token: e.token }));
    const activeSessions = party.runtime?.activeSessions ?? 0;
    if (!always && issued.length === 0 && activeSessions === 0) continue;
    assert(observations.length < limits.simHistoryEventsMax, 'observations within bound');
    observations.push({ timeMs: scheduler.nowMs, partyId: party.partyId, activeSessions, issued });
  }
}

async function collect(
  cluster: SimCluster,
  history: HistoryRecorder,
  observations: StateObservation[],
  wallet: WalletInfo,
  scheduler: Scheduler,
): Promise<CheckInput> {
  const sessions = (await cluster.store.listSessions(limits.sessionsActiveMax)).map((s) => ({
    sessionId: s.value.sessionId,
    walletId: s.value.walletId,
    intentKey: s.value.intentKey,
    messageHash: s.value.messageHash,
    status: s.value.status,
    ...(s.value.signature === undefined ? {} : { signature: s.value.signature }),
  }));
  return {
    history: history.events,
    wallets: [
      {
        walletId: wallet.walletId,
        scheme: wallet.scheme,
        threshold: wallet.threshold,
        parties: wallet.parties,
        publicKey: wallet.publicKey,
      },
    ],
    journals: [...cluster.parties.values()].map((p) => ({
      partyId: p.partyId,
      nonces: p.journal.nonces(),
      ops: p.journal.ops(),
    })),
    observations,
    sessions,
    endMs: scheduler.nowMs,
  };
}
