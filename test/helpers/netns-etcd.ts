/**
 * A real 3-member etcd cluster whose members each run in their own network namespace on a
 * private bridge (10.213.78.0/24, namespaces `qhaiso-<pid>-*`), so a member can be isolated
 * with iptables. Nothing is added to the host's own network namespace: each member's client
 * port is reached from the host through a Unix socket (sockets on the filesystem cross
 * namespaces): a TCP listener on 127.0.0.1 in this process pipes to the socket, and a small
 * forwarder inside the member's namespace pipes the socket to the member's client address.
 * A coordinator attached to member i therefore keeps talking to member i when i is isolated
 * from its peers. Every process is tracked by PID; stop() kills them and deletes every
 * namespace (which removes the bridge, the veths and every rule) and the temp dir.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/chaos/netns.ts';
import { requireEtcd } from './etcd-cluster.ts';

const etcdBin = process.env['QUORATE_ETCD_BIN'] ?? 'etcd';
/** Distinct from src/chaos (qchaos-, 10.213.77.0/24). */
const prefix = 'qhaiso-';
const subnet = '10.213.78';
const healthWaitMsMax = 20_000;
const healthPollMs = 100;
const stopWaitMsMax = 5_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs inside a member's namespace: Unix socket → TCP to the member's client address. */
const forwarderScript = `
const net = require('node:net');
const [sock, host, port] = process.argv.slice(1);
try { require('node:fs').unlinkSync(sock); } catch {}
net.createServer((c) => {
  const u = net.connect(Number(port), host);
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  c.on('close', () => u.destroy()); u.on('close', () => c.destroy());
}).listen(sock, () => console.log('ready'));
`;

/** Why this cannot run here, or undefined (root, ip and iptables present). */
export function netnsPreflight(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0)
    return 'the etcd leader-isolation test needs root (network namespaces, a bridge, iptables); CI runs it as root: run it as root on a disposable machine';
  for (const [tool, args] of [
    ['ip', ['-V']],
    ['iptables', ['-V']],
  ] as const) {
    try {
      execFileSync(tool, args, { stdio: 'ignore', timeout: 5_000 });
    } catch {
      return `the etcd leader-isolation test needs ${tool} (Debian: apt-get install iproute2 iptables)`;
    }
  }
  return undefined;
}

/** One member. */
export interface NetnsEtcdMember {
  name: string;
  netns: string;
  address: string;
  /** Host-side URL (127.0.0.1, forwarded into the namespace). */
  clientUrl: string;
  socketPath: string;
  dataDir: string;
  logPath: string;
  etcd: ChildProcess | undefined;
  forwarder: ChildProcess | undefined;
  server: Server | undefined;
}

/** A running cluster in namespaces. */
export class NetnsEtcdCluster {
  readonly switchNetns: string;
  private readonly created: string[] = [];
  private readonly sockets = new Set<Socket>();
  private stopped = false;
  private readonly onExit = () => this.stopSync();

  private constructor(
    readonly root: string,
    readonly members: NetnsEtcdMember[],
  ) {
    this.switchNetns = `${prefix}${process.pid}-sw`;
    process.once('exit', this.onExit);
  }

