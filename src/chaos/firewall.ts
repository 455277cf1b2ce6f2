/**
 * Packet-level faults inside the run's own namespaces: iptables DROP rules for partitions
 * (each cut `from → to` is an OUTPUT rule in `from`'s namespace), and an nft table that drops
 * a percentage of a node's packets in both directions. Nothing outside those namespaces is
 * touched; deleting the namespaces removes every rule.
 */
import type { NetnsTopology } from './netns.ts';
import type { Cut } from './partitions.ts';

const lossTable = 'quorate_chaos';

/** Applies and heals packet faults. */
export class Firewall {
  constructor(private readonly topology: NetnsTopology) {}

  private ruleArgs(cut: Cut, op: '-A' | '-D'): string[] {
    return [op, 'OUTPUT', '-d', this.topology.host(cut[1]).address, '-j', 'DROP'];
  }

  /** Drops every packet of each cut direction. */
  async cut(cuts: readonly Cut[]): Promise<void> {
    for (const c of cuts) await this.topology.exec(c[0], 'iptables', this.ruleArgs(c, '-A'));
  }

  /** Removes the rules `cut` added (each once). */
  async uncut(cuts: readonly Cut[]): Promise<void> {
    for (const c of cuts)
      await this.topology.exec(c[0], 'iptables', this.ruleArgs(c, '-D')).catch(() => undefined);
  }

  /** Drops `percent` % of the node's packets, in and out. */
  async loss(node: string, percent: number): Promise<void> {
    const p = Math.max(0, Math.min(100, Math.round(percent)));
    const rules = [
      `table inet ${lossTable} {`,
      `  chain input { type filter hook input priority 0; policy accept; numgen random mod 100 < ${p} drop; }`,
      `  chain output { type filter hook output priority 0; policy accept; numgen random mod 100 < ${p} drop; }`,
      '}',
    ].join('\n');
    await this.topology.exec(node, 'nft', [rules]);
  }

  async unloss(node: string): Promise<void> {
    await this.topology
      .exec(node, 'nft', ['delete', 'table', 'inet', lossTable])
      .catch(() => undefined);
  }

  /** Clears every rule this class can add, on every host (the final heal). */
  async healAll(): Promise<void> {
    for (const h of this.topology.hosts.values()) {
      await this.topology.exec(h.name, 'iptables', ['-F', 'OUTPUT']).catch(() => undefined);
      await this.unloss(h.name);
    }
  }
}
