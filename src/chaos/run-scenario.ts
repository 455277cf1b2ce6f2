/**
 * One chaos run on real processes: namespaces and bridge, coordinator and parties, the
 * workload client, the seeded fault schedule, then heal, read journals and store, check,
 * and write `history.jsonl`, `summary.json`, `check.json` and `report.html`. Namespaces and
 * processes are always removed: finally-blocks, SIGINT/SIGTERM handlers, an exit hook, and a
 * sweep of what a crashed earlier run left.
 */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { checkRun, defaultCheckOptions } from '../checker/check.ts';
import type { HistoryEvent, NemesisValue, NewHistoryEvent } from '../checker/history.ts';
import type { CheckInput, CheckReport, StoredSession, WalletFacts } from '../checker/types.ts';
import { measureWindows, type WindowReport } from '../checker/windows.ts';
import { readJournalFile } from '../party/journal-sqlite.ts';
import type { Scheme } from '../protocol/engine.ts';
import { chaosLimits } from './chaos-limits.ts';
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
}

/** A finished run. */
export interface ChaosRunResult extends SummarySamples {
  report: CheckReport;
  windows: WindowReport;
  schedule: Schedule;
  namespaces: string[];
  /** The store's sessions, read after heal with every process stopped. */
  sessions: StoredSession[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs one scenario end to end. */
export async function runScenario(options: ChaosRunOptions): Promise<ChaosRunResult> {
  const why = await preflight();
  if (why !== undefined) throw new ChaosPreconditionError(why);
  if (!existsSync(driverPath))
    throw new ChaosPreconditionError(
      `the compiled workload client ${driverPath} is missing: run npm run build`,
    );
  const swept = await sweepStale();
  if (swept.length > 0)
    options.progress(`removed ${swept.length} namespaces left by a crashed run`);
  const durationMs = options.durationS * 1_000;
  const schedule = planSchedule(options.scenario, options.seed, durationMs);
  const requests = planWorkload(options.seed, options.ratePerS, durationMs);
  mkdirSync(options.outDir, { recursive: true });
  const dataDir = join(options.outDir, 'data');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(options.outDir, 'schedule.json'), `${JSON.stringify(schedule, null, 2)}\n`);

  const topology = new NetnsTopology(['client', 'coordinator', ...schedule.parties]);
  // The API token lives only in the harness and the processes it starts (and a 0600 file).
  const apiToken = randomBytes(16).toString('hex');
  const processes = new ChaosProcesses(topology, {
    dataDir,
    apiToken,
    partySecret: randomBytes(16).toString('hex'),
    passphrase: randomBytes(16).toString('hex'),
    heartbeatMs: options.heartbeatMs,
    downAfterMs: options.downAfterMs,
    logLevel: 'warn',
  });
  let driver: ChildProcess | undefined;
  const exitHook = () => {
    driver?.kill('SIGKILL');
    processes.killAllSync();
    topology.destroySync();
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    options.progress(`${signal}: cleaning up`);
    exitHook();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', exitHook);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await topology.create();
    options.progress(
      `namespaces up: ${topology.namespaces.length} on a private bridge; starting coordinator and ${schedule.parties.length} parties`,
    );
    await processes.startCoordinator();
    for (const p of schedule.parties) processes.startParty(p);
    const configPath = join(options.outDir, 'data', 'driver.json');
    const driverConfig: DriverConfig = {
      coordinatorUrl: processes.coordinatorUrl,
      apiToken,
      scheme: options.scheme,
      threshold: schedule.threshold,
      parties: schedule.parties,
      requests,
    };
    writeFileSync(configPath, JSON.stringify(driverConfig), { mode: 0o600 });
    const started = spawnDriver(topology, configPath);
    driver = started.child;
    const run = await drive(options, schedule, processes, topology, started);
    return await finish(options, schedule, processes, run, topology.namespaces);
  } finally {
    driver?.kill('SIGKILL');
    await processes.stopAll();
    await topology.destroy();
    process.removeListener('exit', exitHook);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (interrupted) options.progress('interrupted');
  }
}

interface DriverHandle {
  child: ChildProcess;
  lines: AsyncIterableIterator<string>;
  stderrTail: string[];
}

function spawnDriver(topology: NetnsTopology, configPath: string): DriverHandle {
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
  return { child, lines: reader[Symbol.asyncIterator](), stderrTail };
}

interface DrivenRun {
  events: NewHistoryEvent[];
  wallet: WalletFacts;
  observer: JournalObserver;
  endMs: number;
}

/** Reads driver lines until `pred` matches one (bounded by `timeoutMs`). */
async function nextLine(
  handle: DriverHandle,
  timeoutMs: number,
): Promise<Record<string, unknown> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>(
    (r) => (timer = setTimeout(() => r('timeout'), timeoutMs)),
  );
  const next = await Promise.race([handle.lines.next(), timeout]);
  clearTimeout(timer);
  if (next === 'timeout') throw new Error('the workload client did not answer in time');
  if (next.done === true) return undefined;
  return JSON.parse(next.value) as Record<string, unknown>;
}

