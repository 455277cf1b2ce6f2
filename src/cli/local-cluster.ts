/**
 * Runs a coordinator and parties as real child processes on loopback, for the demo, the
 * end-to-end tests and the benchmarks. Every process it starts is tracked by PID and stopped
 * by it; nothing else is ever signalled. A party can be started through another entry than
 * `quorate party` (a test-only party with faulty engines, say): its argv prefix replaces
 * `bin/quorate.js party`, and the usual party flags follow.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesToHex } from '@noble/hashes/utils.js';
import { realEnv, sleep, type Env } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import { openPartyIdentity } from '../party/node.ts';
import { issueCertificate } from '../transport/certificate.ts';
import { generateIdentity, type IdentityKeys } from '../transport/identity.ts';

const binPath = resolve(fileURLToPath(import.meta.url), '../../../bin/quorate.js');

/** The argv (after `node`) of the plain `quorate party` command; the party flags follow it. */
export const quoratePartyEntry: readonly string[] = [binPath, 'party'];

/** A started child process. */
interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stderrTail: string[];
}

/** Options for {@link LocalCluster}. */
export interface LocalClusterOptions {
  /** Keep data under this dir instead of a fresh temp dir. */
  dataDir?: string;
  logLevel?: string;
  /** Clock, timers and randomness (default: the real ones). */
  env?: Env;
  /**
   * By party id: the argv (after `node`) that starts this party instead of
   * {@link quoratePartyEntry}, e.g. `['--import', 'tsx', 'test/helpers/faulty-party.ts', …]`.
   */
  partyEntries?: Record<string, readonly string[]>;
  /** Extra command-line arguments for the coordinator and for every party (e.g. --policy). */
  coordinatorArgs?: string[];
  partyArgs?: string[];
  /**
   * Coordinator replicas (default 1). With more than one, pass a shared store in
   * `coordinatorArgs` (`--store etcd://…`); every party dials every replica.
   */
  replicas?: number;
  /** Extra arguments for one replica only (e.g. its own etcd endpoint list). */
  coordinatorArgsFor?: (index: number) => string[];
  /**
   * Parties pin an operator key and carry its certificate (default true): the cluster plays
   * the operator, certifying each party's identity before its first start (docs/security.md).
   * False runs the legacy mode, where peer keys come from the coordinator.
   */
  anchored?: boolean;
  /** Node options placed before every child's script (e.g. `--cpu-prof` for `npm run bench`). */
  nodeArgs?: readonly string[];
}

/** A local coordinator plus parties. */
export class LocalCluster {
  readonly dataDir: string;
  readonly apiToken: string;
  readonly partySecret: string;
  readonly passphrase: string;
  /** The operator key the cluster certifies its parties with (when anchored). */
  readonly operator: IdentityKeys;
  private readonly env: Env;
  private readonly ownsDir: boolean;
  private readonly procs = new Map<string, Proc>();
  /** URL of replica 0 (the only one unless `replicas` > 1). */
  url = '';
  /** URL of every replica started so far, by index (kept across restarts: same port). */
  readonly urls: string[] = [];
  private readonly ports: number[] = [];

