/**
 * Key lifecycle in a simulated run (docs/simulator.md, "Key lifecycle"): refreshes and reshares
 * of the run's wallet timed around its fault, through the real coordinator and parties. A
 * reshare replaces one of the wallet's parties by the run's spare party (same t and n), or puts
 * the one left out back, so the epochs change hands. While the run goes on, the wallet's record
 * and every party's sealed shares are sampled for the checker's I7–I9 (check-epochs.ts).
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { LifecycleRequest } from '../coordinator/lifecycle.ts';
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { SeededRandom } from '../core/seeded-random.ts';
import type { LifecycleEventValue } from '../checker/history.ts';
import type {
  EpochObservation,
  LifecycleFacts,
  LifecycleOperationFact,
  PartyEpochView,
} from '../checker/check-epochs.ts';
import { KeyShares } from '../party/key-shares.ts';
import { signDetached } from '../transport/identity.ts';
import { reshareAuthorization, reshareAuthorizationDomain } from '../transport/wire.ts';
import type { OperationRecord, WalletRecord } from '../store/store.ts';
import type { SimCluster } from './cluster.ts';
import type { HistoryRecorder } from './history-recorder.ts';
import type { Scheduler } from './scheduler.ts';

/** One planned operation. */
export interface LifecyclePlan {
  atMs: number;
  kind: 'refresh' | 'replace';
}

const observeEveryMs = 100;

/**
 * One or two operations: the first within 300 ms before the fault begins and the heal (so
 * crashes and partitions land in every phase), a second one, half the time, after the heal.
 */
export function planLifecycle(
  rng: SeededRandom,
  faultStartMs: number,
  healMs: number,
): LifecyclePlan[] {
  const kind = (): LifecyclePlan['kind'] => (rng.chance(0.5) ? 'refresh' : 'replace');
  const first = { atMs: faultStartMs - rng.int(0, 300) + rng.int(0, healMs), kind: kind() };
  const plans = [first];
  if (rng.chance(0.5))
    plans.push({ atMs: faultStartMs + healMs + rng.int(500, 2_500), kind: kind() });
  return plans;
}

