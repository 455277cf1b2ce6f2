/**
 * One chaos run on real processes: namespaces and bridge, coordinator and parties, the
 * workload client, the seeded fault schedule, then heal, read journals and store, check,
 * and write `history.jsonl`, `summary.json`, `check.json` and `report.html`. Namespaces and
 * processes are always removed: finally-blocks, SIGINT/SIGTERM handlers, an exit hook, and a
 * sweep of what a crashed earlier run left. Time, timers and randomness come from the Env the
 * caller passes; the harness clock is wall-clock ms since the workload started, the clock the
 * workload client (another process on this machine) stamps its events with too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bytesToHex } from '@noble/hashes/utils.js';
import { checkRun, defaultCheckOptions } from '../checker/check.ts';
import type { HistoryEvent, NemesisValue, NewHistoryEvent } from '../checker/history.ts';
import type { CheckInput, CheckReport, StoredSession, WalletFacts } from '../checker/types.ts';
import { measureWindows, type WindowReport } from '../checker/windows.ts';
import { repeatEvery, sleep, type Env } from '../core/env.ts';
import { readJournalFile } from '../party/journal-sqlite.ts';
import type { Scheme } from '../protocol/engine.ts';
import { SqliteStore } from '../store/sqlite.ts';
import { chaosLimits } from '../core/limits.ts';
import type { DriverConfig } from './client-driver.ts';
import { Firewall } from './firewall.ts';
import { NetnsTopology, preflight, sweepStale } from './netns.ts';
import { Nemesis } from './nemesis.ts';
import { JournalObserver } from './observer.ts';
import { ChaosProcesses } from './processes.ts';
import { buildReportHtml } from './report.ts';
import { planSchedule, type ScenarioName, type Schedule } from './schedule.ts';
import { buildSummary, type SummarySamples } from './summary.ts';
import { planWorkload } from './workload-plan.ts';

const modulePath = fileURLToPath(import.meta.url);
const repoRoot = resolve(modulePath, '../../..');
/**
 * The workload client runs as compiled JavaScript with plain node: beside this module when it
 * is itself compiled (dist/chaos/), and from dist/ when this module runs from src/ under tsx
 * (tests), so the child never needs a TypeScript loader.
 */
const driverPath = modulePath.endsWith('.ts')
  ? join(repoRoot, 'dist/chaos/client-driver.js')
  : join(dirname(modulePath), 'client-driver.js');

/** The harness cannot run here (not root, tools missing). */
export class ChaosPreconditionError extends Error {}

/** What to run. */
export interface ChaosRunOptions {
  /** Clock, timers and randomness of the harness (the CLI passes `realEnv()`). */
  env: Env;
  scenario: ScenarioName;
  seed: number;
  durationS: number;
  outDir: string;
  ratePerS: number;
  scheme: Scheme;
  heartbeatMs: number;
  downAfterMs: number;
  /** Progress lines (current fault, requests so far, outcome counts). */
  progress: (line: string) => void;
  /**
   * The scenario's topology and workload with no fault window at all: a no-fault baseline for
   * the same cluster shape (`npm run bench -- tail`).
   */
  withoutFaults?: boolean;
}

/** A finished run. */
export interface ChaosRunResult extends SummarySamples {
  report: CheckReport;
  windows: WindowReport;
  schedule: Schedule;
  namespaces: string[];
  /** The store's sessions, read after heal with every process stopped. */
  sessions: StoredSession[];
  /** The wallet the run created by key generation and signed with. */
  wallet: WalletFacts;
}

/** A fresh secret shared only by the harness and the processes it starts. */
const secretHex = (env: Env) => bytesToHex(env.randomBytes(16));

/** Refuses to start where the harness cannot run; removes what a crashed earlier run left. */
async function checkPreconditions(options: ChaosRunOptions): Promise<void> {
  const why = await preflight();
  if (why !== undefined) throw new ChaosPreconditionError(why);
  if (!existsSync(driverPath))
    throw new ChaosPreconditionError(
      `the compiled workload client ${driverPath} is missing: run npm run build`,
    );
  const swept = await sweepStale();
  if (swept.length > 0)
    options.progress(`removed ${swept.length} namespaces left by a crashed run`);
}

