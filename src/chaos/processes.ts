/**
 * The coordinator and party processes, each started inside its own namespace with
 * `ip netns exec` (which execs, so the PID we hold is the node process itself) as
 * `quorate chaos process --control FILE -- coordinator|party …`: the normal command with the
 * fault layer (src/chaos/fault-layer.ts) wrapped around it, steered through its control file.
 * Only PIDs started here are ever signalled.
 */
import { limits } from '../core/limits.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, type Env } from '../core/env.ts';
import { chaosLimits } from '../core/limits.ts';
import type { FaultState } from './fault-layer.ts';
import type { NetnsTopology } from './netns.ts';

const binPath = resolve(fileURLToPath(import.meta.url), '../../../bin/quorate.js');
/** The port the coordinator listens on inside its namespace (each run has its own). */
export const coordinatorPort = 7420;

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
  stderrTail: string[];
  paused: boolean;
}

/** Secrets and tunables shared by the processes of one run. */
export interface ClusterConfig {
  dataDir: string;
  apiToken: string;
  partySecret: string;
  passphrase: string;
  heartbeatMs: number;
  downAfterMs: number;
  logLevel: string;
}

/** Starts, signals and stops the cluster's processes. */
export class ChaosProcesses {
  private readonly procs = new Map<string, Proc>();
  /** Every PID ever started here (for the synchronous exit handler). */
  readonly startedPids = new Set<number>();

  constructor(
    private readonly env: Env,
    private readonly topology: NetnsTopology,
    private readonly config: ClusterConfig,
  ) {
    mkdirSync(join(config.dataDir, 'control'), { recursive: true });
    mkdirSync(join(config.dataDir, 'logs'), { recursive: true });
  }

  get coordinatorUrl(): string {
    return `http://${this.topology.host('coordinator').address}:${coordinatorPort}`;
  }

  /** The fault control file of a node (latency, jitter, clock offset; src/chaos/fault-layer.ts). */
  controlFile(node: string): string {
    return join(this.config.dataDir, 'control', `${node}.json`);
  }

  /** Writes a node's fault setting; the process re-reads it within `faultLimits.controlFilePollMs`. */
  setFault(node: string, fault: Partial<FaultState>): void {
    const path = this.controlFile(node);
    writeFileSync(`${path}.tmp`, JSON.stringify(fault));
    // Rename is atomic: the process never reads a half-written file.
    renameSync(`${path}.tmp`, path);
  }

  private spawnIn(node: string, args: string[]): Proc {
    this.setFault(node, {});
    const env = {
      ...process.env,
      QUORATE_KEY_PASSPHRASE: this.config.passphrase,
      QUORATE_PARTY_SECRET: this.config.partySecret,
      QUORATE_API_TOKEN: this.config.apiToken,
      QUORATE_LOG_LEVEL: this.config.logLevel,
    };
    const command = ['chaos', 'process', '--control', this.controlFile(node), '--', ...args];
    const child = spawn(
      'ip',
      ['netns', 'exec', this.topology.host(node).netns, process.execPath, binPath, ...command],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (child.pid !== undefined) this.startedPids.add(child.pid);
    const stderrTail: string[] = [];
    child.stderr?.on('data', (d: Buffer) => {
      stderrTail.push(String(d));
      if (stderrTail.length > 40) stderrTail.shift();
    });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const proc: Proc = { child, exited, stderrTail, paused: false };
    this.procs.set(node, proc);
    return proc;
  }

  /** Starts (or restarts) the coordinator; resolves once it listens. */
  async startCoordinator(): Promise<void> {
    const proc = this.spawnIn('coordinator', [
      'coordinator',
      '--listen',
      `${this.topology.host('coordinator').address}:${coordinatorPort}`,
      '--data',
      join(this.config.dataDir, 'coordinator'),
      '--heartbeat-ms',
      String(this.config.heartbeatMs),
      '--down-after-ms',
      String(this.config.downAfterMs),
      '--json',
    ]);
    await new Promise<void>((resolveStarted, reject) => {
      let buffer = '';
      const cancelTimer = this.env.setTimer(chaosLimits.startupWaitMs, () =>
        reject(new Error(`coordinator did not start: ${proc.stderrTail.join('')}`)),
      );
      proc.child.stdout?.on('data', (d: Buffer) => {
        // Only the start-up line matters: keep the buffer short.
        buffer = (buffer + String(d)).slice(-limits.startupOutputBytesMax);
        if (buffer.includes('"listening"')) {
          cancelTimer();
          resolveStarted();
        }
      });
      void proc.exited.then(() => {
        cancelTimer();
        reject(new Error(`coordinator exited: ${proc.stderrTail.join('')}`));
      });
    });
  }

  /** Starts (or restarts) one party. */
  startParty(partyId: string): void {
    const address = this.topology.host('coordinator').address;
    this.spawnIn(partyId, [
      'party',
      '--id',
      partyId,
      '--coordinator',
      `ws://${address}:${coordinatorPort}`,
      '--data',
      join(this.config.dataDir, 'parties', partyId),
    ]);
  }

  /** Journal file of a party. */
  journalPath(partyId: string): string {
    return join(this.config.dataDir, 'parties', partyId, 'journal.sqlite');
  }

  storePath(): string {
    return join(this.config.dataDir, 'coordinator', 'store.sqlite');
  }

  isRunning(node: string): boolean {
    const p = this.procs.get(node);
    return p !== undefined && p.child.exitCode === null && p.child.signalCode === null;
  }

  isPaused(node: string): boolean {
    return this.procs.get(node)?.paused === true;
  }

  /** The nodes started so far (coordinator and parties). */
  get nodes(): string[] {
    return [...this.procs.keys()];
  }

  /** Last stderr lines of a node (for error messages). */
  stderrOf(node: string): string {
    return this.procs.get(node)?.stderrTail.join('') ?? '';
  }

  /** `kill -9` and wait for the exit. */
  async kill(node: string): Promise<void> {
    const p = this.procs.get(node);
    if (!p || !this.isRunning(node)) return;
    p.child.kill('SIGKILL');
    await Promise.race([p.exited, sleep(this.env, 5_000)]);
  }

  pause(node: string): void {
    const p = this.procs.get(node);
    if (!p || !this.isRunning(node)) return;
    p.child.kill('SIGSTOP');
    p.paused = true;
  }

  resume(node: string): void {
    const p = this.procs.get(node);
    if (!p || !p.paused) return;
    p.child.kill('SIGCONT');
    p.paused = false;
  }

  /** SIGCONT everything paused, SIGTERM, then SIGKILL what is left. */
  async stopAll(): Promise<void> {
    for (const node of this.procs.keys()) this.resume(node);
    const running = [...this.procs.entries()].filter(([n]) => this.isRunning(n));
    for (const [, p] of running) p.child.kill('SIGTERM');
    await Promise.race([Promise.all(running.map(([, p]) => p.exited)), sleep(this.env, 5_000)]);
    for (const [n, p] of running) if (this.isRunning(n)) p.child.kill('SIGKILL');
    await Promise.race([Promise.all(running.map(([, p]) => p.exited)), sleep(this.env, 5_000)]);
  }

  /** Synchronous last resort (process exit): SIGKILL every PID we started that may still run. */
  killAllSync(): void {
    for (const [n, p] of this.procs) {
      if (!this.isRunning(n)) continue;
      try {
        p.child.kill('SIGKILL');
      } catch {
        // Gone.
      }
    }
  }
}