/** Drives the planned operations and samples the wallet's epochs. */
export class LifecycleDriver {
  private readonly observations: EpochObservation[] = [];
  /** The last record read (the run's end condition reads it synchronously). */
  private lastWallet: WalletRecord | undefined;
  private pending = 0;
  private readonly oldParties = new Map<string, string[]>();
  /**
   * When each operation started and ended on the harness clock (a node's clock may be skewed):
   * its start when the coordinator answered, its end at the first sample that saw it ended.
   */
  private readonly times = new Map<string, { startedMs: number; endedMs?: number }>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly cluster: SimCluster,
    private readonly history: HistoryRecorder,
    private readonly walletId: string,
    private readonly spare: string,
    private readonly rng: SeededRandom,
    private readonly publicKey: string,
  ) {}

  /**
   * True once every planned operation was started (or given up on), every one started was
   * seen ended by a sample, and the last sample's operation has told all its parties.
   */
  get idle(): boolean {
    const op = this.lastWallet?.operation;
    const ends = [...this.times.values()].map((t) => t.endedMs);
    const allEnded = ends.every((t) => t !== undefined);
    // Watched past the cleanup bound of the last end, so I9 judges every operation.
    const watchedMs = Math.max(0, ...ends.map((t) => t ?? 0)) + limits.abortCleanupMsMax + 500;
    return (
      this.pending === 0 &&
      allEnded &&
      this.scheduler.nowMs >= watchedMs &&
      (op === undefined || (op.status !== 'running' && (op.retirePending?.length ?? 0) === 0))
    );
  }

  submit(plan: LifecyclePlan): void {
    this.pending += 1;
    this.scheduler.schedule(plan.atMs - this.scheduler.nowMs, () => this.tryStart(plan, 0));
  }

  /**
   * Asks for the operation; refused (no live quorum, no coordinator, one still running), it
   * asks again `simLifecycleRetryMs` later, at most `simLifecycleTriesMax` times, as an
   * operator would.
   */
  private tryStart(plan: LifecyclePlan, tryNo: number): void {
    void this.start(plan).then((started) => {
      if (started || tryNo + 1 >= limits.simLifecycleTriesMax) this.pending -= 1;
      else
        this.scheduler.schedule(limits.simLifecycleRetryMs, () => this.tryStart(plan, tryNo + 1));
    });
  }

  /** Starts the operation on a running replica; false if it was refused or none runs. */
  private async start(plan: LifecyclePlan): Promise<boolean> {
    const coordinator = this.cluster.coordinator;
    const wallet = await this.cluster.store.getWallet(this.walletId);
    assert(wallet !== undefined, 'the run wallet exists');
    const request: LifecycleRequest =
      plan.kind === 'refresh' ? { kind: 'refresh' } : this.replace(wallet);
    const event = {
      kind: plan.kind,
      ...(request.parties === undefined ? {} : { parties: request.parties }),
    };
    if (coordinator === undefined) {
      this.record({ ...event, outcome: 'no coordinator running' });
      return false;
    }
    try {
      const op = await coordinator.startOperation(this.walletId, {
        ...request,
        deadlineMs: limits.simLifecycleDeadlineMs,
      });
      this.oldParties.set(op.operationId, wallet.parties);
      this.times.set(op.operationId, { startedMs: this.scheduler.nowMs });
      this.record({ ...event, operationId: op.operationId, outcome: 'started' });
      return true;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.record({ ...event, outcome: typeof code === 'string' ? code : String(error) });
      return false;
    }
  }

  /** A reshare that swaps the spare for a party of the wallet, or back, as the operator signs it. */
  private replace(wallet: WalletRecord): LifecycleRequest {
    const { parties, threshold } = wallet;
    const out = this.rng.pick(parties.filter((p) => p !== this.spare));
    const all = [...this.cluster.parties.keys()];
    const back = all.find((p) => p !== this.spare && !parties.includes(p));
    const next = parties.includes(this.spare)
      ? parties.map((p) => (p === this.spare ? (back ?? p) : p))
      : parties.map((p) => (p === out ? this.spare : p));
    const operator = this.cluster.operator;
    assert(operator !== undefined, 'a lifecycle run is anchored');
    const statement = reshareAuthorization({
      walletId: wallet.walletId,
      fromEpoch: wallet.epoch ?? 0,
      threshold,
      parties: next,
    });
    const signature = signDetached(reshareAuthorizationDomain, statement, operator.signSecret);
    return { kind: 'reshare', threshold, parties: next, authorization: bytesToHex(signature) };
  }

  private record(value: LifecycleEventValue): void {
    this.history.add({ process: 'lifecycle', type: 'info', f: 'lifecycle', value });
  }

  /** Samples the record and every party's shares every `observeEveryMs`. */
  startObserver(): void {
    const tick = () => {
      void this.observe().then(() => this.scheduler.schedule(observeEveryMs, tick));
    };
    this.scheduler.schedule(0, tick);
  }

  private async observe(): Promise<void> {
    const wallet = await this.cluster.store.getWallet(this.walletId);
    if (wallet === undefined) return;
    this.lastWallet = wallet;
    for (const op of [wallet.operation, ...(wallet.pastOperations ?? [])]) {
      const times = op && this.times.get(op.operationId);
      if (times && times.endedMs === undefined && op.status !== 'running')
        times.endedMs = this.scheduler.nowMs;
    }
    const parties: PartyEpochView[] = [];
    for (const party of this.cluster.parties.values()) {
      // What a live process holds on its disk, read afresh (a crashed one's journal is closed).
      if (!party.node.up) {
        parties.push({ partyId: party.partyId, up: false });
        continue;
      }
      const shares = new KeyShares(party.journal, party.sealer);
      parties.push({ partyId: party.partyId, up: true, ...this.sharesOf(shares) });
    }
    assert(this.observations.length < limits.simHistoryEventsMax, 'observations within bound');
    this.observations.push({
      timeMs: this.scheduler.nowMs,
      storeEpoch: wallet.epoch ?? 0,
      publicKey: wallet.publicKey,
      parties,
    });
  }

  /** A party's active and staged share of the wallet, as its journal holds them. */
  private sharesOf(shares: KeyShares): Pick<PartyEpochView, 'active' | 'staged'> {
    const active = shares.has(this.walletId) ? shares.get(this.walletId) : undefined;
    const staged = shares.staged(this.walletId);
    return {
      ...(active ? { active: { epoch: active.epoch ?? 0, publicKey: active.publicKey } } : {}),
      ...(staged
        ? {
            staged: {
              epoch: staged.share.epoch ?? 0,
              operationId: staged.operationId,
              publicKey: staged.share.publicKey,
            },
          }
        : {}),
    };
  }

  /** The facts the checker reads, from the observations and the record at the end. */
  async facts(): Promise<LifecycleFacts> {
    await this.observe();
    const wallet = this.lastWallet;
    const ops = wallet ? [wallet.operation, ...(wallet.pastOperations ?? [])] : [];
    return {
      walletId: this.walletId,
      publicKey: this.publicKey,
      observations: this.observations,
      operations: ops.flatMap((op) => (op ? [this.fact(op)] : [])),
    };
  }

  private fact(op: OperationRecord): LifecycleOperationFact {
    const times = this.times.get(op.operationId) ?? { startedMs: 0 };
    return {
      operationId: op.operationId,
      status: op.status,
      fromEpoch: op.fromEpoch,
      toEpoch: op.toEpoch,
      startedMs: times.startedMs,
      ...(times.endedMs === undefined ? {} : { endedMs: times.endedMs }),
      parties: op.parties,
      threshold: op.threshold,
      oldParties: this.oldParties.get(op.operationId) ?? [],
      oldThreshold: op.dealers.length,
    };
  }
}