/** Kills what the run started if the harness is interrupted or exits; `remove` undoes it. */
function installCleanup(
  options: ChaosRunOptions,
  processes: ChaosProcesses,
  topology: NetnsTopology,
): { driver: ChildProcess | undefined; interrupted: boolean; remove(): void } {
  const state = {
    driver: undefined as ChildProcess | undefined,
    interrupted: false,
    remove: () => {
      process.removeListener('exit', exitHook);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  };
  const exitHook = () => {
    state.driver?.kill('SIGKILL');
    processes.killAllSync();
    topology.destroySync();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    state.interrupted = true;
    options.progress(`${signal}: cleaning up`);
    exitHook();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', exitHook);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return state;
}

/** Runs one scenario end to end. */
export async function runScenario(options: ChaosRunOptions): Promise<ChaosRunResult> {
  const { env } = options;
  await checkPreconditions(options);
  const durationMs = options.durationS * 1_000;
  const planned = planSchedule(options.scenario, options.seed, durationMs);
  const schedule = options.withoutFaults === true ? { ...planned, windows: [] } : planned;
  const requests = planWorkload(options.seed, options.ratePerS, durationMs);
  mkdirSync(options.outDir, { recursive: true });
  const dataDir = join(options.outDir, 'data');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(options.outDir, 'schedule.json'), `${JSON.stringify(schedule, null, 2)}\n`);
  const topology = new NetnsTopology(['client', 'coordinator', ...schedule.parties]);
  // The API token lives only in the harness and the processes it starts (and a 0600 file).
  const apiToken = secretHex(env);
  const processes = new ChaosProcesses(env, topology, {
    dataDir,
    apiToken,
    partySecret: secretHex(env),
    passphrase: secretHex(env),
    heartbeatMs: options.heartbeatMs,
    downAfterMs: options.downAfterMs,
    logLevel: 'warn',
  });
  const cleanup = installCleanup(options, processes, topology);
  try {
    await topology.create();
    options.progress(
      `namespaces up: ${topology.namespaces.length} on a private bridge; starting coordinator and ${schedule.parties.length} parties`,
    );
    await processes.startCoordinator();
    for (const p of schedule.parties) processes.startParty(p);
    const driverConfig: DriverConfig = {
      coordinatorUrl: processes.coordinatorUrl,
      apiToken,
      scheme: options.scheme,
      threshold: schedule.threshold,
      parties: schedule.parties,
      requests,
    };
    const started = spawnDriver(env, topology, join(dataDir, 'driver.json'), driverConfig);
    cleanup.driver = started.child;
    const run = await drive(options, schedule, processes, topology, started);
    return await finish(options, schedule, processes, run, topology.namespaces);
  } finally {
    cleanup.driver?.kill('SIGKILL');
    await processes.stopAll();
    await topology.destroy();
    cleanup.remove();
    if (cleanup.interrupted) options.progress('interrupted');
  }
}

interface DriverHandle {
  env: Env;
  child: ChildProcess;
  lines: AsyncIterableIterator<string>;
  stderrTail: string[];
}

/** Writes the client's config (0600) and starts it in the client namespace. */
function spawnDriver(
  env: Env,
  topology: NetnsTopology,
  configPath: string,
  config: DriverConfig,
): DriverHandle {
  writeFileSync(configPath, JSON.stringify(config), { mode: 0o600 });
  const child = spawn(
    'ip',
    ['netns', 'exec', topology.host('client').netns, process.execPath, driverPath, configPath],
    { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const stderrTail: string[] = [];
  child.stderr?.on('data', (d: Buffer) => {
    stderrTail.push(String(d));
    if (stderrTail.length > 40) stderrTail.shift();
  });
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  return { env, child, lines: reader[Symbol.asyncIterator](), stderrTail };
}

interface DrivenRun {
  events: NewHistoryEvent[];
  wallet: WalletFacts;
  observer: JournalObserver;
  endMs: number;
}

/** The next JSON line of the client (undefined once it has exited), within `timeoutMs`. */
async function nextLine(
  handle: DriverHandle,
  timeoutMs: number,
): Promise<Record<string, unknown> | undefined> {
  let cancel = () => {};
  const timeout = new Promise<'timeout'>(
    (r) => (cancel = handle.env.setTimer(timeoutMs, () => r('timeout'))),
  );
  const next = await Promise.race([handle.lines.next(), timeout]);
  cancel();
  if (next === 'timeout') throw new Error('the workload client did not answer in time');
  if (next.done === true) return undefined;
  return JSON.parse(next.value) as Record<string, unknown>;
}

/** Start-up: the client waits for every party, then creates the wallet by DKG. */
async function awaitWallet(handle: DriverHandle, processes: ChaosProcesses): Promise<WalletFacts> {
  for (;;) {
    const line = await nextLine(handle, chaosLimits.startupWaitMs * 2);
    if (line === undefined || line['t'] === 'error') {
      // The parties the failure names (a key generation's `parties`), with their last words.
      const message = JSON.stringify(line?.['message'] ?? 'exited');
      const named = processes.nodes.filter(
        (n) => n !== 'coordinator' && message.includes(`\\"${n}\\"`),
      );
      const tails = named.map((n) => ` ${n}: ${processes.stderrOf(n)}`).join('');
      throw new Error(
        `workload client failed: ${message} ${handle.stderrTail.join('')} coordinator: ${processes.stderrOf('coordinator')}${tails}`,
      );
    }
    if (line['t'] !== 'wallet') continue;
    const w = line['wallet'] as Record<string, unknown>;
    return {
      walletId: String(w['walletId']),
      scheme: w['scheme'] as Scheme,
      threshold: Number(w['threshold']),
      parties: w['parties'] as string[],
      publicKey: String(w['publicKey']),
    };
  }
}

/** What the client has reported so far. */
interface ClientState {
  events: NewHistoryEvent[];
  counts: { invoked: number; ok: number; fail: number; info: number };
  requestsDone: boolean;
  clientError?: string;
}

/** Collects the client's events until it exits (bounded by `historyEventsMax`). */
async function readClientEvents(handle: DriverHandle, state: ClientState): Promise<void> {
  for (;;) {
    const line = await nextLine(handle, 3_600_000).catch(() => undefined);
    if (line === undefined) return;
    if (line['t'] === 'event') {
      const e = line['event'] as NewHistoryEvent;
      if (state.events.length < chaosLimits.historyEventsMax) state.events.push(e);
      if (e.f === 'sign') {
        if (e.type === 'invoke') state.counts.invoked += 1;
        else state.counts[e.type] += 1;
      }
    } else if (line['t'] === 'requests-done') state.requestsDone = true;
    else if (line['t'] === 'error') state.clientError = String(line['message']);
  }
}

/** The progress line: harness time, current fault, requests and their outcomes so far. */
function progressLine(nowMs: number, nemesis: Nemesis, counts: ClientState['counts']): string {
  const w = nemesis.currentWindow;
  const pending = counts.invoked - counts.ok - counts.fail - counts.info;
  return `[${(nowMs / 1000).toFixed(1)}s] fault: ${w ? `${w.id} ${w.description}` : 'none'} | requests ${counts.invoked} tries: ok ${counts.ok}, fail ${counts.fail}, info ${counts.info}, pending ${pending}`;
}

/** Runs the fault schedule against the cluster while the client's workload runs. */
async function drive(
  options: ChaosRunOptions,
  schedule: Schedule,
  processes: ChaosProcesses,
  topology: NetnsTopology,
  handle: DriverHandle,
): Promise<DrivenRun> {
  const { env } = options;
  const wallet = await awaitWallet(handle, processes);
  const epochMs = env.nowMs();
  const nowMs = () => env.nowMs() - epochMs;
  const client: ClientState = {
    events: [],
    counts: { invoked: 0, ok: 0, fail: 0, info: 0 },
    requestsDone: false,
  };
  const observer = new JournalObserver(processes, schedule.parties);
  const onNemesis = (f: 'start' | 'stop', value: NemesisValue) => {
    client.events.push({ process: 'nemesis', type: 'info', f, value, timeMs: nowMs() });
    options.progress(
      `[${(nowMs() / 1000).toFixed(1)}s] nemesis ${f} ${value.id} ${value.kind}: ${value.description}`,
    );
  };
  const nemesis = new Nemesis(env, processes, new Firewall(topology), schedule.parties, onNemesis, {
    beforeKill: (node) => observer.markKilled(node),
  });
  handle.child.stdin?.write(`start ${epochMs}\n`);
  const reading = readClientEvents(handle, client);
  let aborted = false;
  const sleepUntil = async (atMs: number): Promise<boolean> => {
    while (!aborted && nowMs() < atMs) await sleep(env, Math.min(100, atMs - nowMs()));
    return !aborted;
  };
  const stopObserving = repeatEvery(env, chaosLimits.observeIntervalMs, () =>
    observer.observe(nowMs()),
  );
  const stopProgress = repeatEvery(env, chaosLimits.progressIntervalMs, () =>
    options.progress(progressLine(nowMs(), nemesis, client.counts)),
  );
  try {
    for (const w of schedule.windows) {
      if (!(await sleepUntil(w.startMs))) break;
      await nemesis.runWindow(w, sleepUntil);
    }
    await sleepUntil(schedule.durationMs);
    // Requests planned near the end get their whole deadline; then cleanup gets time to show.
    const hardEndMs = schedule.durationMs + chaosLimits.requestDeadlineMs * 2 + 10_000;
    while (!client.requestsDone && client.clientError === undefined && nowMs() < hardEndMs)
      await sleep(env, 100);
    await nemesis.healAll();
    await sleep(env, chaosLimits.settleMs);
    observer.observe(nowMs(), true);
  } finally {
    aborted = true;
    stopObserving();
    stopProgress();
    await nemesis.healAll().catch(() => undefined);
  }
  handle.child.stdin?.write('stop\n');
  await Promise.race([reading, sleep(env, 5_000)]);
  if (client.clientError !== undefined)
    throw new Error(`workload client failed: ${client.clientError}`);
  return { events: client.events, wallet, observer, endMs: nowMs() };
}

/** The coordinator's sessions, read through the store API with every process stopped. */
async function readStoreSessions(path: string): Promise<StoredSession[]> {
  if (!existsSync(path)) throw new Error(`the coordinator store ${path} is missing`);
  const store = new SqliteStore(path);
  try {
    // listSessions is newest first; the checker reads them oldest first, as they were created.
    const sessions = await store.listSessions(chaosLimits.requestsMax * 2);
    return sessions.reverse().map(({ value: s }) => ({
      sessionId: s.sessionId,
      walletId: s.walletId,
      intentKey: s.intentKey,
      messageHash: s.messageHash,
      status: s.status,
      ...(s.signature === undefined ? {} : { signature: s.signature }),
    }));
  } finally {
    await store.close();
  }
}

/** Orders a history by time and numbers it. */
export function orderHistory(events: readonly NewHistoryEvent[]): HistoryEvent[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.timeMs - b.e.timeMs || a.i - b.i)
    .map(({ e }, index) => ({ ...e, index }));
}

async function finish(
  options: ChaosRunOptions,
  schedule: Schedule,
  processes: ChaosProcesses,
  run: DrivenRun,
  namespaces: string[],
): Promise<ChaosRunResult> {
  // Stop every process first, so the journals and the store are read at rest, after heal.
  await processes.stopAll();
  run.observer.close();
  const history = orderHistory(run.events);
  const input: CheckInput = {
    history,
    wallets: [run.wallet],
    journals: schedule.parties.map((partyId) => ({
      partyId,
      ...readJournalFile(processes.journalPath(partyId)),
    })),
    observations: run.observer.observations,
    sessions: await readStoreSessions(processes.storePath()),
    endMs: run.endMs,
  };
  const report = checkRun(input, {
    ...defaultCheckOptions,
    toleranceMs: chaosLimits.checkToleranceMs,
  });
  const windows = measureWindows(history);
  const summary = buildSummary(options.scenario, options.seed, history, report, windows);
  writeFileSync(
    join(options.outDir, 'history.jsonl'),
    history.map((e) => JSON.stringify(e)).join('\n') + '\n',
  );
  writeFileSync(join(options.outDir, 'summary.json'), `${JSON.stringify(summary)}\n`);
  writeFileSync(
    join(options.outDir, 'check.json'),
    `${JSON.stringify({ summary, violations: report.violations, metrics: report.metrics, windows: windows.windows }, null, 2)}\n`,
  );
  writeFileSync(
    join(options.outDir, 'report.html'),
    buildReportHtml({
      summary,
      schedule,
      history,
      violations: report.violations,
      windows,
      metrics: report.metrics,
    }),
  );
  return {
    summary,
    served: report.metrics.served,
    detectionMs: report.metrics.detectionMs,
    failFastMs: report.metrics.failFastMs,
    recoveryMs: report.metrics.recoveryMs,
    latenciesMs: windows.latenciesMs,
    report,
    windows,
    schedule,
    namespaces,
    sessions: input.sessions,
    wallet: run.wallet,
  };
}