  constructor(private readonly options: LocalClusterOptions = {}) {
    this.env = options.env ?? realEnv({ logLevel: 'silent' });
    this.apiToken = bytesToHex(this.env.randomBytes(16));
    this.partySecret = bytesToHex(this.env.randomBytes(24));
    this.passphrase = bytesToHex(this.env.randomBytes(16));
    this.operator = generateIdentity(this.env.randomBytes(64));
    this.ownsDir = options.dataDir === undefined;
    this.dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'quorate-'));
  }

  /** Starts `node ARGV` with the cluster's secrets in its environment. */
  private spawnNode(name: string, argv: readonly string[]): Proc {
    const child = spawn(process.execPath, [...(this.options.nodeArgs ?? []), ...argv], {
      env: {
        ...process.env,
        QUORATE_KEY_PASSPHRASE: this.passphrase,
        QUORATE_PARTY_SECRET: this.partySecret,
        QUORATE_API_TOKEN: this.apiToken,
        QUORATE_LOG_LEVEL: this.options.logLevel ?? 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderrTail: string[] = [];
    child.stderr?.on('data', (d: Buffer) => {
      stderrTail.push(String(d));
      if (stderrTail.length > 50) stderrTail.shift();
      if (process.env['QUORATE_CLUSTER_DEBUG']) process.stderr.write(`[${name}] ${String(d)}`);
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const proc = { name, child, exited, stderrTail };
    this.procs.set(name, proc);
    return proc;
  }

  /** Process name of replica `index` (`coordinator` for replica 0, as before replicas). */
  static replicaName(index: number): string {
    return index === 0 ? 'coordinator' : `coordinator-${index}`;
  }

  /** Starts every replica (in parallel); resolves with their URLs. */
  async startCoordinators(): Promise<string[]> {
    const n = this.options.replicas ?? 1;
    return Promise.all(Array.from({ length: n }, (_, i) => this.startCoordinator(i)));
  }

  /** Starts (or restarts, on the same port and data) replica `index`; resolves once it listens. */
  async startCoordinator(index = 0): Promise<string> {
    const name = LocalCluster.replicaName(index);
    const listen = `127.0.0.1:${this.ports[index] ?? 0}`;
    const proc = this.spawnNode(name, [
      binPath,
      'coordinator',
      '--listen',
      listen,
      '--data',
      join(this.dataDir, name),
      '--json',
      ...(this.options.coordinatorArgs ?? []),
      ...(this.options.coordinatorArgsFor?.(index) ?? []),
    ]);
    const url = await new Promise<string>((resolveUrl, reject) => {
      let buffer = '';
      const cancelTimer = this.env.setTimer(limits.startupWaitMsMax, () =>
        reject(new Error(`${name} did not start: ${proc.stderrTail.join('')}`)),
      );
      proc.child.stdout?.on('data', (d: Buffer) => {
        // Only the start-up line matters: keep the buffer short.
        buffer = (buffer + String(d)).slice(-limits.startupOutputBytesMax);
        const line = buffer.split('\n').find((l) => l.includes('"listening"'));
        if (line) {
          cancelTimer();
          resolveUrl((JSON.parse(line) as { url: string }).url);
        }
      });
      void proc.exited.then((code) => {
        cancelTimer();
        reject(new Error(`${name} exited (${code}): ${proc.stderrTail.join('')}`));
      });
    });
    this.urls[index] = url;
    this.ports[index] = Number(new URL(url).port);
    if (index === 0) this.url = url;
    return url;
  }

  /** Starts the coordinator and `partyIds`, and waits until every party is alive. */
  async startWithParties(partyIds: string[]): Promise<string> {
    const url = await this.startCoordinator();
    for (const p of partyIds) this.startParty(p);
    await this.waitForParties(partyIds);
    return url;
  }

  /**
   * Starts (or restarts) a party process through `entry` (default: the one configured for
   * this party in `partyEntries`, else {@link quoratePartyEntry}).
   */
  startParty(partyId: string, entry?: readonly string[]): void {
    const wsUrl = this.urls.map((u) => u.replace(/^http/, 'ws')).join(',');
    const dataDir = join(this.dataDir, 'parties', partyId);
    this.spawnNode(partyId, [
      ...(entry ?? this.options.partyEntries?.[partyId] ?? quoratePartyEntry),
      '--id',
      partyId,
      '--coordinator',
      wsUrl,
      '--data',
      dataDir,
      ...(this.options.anchored === false ? [] : this.anchorArgs(partyId, dataDir)),
      ...(this.options.partyArgs ?? []),
    ]);
  }

  /**
   * `--operator-key` and `--certificate` for a party: on its first start the cluster opens the
   * party's identity (created sealed in its data directory, exactly as `quorate party identity`
   * does) and certifies it, as an operator would with `quorate operator certify`.
   */
  private anchorArgs(partyId: string, dataDir: string): string[] {
    const path = join(this.dataDir, 'certificates', `${partyId}.json`);
    if (!existsSync(path)) {
      const { identity, journal } = openPartyIdentity(this.env, dataDir, this.passphrase);
      journal.close();
      const subject = {
        partyId,
        identityKey: bytesToHex(identity.signPublic),
        boxKey: bytesToHex(identity.boxPublic),
      };
      const { signSecret, signPublic } = this.operator;
      const certificate = issueCertificate(signSecret, signPublic, subject, this.env.nowMs());
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, JSON.stringify(certificate), { mode: 0o600 });
    }
    return ['--operator-key', bytesToHex(this.operator.signPublic), '--certificate', path];
  }

  /** Sends a signal to one of our processes and waits for it to exit (SIGKILL/SIGTERM). */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.procs.get(name);
    if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill(signal);
    await Promise.race([proc.exited, sleep(this.env, limits.shutdownMsMax)]);
    // Forget it only once it is gone, so stop() can still SIGKILL a process that ignored SIGTERM.
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) this.procs.delete(name);
  }

  /** SIGSTOP / SIGCONT one of our processes. */
  signal(name: string, signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.procs.get(name)?.child.kill(signal);
  }

  /** PID of one of our processes. */
  pid(name: string): number | undefined {
    return this.procs.get(name)?.child.pid;
  }

  /**
   * Authenticated JSON request to the coordinator (replica `replica`, default 0); `token`
   * authenticates as another API principal.
   */
  async request(
    method: string,
    path: string,
    body?: unknown,
    replica = 0,
    token: string = this.apiToken,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${this.urls[replica] ?? this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(limits.waitMsMax + 5_000),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  /** Polls `GET /v1/parties` until every listed party has `state` (bounded). */
  async waitForParties(
    partyIds: string[],
    state: 'alive' | 'down' | 'suspect' | 'not-alive' = 'alive',
    timeoutMs: number = limits.startupWaitMsMax,
    replica = 0,
  ): Promise<void> {
    const untilMs = this.env.monoMs() + timeoutMs;
    while (this.env.monoMs() < untilMs) {
      const { json } = await this.request('GET', '/v1/parties', undefined, replica).catch(() => ({
        json: { parties: [] },
      }));
      const parties = (json['parties'] as { partyId: string; state: string }[] | undefined) ?? [];
      const ok = partyIds.every((id) => {
        const s = parties.find((p) => p.partyId === id)?.state;
        return state === 'not-alive' ? s !== 'alive' : s === state;
      });
      if (ok) return;
      await sleep(this.env, limits.pollIntervalMs);
    }
    throw new Error(`parties ${partyIds.join(',')} did not become ${state} within ${timeoutMs} ms`);
  }

  /** Stops every process we started and removes our temp dir. */
  async stop(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((name) => this.kill(name, 'SIGTERM')));
    await Promise.all([...this.procs.keys()].map((name) => this.kill(name, 'SIGKILL')));
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
