/**
 * Starts real etcd members on loopback ports with a temp data dir, waits until they are healthy
 * (bounded), stops them by PID and deletes the dir. Used by the etcd store tests and the store
 * benchmark. If etcd is not installed this throws a clear error (tests must fail, not skip).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The etcd binary: `QUORATE_ETCD_BIN` or `etcd` on PATH. */
const etcdBin = process.env['QUORATE_ETCD_BIN'] ?? 'etcd';
const healthPollMs = 50;
const healthWaitMsMax = 15_000;
const stopWaitMsMax = 5_000;
const startAttemptsMax = 3;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every started etcd, killed if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Throws unless an etcd binary runs here. */
export function requireEtcd(): void {
  const probe = spawnSync(etcdBin, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `etcd is not installed or does not run (${etcdBin}: ${probe.error?.message ?? probe.stderr}). ` +
        'The etcd store tests need it: apt-get install -y etcd-server (npm test as root on ' +
        'Debian installs it), or set QUORATE_ETCD_BIN to an etcd 3.4+ binary.',
    );
  }
}

/**
 * A loopback port that is free now, drawn below the kernel's ephemeral range (32768+ on Linux)
 * so outgoing connections cannot take it before etcd binds it.
 */
async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = randomInt(20_000, 32_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free loopback port in 20000..32000');
}

/** One member of a test cluster. */
export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logPath: string;
  process: ChildProcess | undefined;
}

/** A running test cluster. */
export class EtcdCluster {
  private constructor(
    readonly root: string,
    readonly members: EtcdMember[],
    private readonly initialCluster: string,
  ) {}

  /**
   * Starts `size` members on fresh loopback ports and waits until each reports healthy. A port
   * taken between our check and etcd's bind makes a member exit: start again on new ports.
   */
  static async start(size: number): Promise<EtcdCluster> {
    requireEtcd();
    for (let attempt = 1; ; attempt++) {
      try {
        return await EtcdCluster.startOnce(size);
      } catch (error) {
        const portRace = String(error).includes('address already in use');
        if (!portRace || attempt >= startAttemptsMax) throw error;
      }
    }
  }

  private static async startOnce(size: number): Promise<EtcdCluster> {
    const root = mkdtempSync(join(tmpdir(), 'quorate-etcd-'));
    const members: EtcdMember[] = [];
    for (let i = 0; i < size; i++) {
      const name = `m${i}`;
      members.push({
        name,
        clientUrl: `http://127.0.0.1:${await freePort()}`,
        peerUrl: `http://127.0.0.1:${await freePort()}`,
        dataDir: join(root, name),
        logPath: join(root, `${name}.log`),
        process: undefined,
      });
    }
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    const cluster = new EtcdCluster(root, members, initialCluster);
    try {
      for (const m of members) cluster.spawnMember(m);
      await Promise.all(members.map((m) => cluster.waitHealthy(m)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Gateway base URLs of every member. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** `etcd://127.0.0.1:p1,127.0.0.1:p2,…` as the coordinator flag takes it. */
  get url(): string {
    return `etcd://${this.members.map((m) => m.clientUrl.replace('http://', '')).join(',')}`;
  }

  private spawnMember(m: EtcdMember): void {
    mkdirSync(m.dataDir, { recursive: true, mode: 0o700 });
    const log = openSync(m.logPath, 'a');
    // prettier-ignore
    const args = [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', this.initialCluster, '--initial-cluster-state', 'new',
      '--initial-cluster-token', `quorate-test-${process.pid}`,
      '--logger', 'zap', '--log-outputs', 'stderr',
    ];
    const child = spawn(etcdBin, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    running.add(child);
    child.once('exit', () => running.delete(child));
    m.process = child;
  }

  private async waitHealthy(m: EtcdMember): Promise<void> {
    for (let waitedMs = 0; waitedMs < healthWaitMsMax; waitedMs += healthPollMs) {
      if (m.process?.exitCode !== null && m.process?.exitCode !== undefined) break;
      try {
        const response = await fetch(`${m.clientUrl}/health`);
        const body = (await response.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not listening yet
      }
      await sleep(healthPollMs);
    }
    const tail = readFileSync(m.logPath, 'utf8').split('\n').slice(-15).join('\n');
    const exited = m.process?.exitCode ?? null;
    const why = exited === null ? `not healthy within ${healthWaitMsMax} ms` : `exited (${exited})`;
    throw new Error(`etcd member ${m.name} ${why}:\n${tail}`);
  }

  /** Kills member `index` by PID (SIGKILL by default: a crash) and waits for it to exit. */
  async kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.members[index]!;
    const child = m.process;
    m.process = undefined;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid, signal);
    await Promise.race([exited, sleep(stopWaitMsMax)]);
  }

  /** Starts member `index` again on its data dir and waits until it is healthy. */
  async restart(index: number): Promise<void> {
    const m = this.members[index]!;
    await this.kill(index);
    this.spawnMember(m);
    await this.waitHealthy(m);
  }

  /** Waits until every running member is healthy again (e.g. after a restart elsewhere). */
  async waitAllHealthy(): Promise<void> {
    await Promise.all(this.members.filter((m) => m.process).map((m) => this.waitHealthy(m)));
  }

  /** Stops every member by PID and deletes the data dir. */
  async stop(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.kill(i);
    rmSync(this.root, { recursive: true, force: true });
  }
}
