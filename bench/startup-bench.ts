/**
 * Startup benchmark (issue #11): how fast a command starts from the compiled build in dist/
 * versus the TypeScript sources under tsx, all in one run on this machine:
 * - `node -e 0` (the floor), `quorate --help` compiled (`node bin/quorate.js --help`) and under
 *   tsx: median, p90, min and max of 10 runs each, interleaved so machine noise hits all three;
 *   goal: compiled `--help` under 4× `node -e 0`;
 * - process start to first served request: a coordinator until `GET /healthz` answers 200, and
 *   a party until the coordinator's `GET /v1/parties` shows it `alive`, compiled and under tsx,
 *   alternating, 7 runs each. Each run starts with a fresh data dir, so it includes creating the
 *   sealed identity (scrypt), as a first start does.
 * Loopback only, temp dirs; every process is started here, tracked by PID and killed by it, and
 * every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, round2 } from './stats.ts';

const helpRuns = Number(process.env['QUORATE_BENCH_STARTUP_RUNS'] ?? 10);
const serveRuns = Number(process.env['QUORATE_BENCH_STARTUP_SERVE_RUNS'] ?? 7);
const warmupRuns = 2;
const helpRatioGoal = 4;
const exitWaitMsMax = 30_000;
const serveWaitMsMax = 30_000;
const stopWaitMsMax = 5_000;
const pollMs = 5;

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const binPath = join(repoRoot, 'bin/quorate.js');
/** The command as it ran before dist/: the TypeScript sources through the tsx loader. */
const tsxEntry =
  "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));";
const cli = {
  compiled: [binPath],
  tsx: ['--import', 'tsx', '--input-type=module', '-e', tsxEntry, '--'],
} as const;
type Variant = keyof typeof cli;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Every process started here that has not exited yet, killed if the bench itself dies. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const secrets = {
  QUORATE_API_TOKEN: randomBytes(16).toString('hex'),
  QUORATE_PARTY_SECRET: randomBytes(16).toString('hex'),
  QUORATE_KEY_PASSPHRASE: randomBytes(16).toString('hex'),
  QUORATE_LOG_LEVEL: 'warn',
};

function start(args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, [...args], {
    cwd: repoRoot,
    env: { ...process.env, ...secrets },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM, then SIGKILL if it has not exited within `stopWaitMsMax`. */
async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (await exited(child, stopWaitMsMax)) return;
  child.kill('SIGKILL');
  await exited(child, stopWaitMsMax);
}

/** Wall time of one command from spawn to exit; it must exit 0. */
async function timeCommand(args: readonly string[]): Promise<number> {
  const t0 = performance.now();
  const child = start(args);
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, exitWaitMsMax);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}`);
  return ms;
}

/** A loopback port that is free now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function getJson(url: string): Promise<{ status: number; json: unknown }> {
  try {
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${secrets.QUORATE_API_TOKEN}` },
      signal: AbortSignal.timeout(1_000),
    });
    return { status: res.status, json: await res.json() };
  } catch {
    return { status: 0, json: undefined };
  }
}

