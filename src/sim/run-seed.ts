/**
 * One simulated run: a seed fixes the topology, scheme, wallets, workload, nemesis, latencies
 * and every random byte the runtimes draw, so the same seed gives the same history. A run
 * deploys (deploy.ts), schedules its nemesis, submits its requests (and, in a governed run,
 * its governed requests and their approvers; in an ecdsa run, transactions competing for
 * account nonces), runs until every request is answered and the
 * faults are healed, then checks what it recorded.
 */
import { checkRun, defaultCheckOptions } from '../checker/check.ts';
import type { HistoryEvent } from '../checker/history.ts';
import type { CheckInput, CheckReport, StateObservation } from '../checker/types.ts';
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { Scheme } from '../protocol/engine.ts';
import { Approvers } from './approvers.ts';
import { checkInput } from './check-input.ts';
import { deploy, type Deployment, type DeployOptions } from './deploy.ts';
import { planEvmRequests } from './evm-workload.ts';
import { planGovernedRequests } from './governed-workload.ts';
import { planNemesis, planSecondFault, type NemesisKind, type NemesisPlan } from './nemesis.ts';
import type { NetworkStats } from './network.ts';
import { seededRandom } from '../core/seeded-random.ts';
import { observe, partiesIdle, startMonitor, startObserver } from './watchers.ts';
import { planRequests, Workload, type RequestPlan } from './workload.ts';
import { LifecycleDriver, planLifecycle } from './lifecycle-workload.ts';

/** What to run. Unset fields are drawn from the seed. */
export interface SeedOptions extends DeployOptions {
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
  /** True if the run had a governed wallet (with approvals) beside the plain one. */
  governed: boolean;
  history: HistoryEvent[];
  input: CheckInput;
  report: CheckReport;
  virtualMs: number;
  network: NetworkStats;
  /** Owner (replica id) of every session at the end of the run, by session id. */
  sessionOwners: Record<string, string>;
  /** A lifecycle run: its operations by how they ended (`running` if one never did). */
  lifecycle?: { done: number; failed: number; running: number };
}

/** Runs one seed to completion and checks it. */
export async function runSeed(options: SeedOptions): Promise<SeedResult> {
  const { seed } = options;
  assert(Number.isSafeInteger(seed) && seed >= 0 && seed < 2 ** 32, 'seed is a uint32');
  const run = await deploy(options);
  const nemesis = startNemesis(run, options.combined === true);
  const { workload, approvers, endMs } = startWorkload(run, nemesis, options.requests);
  const lifecycle = startLifecycle(run, nemesis);
  const observations: StateObservation[] = [];
  startMonitor(run.scheduler, run.cluster, run.history);
  startObserver(run.scheduler, run.cluster, observations);
  const healedAtMs = nemesis.startAtMs + nemesis.plan.healMs + 1_000;
  const { scheduler, cluster } = run;
  await scheduler.runUntil(
    Math.max(endMs, lifecycle?.endMs ?? 0),
    () =>
      workload.active === 0 &&
      (approvers?.active ?? 0) === 0 &&
      (lifecycle?.driver.idle ?? true) &&
      scheduler.nowMs >= healedAtMs &&
      partiesIdle(cluster),
  );
  observe(scheduler, cluster, observations, true);
  const facts = lifecycle && (await lifecycle.driver.facts());
  return finish(run, nemesis.plan, await checkInput(run, observations, facts));
}

/**
 * A lifecycle run's operations, planned from their own stream and timed around the fault, and
 * the sampling of the wallet's epochs; the run lasts until each operation ended and was told.
 */
function startLifecycle(
  run: Deployment,
  nemesis: StartedNemesis,
): { driver: LifecycleDriver; endMs: number } | undefined {
  if (run.spare === undefined) return undefined;
  const rng = seededRandom(run.seed, 'lifecycle');
  const { startAtMs, plan } = nemesis;
  const plans = planLifecycle(rng, startAtMs + plan.startMs, plan.healMs);
  const driver = new LifecycleDriver(
    run.scheduler,
    run.cluster,
    run.history,
    run.wallet.walletId,
    run.spare,
    rng,
    run.wallet.publicKey,
  );
  driver.startObserver();
  for (const p of plans) driver.submit(p);
  const lastMs =
    Math.max(...plans.map((p) => p.atMs)) +
    limits.simLifecycleRetryMs * limits.simLifecycleTriesMax;
  const endMs =
    lastMs +
    limits.simLifecycleDeadlineMs +
    limits.lifecycleTakeoverGraceMs +
    limits.lifecycleSweepMs * 2 +
    limits.abortCleanupMsMax +
    5_000;
  return { driver, endMs };
}

/** The nemesis of the run, scheduled from now on. */
interface StartedNemesis {
  plan: NemesisPlan;
  /** Harness time the plan's offsets count from. */
  startAtMs: number;
}

