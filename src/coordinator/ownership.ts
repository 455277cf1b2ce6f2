/**
 * Session ownership across replicas: this replica's store lease, and the takeover scan that
 * claims every active session whose owner's lease is gone (its own earlier incarnations
 * included) and starts driving it. Runs on the injected Env's timers, one pass at a time.
 */
import type { Env, Log } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import { isTerminal, type SessionRecord } from '../session/record.ts';
import type { SessionHead, Store, Versioned } from '../store/store.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { ReplicaLease } from './replica-lease.ts';
import type { SessionRunners } from './runners.ts';

/** What ownership needs from the coordinator. */
export interface OwnershipDeps {
  env: Env;
  store: Store;
  replica: ReplicaLease;
  runners: SessionRunners;
  metrics: CoordinatorMetrics;
  log: Log;
  /** Sessions between creation (or a claim) and their runner: the scan must not drive them. */
  admitting: ReadonlySet<string>;
  scanIntervalMs: number;
}

/** The takeover scan and the revocation of this replica's earlier leases. */
export class Ownership {
  /** Leases of earlier incarnations of this replica, revoked once each (the latest few). */
  private readonly revokedOwn = new Set<string>();
  private stopScan: () => void = () => {};
  private scanning = false;
  private stopped = false;

  constructor(private readonly deps: OwnershipDeps) {}

  /** One pass now, then one every scan interval until {@link stop}. */
  async start(): Promise<void> {
    await this.scan();
    const { env, log, scanIntervalMs } = this.deps;
    const scanLoop = () => {
      if (this.stopped) return;
      this.scan().catch((e: unknown) => log.warn({ error: String(e) }, 'takeover scan failed'));
      this.stopScan = env.setTimer(scanIntervalMs, scanLoop);
    };
    this.stopScan = env.setTimer(scanIntervalMs, scanLoop);
  }

  stop(): void {
    this.stopped = true;
    this.stopScan();
  }

  /** Frees the sessions of an earlier lease of this replica for a claim now (once per lease). */
  async revokeOwn(lease: { leaseId: string; ownerId: string }): Promise<void> {
    if (this.revokedOwn.has(lease.leaseId)) return;
    // Bounded: a process that loses its lease often would otherwise grow this for its life.
    if (this.revokedOwn.size >= limits.ownLeasesRevokedMax) {
      const oldest = this.revokedOwn.values().next();
      if (!oldest.done) this.revokedOwn.delete(oldest.value);
    }
    this.revokedOwn.add(lease.leaseId);
    await this.deps.store
      .revokeLease({ leaseId: lease.leaseId, ownerId: lease.ownerId, ttlMs: 0 })
      .catch(() => this.revokedOwn.delete(lease.leaseId));
  }

  /**
   * One takeover pass: claims every active session whose owner holds no live lease (or is an
   * earlier incarnation of this replica), and drives sessions this replica owns but does not
   * run (e.g. created here by a request whose runner has not started). The store returns only
   * those candidates, from an index, without their bodies; a body is read only for a session
   * this pass acts on. One claim per foreign lease is refused at most per pass: its other
   * sessions are skipped until the next pass.
   */
  private async scan(): Promise<void> {
    const lease = this.deps.replica.current;
    if (this.scanning || this.stopped || !lease) return;
    this.scanning = true;
    const startedMs = this.deps.env.monoMs();
    try {
      const candidates = await this.deps.store.listTakeoverCandidates(
        lease,
        limits.sessionsActiveMax,
      );
      this.deps.metrics.takeoverScanCandidates.set(candidates.length);
      const liveForeign = new Set<string>();
      for (const head of candidates) {
        const verdict = await this.visit(head, liveForeign);
        if (verdict === 'stop') return;
      }
    } finally {
      this.scanning = false;
      this.lastScanMs = this.deps.env.monoMs() - startedMs;
      this.deps.metrics.takeoverScanLastMs.set(this.lastScanMs);
      this.deps.metrics.takeoverScanSeconds.observe(this.lastScanMs / 1_000);
    }
  }

  /** How long the last takeover pass took (ms), for metrics and the scale benchmark. */
  lastScanMs = 0;

  private async visit(head: SessionHead, liveForeign: Set<string>): Promise<'next' | 'stop'> {
    const { replica, runners, store, admitting, log, metrics } = this.deps;
    const lease = replica.current;
    if (!lease || this.stopped) return 'stop';
    const id = head.sessionId;
    if (runners.get(id) || admitting.has(id)) return 'next';
    if (head.owner && liveForeign.has(head.owner.leaseId)) return 'next';
    const s = await store.getSession(id);
    if (!s || isTerminal(s.value.status)) return 'next';
    const owner = s.value.owner;
    if (owner?.leaseId === lease.leaseId) {
      await this.recover(s);
      return 'next';
    }
    if (owner && liveForeign.has(owner.leaseId)) return 'next';
    if (owner?.ownerId === replica.ownerId) await this.revokeOwn(owner);
    const claim = await store.claimSession(id, s.version, lease);
    if (claim.claimed) {
      if (runners.get(id) || admitting.has(id)) return 'next';
      log.info(
        { sessionId: id, previousOwner: owner ?? null, version: claim.session.version },
        'session taken over',
      );
      metrics.takeoversTotal.inc();
      await this.recover(claim.session);
    } else if (claim.reason === 'owned' && owner) liveForeign.add(owner.leaseId);
    else if (claim.reason === 'lease-expired') return 'stop';
    return 'next';
  }

  /** Drives a session this replica now owns: the machine's `recover` decides what that means. */
  private async recover(s: Versioned<SessionRecord>): Promise<void> {
    const wallet = await this.deps.store.getWallet(s.value.walletId);
    if (!wallet || this.deps.runners.get(s.value.sessionId)) return;
    void this.deps.runners
      .launch(wallet, s, 'recover')
      .catch((e: unknown) =>
        this.deps.log.warn({ sessionId: s.value.sessionId, error: String(e) }, 'recovery failed'),
      );
  }
}