/** Polls `ready` every `pollMs` until it holds; throws after `serveWaitMsMax`. */
async function until(
  what: string,
  child: ChildProcess,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = performance.now() + serveWaitMsMax;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what}: the process exited (${child.exitCode})`);
    if (await ready()) return;
    await sleep(pollMs);
  }
  throw new Error(`${what}: not ready within ${serveWaitMsMax} ms`);
}

interface Coordinator {
  child: ChildProcess;
  url: string;
}

async function startCoordinator(variant: Variant, dataDir: string): Promise<Coordinator> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = start([
    ...cli[variant],
    'coordinator',
    '--listen',
    `127.0.0.1:${port}`,
    '--data',
    join(dataDir, 'coordinator'),
  ]);
  await until(`coordinator (${variant})`, child, async () => {
    return (await getJson(`${url}/healthz`)).status === 200;
  });
  return { child, url };
}

/** Process start to the first `GET /healthz` answered 200. */
async function coordinatorStartMs(variant: Variant): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'quorate-bench-startup-'));
  const t0 = performance.now();
  let coordinator: Coordinator | undefined;
  try {
    coordinator = await startCoordinator(variant, dataDir);
    return performance.now() - t0;
  } finally {
    if (coordinator) await stop(coordinator.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Process start to the party shown `alive` by the coordinator's `GET /v1/parties`. */
async function partyStartMs(variant: Variant, coordinator: Coordinator, id: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'quorate-bench-startup-'));
  const t0 = performance.now();
  const child = start([
    ...cli[variant],
    'party',
    '--id',
    id,
    '--coordinator',
    coordinator.url.replace(/^http/, 'ws'),
    '--data',
    join(dataDir, id),
  ]);
  try {
    await until(`party ${id} (${variant})`, child, async () => {
      const { json } = await getJson(`${coordinator.url}/v1/parties`);
      const parties = (json as { parties?: { partyId: string; state: string }[] } | undefined)
        ?.parties;
      return parties?.some((p) => p.partyId === id && p.state === 'alive') ?? false;
    });
    return performance.now() - t0;
  } finally {
    await stop(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const summary = (xs: number[]) => ({
  medianMs: round2(percentile(xs, 50)),
  p90Ms: round2(percentile(xs, 90)),
  minMs: round2(Math.min(...xs)),
  maxMs: round2(Math.max(...xs)),
  n: xs.length,
});

async function helpTimes(log: (line: string) => void) {
  const commands = {
    bareNode: ['-e', '0'],
    compiledHelp: [...cli.compiled, '--help'],
    tsxHelp: [...cli.tsx, '--help'],
  };
  const samples: Record<keyof typeof commands, number[]> = {
    bareNode: [],
    compiledHelp: [],
    tsxHelp: [],
  };
  for (let i = 0; i < warmupRuns + helpRuns; i++) {
    for (const [name, args] of Object.entries(commands)) {
      const ms = await timeCommand(args);
      if (i >= warmupRuns) samples[name as keyof typeof commands].push(ms);
    }
  }
  const bare = summary(samples.bareNode);
  const compiled = summary(samples.compiledHelp);
  const tsx = summary(samples.tsxHelp);
  log(
    `  node -e 0 ${bare.medianMs} ms; --help compiled ${compiled.medianMs} ms, tsx ${tsx.medianMs} ms (medians of ${helpRuns})`,
  );
  return { bare, compiled, tsx };
}

async function serveTimes(log: (line: string) => void) {
  const coordinatorMs: Record<Variant, number[]> = { compiled: [], tsx: [] };
  const partyMs: Record<Variant, number[]> = { compiled: [], tsx: [] };
  const variants: Variant[] = ['compiled', 'tsx'];
  for (let i = 0; i < serveRuns; i++) {
    for (const v of i % 2 === 0 ? variants : [...variants].reverse()) {
      coordinatorMs[v].push(await coordinatorStartMs(v));
    }
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'quorate-bench-startup-'));
  const coordinator = await startCoordinator('compiled', dataDir);
  try {
    for (let i = 0; i < serveRuns; i++) {
      for (const v of i % 2 === 0 ? variants : [...variants].reverse()) {
        partyMs[v].push(await partyStartMs(v, coordinator, `bench-${v}-${i}`));
      }
    }
  } finally {
    await stop(coordinator.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
  const result = {
    coordinatorToHealthzMs: {
      compiled: summary(coordinatorMs.compiled),
      tsx: summary(coordinatorMs.tsx),
    },
    partyToAliveMs: { compiled: summary(partyMs.compiled), tsx: summary(partyMs.tsx) },
  };
  log(
    `  coordinator to /healthz 200: compiled ${result.coordinatorToHealthzMs.compiled.medianMs} ms, tsx ${result.coordinatorToHealthzMs.tsx.medianMs} ms; ` +
      `party to alive: compiled ${result.partyToAliveMs.compiled.medianMs} ms, tsx ${result.partyToAliveMs.tsx.medianMs} ms (medians of ${serveRuns})`,
  );
  return result;
}

/** Runs the startup benchmark. */
export async function runStartupBench(
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const loadBefore = loadavg();
  log(`startup: --help, ${helpRuns} runs each (after ${warmupRuns} warm-up runs)…`);
  const help = await helpTimes(log);
  log(`startup: process start to first served request, ${serveRuns} runs each…`);
  const serve = await serveTimes(log);
  const helpRatioToBareNode = round2(help.compiled.medianMs / help.bare.medianMs);
  log(`  compiled --help / node -e 0 = ${helpRatioToBareNode}× (goal < ${helpRatioGoal}×)`);
  return {
    config: { helpRuns, serveRuns, warmupRuns, pollMs },
    // Other work on the machine during the run (1-minute load average), for reading the figures.
    loadAverage1m: { before: round2(loadBefore[0] ?? 0), after: round2(loadavg()[0] ?? 0) },
    bareNodeMs: help.bare,
    helpMs: { compiled: help.compiled, tsx: help.tsx },
    helpRatioToBareNode,
    tsxHelpRatioToBareNode: round2(help.tsx.medianMs / help.bare.medianMs),
    helpRatioGoal,
    helpRatioGoalMet: helpRatioToBareNode < helpRatioGoal,
    ...serve,
  };
}
