/**
 * Network namespaces for one run: a "switch" namespace holding a private bridge, and one
 * namespace per host (client, coordinator, parties) joined to it by a veth pair. Nothing is
 * added to the host's own network namespace: deleting the switch namespace removes the bridge
 * and every veth. Names carry the harness's PID so a later run can sweep what a crashed one
 * left behind without touching a live run's namespaces.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chaosLimits } from '../core/limits.ts';

/** The private subnet inside the harness's own namespaces (never routed anywhere). */
export const chaosSubnet = { prefix: '10.213.77', bits: 24 } as const;

/** Every namespace the harness creates is named `${netnsPrefix}<harness pid>-<host>`. */
export const netnsPrefix = 'qchaos-';

/** Runs a command; rejects with its stderr on a non-zero exit. */
export function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: chaosLimits.commandTimeoutMs, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`${command} ${args.join(' ')}: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** Why the harness cannot run here, or undefined if it can (root and the tools present). */
export async function preflight(): Promise<string | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0)
    return 'quorate chaos needs root (it creates network namespaces, a bridge and iptables/nft rules); run it as root, e.g. with sudo, on a disposable machine';
  const missing: string[] = [];
  for (const [tool, args] of [
    ['ip', ['-V']],
    ['iptables', ['-V']],
    ['nft', ['--version']],
  ] as const) {
    await run(tool, args).catch(() => missing.push(tool));
  }
  if (missing.length > 0)
    return `quorate chaos needs ${missing.join(', ')} (Debian: apt-get install iproute2 iptables nftables)`;
  return undefined;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Namespaces currently present, by name. */
export async function listNetns(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

/**
 * Deletes namespaces a crashed harness left behind (its PID is gone), after SIGKILLing the
 * processes still inside them (processes that harness started). Returns what it deleted.
 */
export async function sweepStale(): Promise<string[]> {
  const deleted: string[] = [];
  for (const name of await listNetns()) {
    const match = new RegExp(`^${netnsPrefix}(\\d+)-`).exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    const pids = await run('ip', ['netns', 'pids', name]).catch(() => '');
    for (const pid of pids
      .split('\n')
      .map(Number)
      .filter((p) => p > 0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await run('ip', ['netns', 'del', name]).catch(() => undefined);
    deleted.push(name);
  }
  return deleted;
}

/** One host of the run. */
export interface Host {
  name: string;
  netns: string;
  address: string;
}

/** The namespaces, bridge and addresses of one run. */
export class NetnsTopology {
  readonly switchNetns: string;
  readonly hosts = new Map<string, Host>();
  private readonly created: string[] = [];
  private destroyed = false;

  constructor(
    hostNames: readonly string[],
    readonly runTag = `${process.pid}`,
  ) {
    if (hostNames.length > 200) throw new RangeError('too many hosts for one /24');
    this.switchNetns = `${netnsPrefix}${runTag}-sw`;
    hostNames.forEach((name, i) => {
      this.hosts.set(name, {
        name,
        netns: `${netnsPrefix}${runTag}-${name}`,
        address: `${chaosSubnet.prefix}.${10 + i}`,
      });
    });
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`unknown host ${name}`);
    return h;
  }

  /** Namespaces this run created (for cleanup and the tests). */
  get namespaces(): string[] {
    return [...this.created];
  }

  /** Creates the switch namespace with its bridge, then each host's namespace and veth. */
  async create(): Promise<void> {
    await this.addNetns(this.switchNetns);
    const sw = ['-n', this.switchNetns];
    await run('ip', [...sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', [...sw, 'link', 'set', 'br0', 'up']);
    let i = 0;
    for (const h of this.hosts.values()) {
      await this.addNetns(h.netns);
      const port = `v${i++}`;
      // Created inside the switch namespace, peer moved straight into the host's namespace.
      await run('ip', [
        ...sw,
        'link',
        'add',
        port,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        h.netns,
      ]);
      await run('ip', [...sw, 'link', 'set', port, 'master', 'br0']);
      await run('ip', [...sw, 'link', 'set', port, 'up']);
      const n = ['-n', h.netns];
      await run('ip', [...n, 'addr', 'add', `${h.address}/${chaosSubnet.bits}`, 'dev', 'eth0']);
      await run('ip', [...n, 'link', 'set', 'eth0', 'up']);
      await run('ip', [...n, 'link', 'set', 'lo', 'up']);
    }
  }

  private async addNetns(name: string): Promise<void> {
    await run('ip', ['netns', 'add', name]);
    this.created.push(name);
  }

  /** Runs a command inside a host's namespace. */
  exec(hostName: string, command: string, args: readonly string[]): Promise<string> {
    return run('ip', ['netns', 'exec', this.host(hostName).netns, command, ...args]);
  }

  /** Deletes every namespace this run created (host namespaces first, then the switch). */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    for (const name of [...this.created].reverse())
      await run('ip', ['netns', 'del', name]).catch(() => undefined);
    this.destroyed = true;
  }

  /** Synchronous last resort for `process.on('exit')`. */
  destroySync(): void {
    if (this.destroyed) return;
    for (const name of [...this.created].reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 5_000 });
      } catch {
        // Already gone.
      }
    }
    this.destroyed = true;
  }
}