async function drive(
  options: ChaosRunOptions,
  schedule: Schedule,
  processes: ChaosProcesses,
  topology: NetnsTopology,
  handle: DriverHandle,
): Promise<DrivenRun> {
  // Start-up: the client waits for every party, then creates the wallet by DKG.
  let walletLine: Record<string, unknown> | undefined;
  while (walletLine === undefined) {
    const line = await nextLine(handle, chaosLimits.startupWaitMs * 2);
    if (line === undefined || line['t'] === 'error')
      throw new Error(
        `workload client failed: ${JSON.stringify(line?.['message'] ?? 'exited')} ${handle.stderrTail.join('')} coordinator: ${processes.stderrOf('coordinator')}`,
      );
    if (line['t'] === 'wallet') walletLine = line['wallet'] as Record<string, unknown>;
  }
  const wallet: WalletFacts = {
    walletId: String(walletLine['walletId']),
    scheme: walletLine['scheme'] as Scheme,
    threshold: Number(walletLine['threshold']),
    parties: walletLine['parties'] as string[],
    publicKey: String(walletLine['publicKey']),
  };
  const epochMs = Date.now();
  const nowMs = () => Date.now() - epochMs;
  const events: NewHistoryEvent[] = [];
  const counts = { invoked: 0, ok: 0, fail: 0, info: 0 };
  const firewall = new Firewall(topology);
  const observer = new JournalObserver(processes, schedule.parties);
  const nemesis = new Nemesis(
    processes,
    firewall,
    schedule.parties,
    (f: 'start' | 'stop', value: NemesisValue) => {
      events.push({ process: 'nemesis', type: 'info', f, value, timeMs: nowMs() });
      options.progress(
        `[${(nowMs() / 1000).toFixed(1)}s] nemesis ${f} ${value.id} ${value.kind}: ${value.description}`,
      );
    },
    { beforeKill: (node) => observer.markKilled(node) },
  );
  handle.child.stdin?.write(`start ${epochMs}\n`);
  let requestsDone = false;
  let clientError: string | undefined;
  const reading = (async () => {
    for (;;) {
      const line = await nextLine(handle, 3_600_000).catch(() => undefined);
      if (line === undefined) return;
      if (line['t'] === 'event') {
        const e = line['event'] as NewHistoryEvent;
        if (events.length < chaosLimits.historyEventsMax) events.push(e);
        if (e.f === 'sign') {
          if (e.type === 'invoke') counts.invoked += 1;
          else counts[e.type] += 1;
        }
      } else if (line['t'] === 'requests-done') requestsDone = true;
      else if (line['t'] === 'error') clientError = String(line['message']);
    }
  })();
  let aborted = false;
  const sleepUntil = async (atMs: number): Promise<boolean> => {
    while (!aborted && nowMs() < atMs) await sleep(Math.min(100, atMs - nowMs()));
    return !aborted;
  };
  const observing = setInterval(() => observer.observe(nowMs()), chaosLimits.observeIntervalMs);
  const progress = setInterval(() => {
    const w = nemesis.currentWindow;
    options.progress(
      `[${(nowMs() / 1000).toFixed(1)}s] fault: ${w ? `${w.id} ${w.description}` : 'none'} | requests ${counts.invoked} tries: ok ${counts.ok}, fail ${counts.fail}, info ${counts.info}, pending ${counts.invoked - counts.ok - counts.fail - counts.info}`,
    );
  }, chaosLimits.progressIntervalMs);
  try {
    for (const w of schedule.windows) {
      if (!(await sleepUntil(w.startMs))) break;
      await nemesis.runWindow(w, sleepUntil);
    }
    await sleepUntil(schedule.durationMs);
    // Requests planned near the end get their whole deadline; then cleanup gets time to show.
    const hardEndMs = schedule.durationMs + chaosLimits.requestDeadlineMs * 2 + 10_000;
    while (!requestsDone && clientError === undefined && nowMs() < hardEndMs) await sleep(100);
    await nemesis.healAll();
    await sleep(chaosLimits.settleMs);
    observer.observe(nowMs(), true);
  } finally {
    aborted = true;
    clearInterval(observing);
    clearInterval(progress);
    await nemesis.healAll().catch(() => undefined);
  }
  handle.child.stdin?.write('stop\n');
  await Promise.race([reading, sleep(5_000)]);
  if (clientError !== undefined) throw new Error(`workload client failed: ${clientError}`);
  return { events, wallet, observer, endMs: nowMs() };
}

function readStoreSessions(path: string): StoredSession[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT body FROM sessions ORDER BY created_ms LIMIT ?')
      .all(chaosLimits.requestsMax * 2) as { body: string }[];
    return rows.map((r) => {
      const s = JSON.parse(r.body) as StoredSession & { signature?: string };
      return {
        sessionId: s.sessionId,
        walletId: s.walletId,
        intentKey: s.intentKey,
        messageHash: s.messageHash,
        status: s.status,
        ...(s.signature === undefined ? {} : { signature: s.signature }),
      };
    });
  } finally {
    db.close();
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
    sessions: readStoreSessions(processes.storePath()),
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
  };
}
