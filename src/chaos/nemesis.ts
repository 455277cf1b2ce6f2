/**
 * Carries out a schedule's fault windows against the real cluster and records each start and
 * stop (after it took effect) as a nemesis event in the history.
 */
import type { NemesisValue } from '../checker/history.ts';
import { sleep, type Env } from '../core/env.ts';
import { faultLimits } from '../core/limits.ts';
import type { Firewall } from './firewall.ts';
import type { ChaosProcesses } from './processes.ts';
import { coordinatorNode, isolateOne, type Cut } from './partitions.ts';
import type { FaultAction, FaultWindow } from './schedule.ts';

/** Receives nemesis events (the harness stamps them with its clock). */
export type NemesisSink = (f: 'start' | 'stop', value: NemesisValue) => void;

/** Hooks the observer uses to skip a party whose journal is stale (killed, not yet reopened). */
export interface NemesisHooks {
  beforeKill(node: string): void;
}

/** A control-file change has taken effect once the process has polled it: one period and slack. */
const faultSettleMs = faultLimits.controlFilePollMs + 50;

/** Applies and heals fault windows. */
export class Nemesis {
  private readonly flapCuts = new Map<string, Cut[]>();
  /** Windows started and not yet stopped (for the final heal). */
  private readonly active = new Map<string, FaultWindow>();
  private current: FaultWindow | undefined;

  constructor(
    private readonly env: Env,
    private readonly processes: ChaosProcesses,
    private readonly firewall: Firewall,
    private readonly parties: readonly string[],
    private readonly sink: NemesisSink,
    private readonly hooks: NemesisHooks,
  ) {}

  /** The window in effect now, for progress lines. */
  get currentWindow(): FaultWindow | undefined {
    return this.current;
  }

  private value(w: FaultWindow, stopping: boolean): NemesisValue {
    const skew: Record<string, number> = {};
    for (const a of w.actions) if (a.kind === 'clock') skew[a.node] = stopping ? 0 : a.offsetMs;
    return {
      id: w.id,
      kind: w.kind,
      impaired: w.impaired,
      ...(w.coordinatorDown ? { coordinatorDown: true } : {}),
      ...(Object.keys(skew).length > 0 ? { skewMs: skew } : {}),
      detectable: w.detectable,
      description: w.description,
    };
  }

  async start(w: FaultWindow): Promise<void> {
    this.active.set(w.id, w);
    this.current = w;
    for (const a of w.actions) await this.apply(a);
    this.sink('start', this.value(w, false));
  }

  async stop(w: FaultWindow): Promise<void> {
    for (const a of w.actions) await this.heal(a);
    this.active.delete(w.id);
    if (this.current?.id === w.id) this.current = undefined;
    this.sink('stop', this.value(w, true));
  }

  /** Flips a flapping link (cut ↔ connected). */
  async toggleFlap(party: string): Promise<void> {
    const cuts = this.flapCuts.get(party);
    if (cuts) {
      this.flapCuts.delete(party);
      await this.firewall.uncut(cuts);
    } else {
      const next = isolateOne(party, [coordinatorNode, ...this.parties]);
      this.flapCuts.set(party, next);
      await this.firewall.cut(next);
    }
  }

  /** Runs one window to the end, flaps included; `sleepUntil` is on the harness clock. */
  async runWindow(w: FaultWindow, sleepUntil: (atMs: number) => Promise<boolean>): Promise<void> {
    await this.start(w);
    for (const a of w.actions) {
      if (a.kind !== 'flap') continue;
      for (const t of a.toggleAtMs) {
        if (!(await sleepUntil(w.startMs + t))) break;
        await this.toggleFlap(a.party);
      }
    }
    await sleepUntil(w.endMs);
    await this.stop(w);
  }

  /** Heals whatever is still active (end of run or abort). */
  async healAll(): Promise<void> {
    for (const w of [...this.active.values()]) await this.stop(w);
    await this.firewall.healAll();
  }

  private async apply(a: FaultAction): Promise<void> {
    switch (a.kind) {
      case 'partition':
        return this.firewall.cut(a.cuts);
      case 'flap':
        return this.toggleFlap(a.party);
      case 'loss':
        return this.firewall.loss(a.node, a.percent);
      case 'latency':
        this.processes.setFault(a.node, { latencyMs: a.latencyMs, jitterMs: a.jitterMs });
        await sleep(this.env, faultSettleMs);
        return;
      case 'clock':
        this.processes.setFault(a.node, { clockOffsetMs: a.offsetMs });
        await sleep(this.env, faultSettleMs);
        return;
      case 'kill':
        this.hooks.beforeKill(a.node);
        return this.processes.kill(a.node);
      case 'pause':
        this.processes.pause(a.node);
        return;
    }
  }

  private async heal(a: FaultAction): Promise<void> {
    switch (a.kind) {
      case 'partition':
        return this.firewall.uncut(a.cuts);
      case 'flap': {
        const cuts = this.flapCuts.get(a.party);
        this.flapCuts.delete(a.party);
        if (cuts) await this.firewall.uncut(cuts);
        return;
      }
      case 'loss':
        return this.firewall.unloss(a.node);
      case 'latency':
      case 'clock':
        this.processes.setFault(a.node, {});
        await sleep(this.env, faultSettleMs);
        return;
      case 'kill':
        if (a.node === coordinatorNode) await this.processes.startCoordinator();
        else this.processes.startParty(a.node);
        return;
      case 'pause':
        this.processes.resume(a.node);
        return;
    }
  }
}