/** Plans the seed's fault (and a second one, if `combined`) and schedules its steps. */
function startNemesis(run: Deployment, combined: boolean): StartedNemesis {
  const { scheduler, history, cluster } = run;
  const first = planNemesis(run.kind, run.plan, run.partyIds);
  // The second fault draws from its own stream: the rest of the run is what the seed gives alone.
  const plan = combined
    ? planSecondFault(first, seededRandom(run.seed, 'second-fault'), run.partyIds)
    : first;
  const startAtMs = Math.ceil(scheduler.nowMs);
  for (const step of plan.steps) {
    scheduler.schedule(step.atMs + startAtMs - scheduler.nowMs, () => {
      if (step.event) history.add({ process: 'nemesis', type: 'info', ...step.event });
      step.run(cluster);
    });
  }
  return { plan, startAtMs };
}

/**
 * Plans and submits the requests: concurrent ones over the fault window, one timed to be
 * mid-protocol when the fault begins, one after the heal, and in a governed run the governed
 * requests over the fault window (their approvals race the fault). Returns the hard end of the
 * run: every request's deadline, approvals and retries included, plus cleanup.
 */
function startWorkload(
  run: Deployment,
  nemesis: StartedNemesis,
  count: number | undefined,
): { workload: Workload; approvers?: Approvers; endMs: number } {
  const { plan: rng, scheduler, cluster, history, governed } = run;
  const start = nemesis.startAtMs;
  const { startMs, healMs } = nemesis.plan;
  const approvers =
    governed && new Approvers(scheduler, cluster, history, governed.governance, governed.rng);
  const workload = new Workload(scheduler, cluster, history, run.wallet.walletId, approvers);
  const requests = planRequests(rng, count ?? rng.int(3, 5), start + 100, start + healMs);
  const recovery: RequestPlan = {
    requestId: `r${requests.length}`,
    atMs: start + healMs + rng.int(0, 200),
    intentKey: 'intent-after-heal',
    messageHex: '00'.repeat(32),
    deadlineMs: 6_000,
  };
  // One request timed to be mid-protocol when the fault begins (signing takes ~5–30 ms).
  const inFlight: RequestPlan = {
    requestId: `r${requests.length + 1}`,
    atMs: start + startMs - rng.int(1, 12),
    intentKey: 'intent-at-fault',
    messageHex: '11'.repeat(32),
    deadlineMs: 6_000,
  };
  requests.push(inFlight);
  const governedRequests = governed
    ? planGovernedRequests(
        governed.rng,
        governed.wallet.walletId,
        governed.governance.approvers,
        start + 100,
        start + healMs,
      )
    : [];
  // An ecdsa run also sends transactions competing for account nonces, from its own stream.
  const evmRequests =
    run.scheme === 'ecdsa'
      ? planEvmRequests(
          seededRandom(run.seed, 'evm'),
          run.wallet.walletId,
          start + 100,
          start + healMs,
        )
      : [];
  const all = [...requests, recovery, ...governedRequests, ...evmRequests];
  for (const r of all) workload.submit(r);
  // A governed request may wait a whole approval window, and its late approvals come after it.
  const lastMs = (r: RequestPlan) =>
    r.atMs + r.deadlineMs + (r.governed ? limits.simApprovalWindowMs + 2_000 : 0);
  const endMs =
    Math.max(...all.map(lastMs)) +
    limits.abortCleanupMsMax +
    limits.simRequestRetriesMax * 500 +
    1_000;
  return { workload, ...(approvers ? { approvers } : {}), endMs };
}

/** Checks the run and gathers its result; a callback that threw is a CRASH violation. */
async function finish(
  run: Deployment,
  nemesis: NemesisPlan,
  input: CheckInput,
): Promise<SeedResult> {
  const { scheduler, cluster } = run;
  const report = checkRun(input, defaultCheckOptions);
  for (const crash of scheduler.crashes)
    report.violations.push({ invariant: 'CRASH', message: 'a callback threw', detail: { crash } });
  const sessions = await cluster.store.listSessions(limits.sessionsActiveMax);
  return {
    seed: run.seed,
    kind: run.kind,
    ...(nemesis.secondKind === undefined ? {} : { secondKind: nemesis.secondKind }),
    scheme: run.scheme,
    threshold: run.threshold,
    parties: run.partyIds,
    governed: run.governed !== undefined,
    history: run.history.events,
    input,
    report,
    virtualMs: scheduler.nowMs,
    network: run.network.stats,
    sessionOwners: Object.fromEntries(
      sessions.map((s) => [s.value.sessionId, s.value.owner?.ownerId ?? '']),
    ),
    ...(input.lifecycle === undefined ? {} : { lifecycle: lifecycleOutcomes(input) }),
  };
}

/** How a lifecycle run's operations ended. */
function lifecycleOutcomes(input: CheckInput): { done: number; failed: number; running: number } {
  const ops = (input.lifecycle ?? []).flatMap((f) => f.operations);
  const count = (status: string) => ops.filter((op) => op.status === status).length;
  return { done: count('done'), failed: count('failed'), running: count('running') };
}
