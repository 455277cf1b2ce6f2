/**
 * The store lease of one coordinator replica: acquired at start, renewed every ttl/3, and
 * declared lost — so the replica stops driving sessions before anyone can take them over —
 * once `ttlMs` has passed on this process's monotonic clock since it SENT the last renewal
 * that succeeded (the store counts the ttl from when it received that renewal, which is
 * later, so the replica always gives up first; docs/store.md "The owner must stop on its
 * own first"). Retries are bounded by that rule: at most ttl / renewInterval = 3 renewals are
 * tried per ttl, then the lease is gone for good and a new one is acquired (same backoff).
 */
import type { CancelTimer, Env } from '../core/env.ts';
import { assert } from '../core/assert.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Lease, Store } from '../store/store.ts';

/** Why a lease was lost. */
export type LeaseLossReason = 'renewal-timeout' | 'lease-expired';

/** Callbacks of {@link ReplicaLease}. */
export interface ReplicaLeaseEvents {
  /** The lease is gone: stop driving every session now and fail in-flight requests. */
  onLost(lost: Lease, reason: LeaseLossReason): void;
  /** A new lease was acquired after a loss (the replica may take sessions again). */
  onAcquired(lease: Lease, previous: Lease | undefined): void;
}

/** Holds and renews one replica's store lease. */
export class ReplicaLease {
  private held: Lease | undefined;
  private lastLost: Lease | undefined;
  /** Monotonic time at which the last successful renewal (or the grant) was sent. */
  private goodSentMono = 0;
  /** Bumped on every loss, so a late answer to an old renewal is ignored. */
  private generation = 0;
  private inFlight = false;
  private cancelTick: CancelTimer = () => {};
  private cancelWatchdog: CancelTimer = () => {};
  private stopped = false;
  private readonly renewIntervalMs: number;
  private readonly log;

  constructor(
    private readonly env: Env,
    private readonly store: Store,
    readonly ownerId: string,
    readonly ttlMs: number,
    private readonly events: ReplicaLeaseEvents,
  ) {
    assert(
      ttlMs >= limits.storeLeaseTtlMsMin && ttlMs <= limits.storeLeaseTtlMsMax,
      'replica lease ttl within store limits',
    );
    this.renewIntervalMs = Math.floor(ttlMs / 3);
    this.log = env.log.child({ component: 'replica-lease', ownerId });
  }

  /** The live lease, or undefined while none is held (starting, or lost and not yet replaced). */
  get current(): Lease | undefined {
    return this.held;
  }

  /**
   * Acquires the first lease (bounded: `limits.coordinatorLeaseAcquireAttemptsMax` tries at
   * the renew interval) and starts renewing. Throws `QUORATE_E_STORE_UNAVAILABLE` if the
   * store grants none.
   */
  async start(): Promise<Lease> {
    let lastError: unknown;
    for (let i = 0; i < limits.coordinatorLeaseAcquireAttemptsMax; i++) {
      const sentMono = this.env.monoMs();
      try {
        const lease = await this.store.acquireLease(this.ownerId, this.ttlMs);
        this.take(lease, sentMono);
        this.schedule();
        return lease;
      } catch (error) {
        lastError = error;
        await new Promise<void>((r) => this.env.setTimer(this.renewIntervalMs, r));
      }
    }
    throw new QuorateError('QUORATE_E_STORE_UNAVAILABLE', 'cannot acquire a store lease', {
      ownerId: this.ownerId,
      lastError: String(lastError),
    });
  }

  /** Stops renewing and revokes the lease (best effort), so other replicas take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTick();
    this.cancelWatchdog();
    const lease = this.held;
    this.held = undefined;
    if (lease) await this.store.revokeLease(lease).catch(() => undefined);
  }

  private take(lease: Lease, sentMono: number): void {
    const previous = this.lastLost;
    this.held = lease;
    this.renewed(lease, sentMono);
    this.log.info({ leaseId: lease.leaseId, ttlMs: lease.ttlMs }, 'store lease acquired');
    if (previous) this.events.onAcquired(lease, previous);
  }

  /**
   * Records a renewal that succeeded and re-arms the watchdog for exactly ttl after it was
   * sent: the replica gives up at that instant, not at the next tick (which could be up to
   * ttl/3 later, after the store may already have let another replica claim).
   */
  private renewed(lease: Lease, sentMono: number): void {
    this.goodSentMono = sentMono;
    this.cancelWatchdog();
    const dueMs = Math.max(0, sentMono + this.ttlMs - this.env.monoMs());
    this.cancelWatchdog = this.env.setTimer(dueMs, () => {
      if (!this.stopped && this.held === lease && this.goodSentMono === sentMono)
        this.lose(lease, 'renewal-timeout');
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancelTick = this.env.setTimer(this.renewIntervalMs, () => this.tick());
  }

  private tick(): void {
    if (this.stopped) return;
    this.schedule();
    const held = this.held;
    if (held && this.env.monoMs() - this.goodSentMono >= this.ttlMs) {
      this.lose(held, 'renewal-timeout');
      return;
    }
    if (this.inFlight) return;
    if (held) this.renew(held);
    else this.reacquire();
  }

  private renew(lease: Lease): void {
    const generation = this.generation;
    const sentMono = this.env.monoMs();
    this.inFlight = true;
    this.store.renewLease(lease).then(
      (renewed) => {
        this.inFlight = false;
        if (generation !== this.generation || this.stopped) return;
        if (renewed) this.renewed(lease, sentMono);
        else this.lose(lease, 'lease-expired');
      },
      (error: unknown) => {
        // Retried at the next tick; the watchdog in tick() bounds the retries by the ttl.
        this.inFlight = false;
        this.log.warn({ error: String(error) }, 'lease renewal failed');
      },
    );
  }

  private reacquire(): void {
    const sentMono = this.env.monoMs();
    const generation = this.generation;
    this.inFlight = true;
    this.store.acquireLease(this.ownerId, this.ttlMs).then(
      (lease) => {
        this.inFlight = false;
        if (this.stopped || generation !== this.generation) {
          void this.store.revokeLease(lease).catch(() => undefined);
          return;
        }
        this.take(lease, sentMono);
      },
      (error: unknown) => {
        this.inFlight = false;
        this.log.warn({ error: String(error) }, 'lease acquisition failed');
      },
    );
  }

  private lose(lease: Lease, reason: LeaseLossReason): void {
    this.cancelWatchdog();
    this.generation += 1;
    this.held = undefined;
    this.lastLost = lease;
    this.inFlight = false;
    this.log.error(
      { leaseId: lease.leaseId, reason },
      'store lease lost: stopped driving sessions',
    );
    this.events.onLost(lease, reason);
  }
}