  /** Creates the namespaces and bridge, starts `size` members and waits until all are healthy. */
  static async start(size = 3): Promise<NetnsEtcdCluster> {
    const why = netnsPreflight();
    if (why) throw new Error(why);
    requireEtcd();
    const root = mkdtempSync(join(tmpdir(), 'quorate-netns-etcd-'));
    const members: NetnsEtcdMember[] = Array.from({ length: size }, (_, i) => ({
      name: `m${i}`,
      netns: `${prefix}${process.pid}-m${i}`,
      address: `${subnet}.${10 + i}`,
      clientUrl: '',
      socketPath: join(root, `m${i}.sock`),
      dataDir: join(root, `m${i}`),
      logPath: join(root, `m${i}.log`),
      etcd: undefined,
      forwarder: undefined,
      server: undefined,
    }));
    const cluster = new NetnsEtcdCluster(root, members);
    try {
      await cluster.createNetwork();
      const initial = members.map((m) => `${m.name}=http://${m.address}:2380`).join(',');
      for (const m of members) cluster.spawnEtcd(m, initial);
      for (const m of members) await cluster.startForwarding(m);
      await cluster.waitAllHealthy();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private async addNetns(name: string): Promise<void> {
    await run('ip', ['netns', 'add', name]);
    this.created.push(name);
  }

  private async createNetwork(): Promise<void> {
    await this.addNetns(this.switchNetns);
    const sw = ['-n', this.switchNetns];
    await run('ip', [...sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', [...sw, 'link', 'set', 'br0', 'up']);
    for (const [i, m] of this.members.entries()) {
      await this.addNetns(m.netns);
      const port = `v${i}`;
      // prettier-ignore
      await run('ip', [...sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', m.netns]);
      await run('ip', [...sw, 'link', 'set', port, 'master', 'br0']);
      await run('ip', [...sw, 'link', 'set', port, 'up']);
      const n = ['-n', m.netns];
      await run('ip', [...n, 'addr', 'add', `${m.address}/24`, 'dev', 'eth0']);
      await run('ip', [...n, 'link', 'set', 'eth0', 'up']);
      await run('ip', [...n, 'link', 'set', 'lo', 'up']);
    }
  }

  private spawnEtcd(m: NetnsEtcdMember, initialCluster: string): void {
    mkdirSync(m.dataDir, { recursive: true, mode: 0o700 });
    const log = openSync(m.logPath, 'a');
    const client = `http://${m.address}:2379`;
    const peer = `http://${m.address}:2380`;
    // prettier-ignore
    const args = [
      'netns', 'exec', m.netns, etcdBin,
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new',
      '--initial-cluster-token', `quorate-netns-${process.pid}`,
      '--logger', 'zap', '--log-outputs', 'stderr',
    ];
    // `ip netns exec` execs the command: the PID is etcd's.
    m.etcd = spawn('ip', args, { stdio: ['ignore', log, log] });
    closeSync(log);
  }

  private async startForwarding(m: NetnsEtcdMember): Promise<void> {
    const fwd = spawn(
      'ip',
      [
        'netns',
        'exec',
        m.netns,
        process.execPath,
        '-e',
        forwarderScript,
        m.socketPath,
        m.address,
        '2379',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    m.forwarder = fwd;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`forwarder ${m.name} not ready`)), 10_000);
      fwd.stdout?.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      fwd.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`forwarder ${m.name} exited (${code})`));
      });
    });
    const server = createServer((c) => {
      const u = createConnection(m.socketPath);
      this.sockets.add(c).add(u);
      c.pipe(u);
      u.pipe(c);
      const close = () => {
        c.destroy();
        u.destroy();
        this.sockets.delete(c);
        this.sockets.delete(u);
      };
      c.on('error', close).on('close', close);
      u.on('error', close).on('close', close);
    });
    m.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no forwarder port');
    m.clientUrl = `http://127.0.0.1:${address.port}`;
  }

  /** `etcd://127.0.0.1:p` for member `index` only, as the coordinator flag takes it. */
  urlOf(index: number): string {
    return `etcd://${this.members[index]!.clientUrl.replace('http://', '')}`;
  }

  /** Member id and the leader id member `index` reports (v3 gateway maintenance status). */
  async status(index: number): Promise<{ memberId: string; leader: string }> {
    const r = await fetch(`${this.members[index]!.clientUrl}/v3/maintenance/status`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(3_000),
    });
    const body = (await r.json()) as { header: { member_id: string }; leader: string };
    return { memberId: String(body.header.member_id), leader: String(body.leader) };
  }

  /** Index of the member every member agrees is the leader (bounded wait). */
  async leaderIndex(timeoutMs = 10_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      try {
        const all = await Promise.all(this.members.map((_, i) => this.status(i)));
        const leader = all[0]!.leader;
        if (leader !== '0' && all.every((s) => s.leader === leader)) {
          const i = all.findIndex((s) => s.memberId === leader);
          if (i >= 0) return i;
        }
      } catch {
        // not answering yet
      }
      await sleep(healthPollMs);
    }
    throw new Error(`no agreed etcd leader within ${timeoutMs} ms`);
  }

  /** Drops every packet between member `index` and every other member, both directions. */
  async isolate(index: number): Promise<void> {
    const m = this.members[index]!;
    for (const other of this.members) {
      if (other === m) continue;
      // prettier-ignore
      await run('ip', ['netns', 'exec', m.netns, 'iptables', '-A', 'INPUT', '-s', other.address, '-j', 'DROP']);
      // prettier-ignore
      await run('ip', ['netns', 'exec', m.netns, 'iptables', '-A', 'OUTPUT', '-d', other.address, '-j', 'DROP']);
    }
  }

  /** Removes every rule in member `index`'s namespace. */
  async heal(index: number): Promise<void> {
    const m = this.members[index]!;
    for (const chain of ['INPUT', 'OUTPUT'])
      await run('ip', ['netns', 'exec', m.netns, 'iptables', '-F', chain]).catch(() => undefined);
  }

  /** Waits until every member reports healthy (through the host-side forwarders). */
  async waitAllHealthy(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        for (let waited = 0; waited < healthWaitMsMax; waited += healthPollMs) {
          if (m.etcd?.exitCode !== null && m.etcd?.exitCode !== undefined) break;
          try {
            const r = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
            const body = (await r.json()) as { health?: string };
            if (body.health === 'true') return;
          } catch {
            // not yet
          }
          await sleep(healthPollMs);
        }
        const tail = readFileSync(m.logPath, 'utf8').split('\n').slice(-15).join('\n');
        throw new Error(`etcd member ${m.name} not healthy within ${healthWaitMsMax} ms:\n${tail}`);
      }),
    );
  }

  private static async killChild(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null)
      return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      return;
    }
    await Promise.race([exited, sleep(stopWaitMsMax)]);
  }

  /** Kills every process started here by PID, deletes the namespaces and the temp dir. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    for (const s of this.sockets) s.destroy();
    for (const m of this.members) {
      await new Promise<void>((resolve) =>
        m.server ? m.server.close(() => resolve()) : resolve(),
      );
      await NetnsEtcdCluster.killChild(m.forwarder);
      await NetnsEtcdCluster.killChild(m.etcd);
    }
    for (const name of [...this.created].reverse())
      await run('ip', ['netns', 'del', name]).catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true });
    this.stopped = true;
    process.removeListener('exit', this.onExit);
  }

  /** Synchronous last resort if the test process exits without stop(). */
  private stopSync(): void {
    if (this.stopped) return;
    for (const m of this.members)
      for (const child of [m.forwarder, m.etcd])
        if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
    for (const name of [...this.created].reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 5_000 });
      } catch {
        // gone
      }
    }
    rmSync(this.root, { recursive: true, force: true });
    this.stopped = true;
  }
}
