/**
 * Key lifecycle on the coordinator (docs/key-lifecycle.md): refresh and reshare of a wallet
 * without moving funds. An operation lives in its wallet's record, so starting it, flipping
 * the active epoch and ending it are compare-and-sets on one key: exactly one of a flip and an
 * abort ever wins. Phases:
 *
 * 1. staging: a threshold of the current epoch deals to the new parties (a keygen-start with a
 *    reshare block); every participant confirms one signed transcript and the receivers stage
 *    their new share, sealed at rest;
 * 2. testing: a threshold of the new parties signs a fixed test message with the staged shares;
 * 3. the flip: new sign requests wait, those in flight end under the old epoch, then the wallet
 *    record moves to the new epoch (threshold, parties, public package) in one CAS;
 * 4. retiring: every party is told (`epoch` commit): receivers promote, retired holders erase
 *    against the confirmations; a party that is away is told again when it is back.
 *
 * Any failure before the flip (or the deadline) rolls back: the record says `failed` and every
 * receiver erases its staged share. A coordinator that restarts rolls back what had not flipped
 * and finishes retiring what had.
 */
import { assert, isAssertionFailure } from '../core/assert.ts';
import type { Env, Log } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { limits } from '../core/limits.ts';
import type { KeygenResult, Scheme, SignatureEngine } from '../protocol/engine.ts';
import { reshareParticipants } from '../protocol/reshare.ts';
import { rankEligible } from '../session/quorum.ts';
import type { OperationRecord, Store, WalletRecord } from '../store/store.ts';
import { reshareRunId, type Envelope } from '../transport/wire.ts';
import { EpochTeller } from './epoch-teller.ts';
import { EpochTestRunner } from './epoch-test-runner.ts';
import { KeygenRunner } from './keygen-runner.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { PartyRegistry } from './party-registry.ts';
import { checkShape, type Wallets } from './wallets.ts';

/** A lifecycle request after validation at the boundary. */
export interface LifecycleRequest {
  kind: 'refresh' | 'reshare';
  /** reshare: the new threshold and parties (refresh keeps the wallet's). */
  threshold?: number;
  parties?: string[];
  /** How long the operation may take before it rolls back (ms, bounded). */
  deadlineMs?: number;
  /** reshare: the operator's signature over it (wire.ts reshareAuthorization); dealers check it. */
  authorization?: string;
}

/** What the lifecycle needs from the coordinator. */
export interface LifecycleDeps {
  env: Env;
  store: Store;
  registry: PartyRegistry;
  log: Log;
  engines: Record<Scheme, SignatureEngine>;
  wallets: Wallets;
  /** Sessions of a wallet being signed on this replica now. */
  signingFor(walletId: string): number;
  /** This replica's owner id: the operations it starts carry it. */
  ownerId: string;
  metrics: CoordinatorMetrics;
}

/** An operation being driven here, and where its envelopes go. */
interface Live {
  op: OperationRecord;
}

/** A run the parties answer (the reshare's, the test signature's), by its session id. */
interface Route {
  onEnvelope(partyId: string, e: Envelope): void;
  onDisconnect(partyId: string): void;
}

const metaKey = (operationId: string) => `operation/${operationId}`;

/** Refreshes and reshares wallets. */
export class Lifecycle {
  private readonly live = new Map<string, Live>();
  /** The runs in flight, by session id (at most two per live operation). */
  private readonly routes = new Map<string, Route>();
  /** Wallets whose flip is under way: their new sign requests wait for it. */
  private readonly gates = new Map<string, Promise<void>>();
  /** Tells the parties how operations ended. */
  private readonly teller: EpochTeller;
  private stopped = false;
  private cancelSweep: () => void = () => {};
  /** Scheduled refreshes that could not start or rolled back: when to try again, by wallet. */
  private readonly refreshBackoff = new Map<string, { atMs: number; delayMs: number }>();
  /** Wallets holding a refresh-age metric series (at most refreshScheduleSeriesMax). */
  private readonly refreshAgeSeries = new Set<string>();

  constructor(private readonly deps: LifecycleDeps) {
    this.teller = new EpochTeller({
      env: deps.env,
      log: deps.log,
      registry: deps.registry,
      writeOp: (walletId, operationId, change) => this.writeOp(walletId, operationId, change),
      readWallet: (walletId) => deps.store.getWallet(walletId),
    });
  }

  /** Starts an operation; answers at once with its record (`202 {operationId}`). */
  async start(walletId: string, request: LifecycleRequest): Promise<OperationRecord> {
    const wallet = await this.deps.wallets.get(walletId);
    if (wallet.scheme === 'ecdsa')
      throw new QuorateError(
        'QUORATE_E_UNSUPPORTED_OPERATION',
        'the ecdsa engine (DKLs23) has no refresh or reshare: see docs/key-lifecycle.md',
        { walletId, scheme: wallet.scheme },
      );
    if (wallet.operation?.status === 'running')
      throw new QuorateError('QUORATE_E_OPERATION_IN_PROGRESS', 'an operation is running', {
        operationId: wallet.operation.operationId,
      });
    if (this.live.size >= limits.lifecyclesActiveMax)
      throw new QuorateError('QUORATE_E_OVERLOADED', 'too many lifecycle operations in flight');
    const op = await this.plan(wallet, request);
    const next = withOperation(wallet, op);
    if (!(await this.deps.store.replaceWallet(next, wallet.revision ?? 0)))
      throw new QuorateError('QUORATE_E_OPERATION_IN_PROGRESS', 'the wallet changed meanwhile', {
        walletId,
      });
    await this.deps.store.putMetaIfAbsent(metaKey(op.operationId), walletId);
    this.deps.log.info(
      { walletId, operationId: op.operationId, kind: op.kind, dealers: op.dealers },
      'lifecycle operation started',
    );
    const live: Live = { op };
    this.live.set(op.operationId, live);
    void this.run(next, live).finally(() => this.live.delete(op.operationId));
    return op;
  }

  /** The operation's record and its wallet, or `QUORATE_E_OPERATION_NOT_FOUND`. */
  async get(operationId: string): Promise<{ walletId: string; op: OperationRecord }> {
    const notFound = new QuorateError('QUORATE_E_OPERATION_NOT_FOUND', 'no such operation', {
      operationId,
    });
    const walletId = await this.deps.store.getMeta(metaKey(operationId));
    if (walletId === undefined) throw notFound;
    const wallet = await this.deps.store.getWallet(walletId);
    const all = [wallet?.operation, ...(wallet?.pastOperations ?? [])];
    const op = all.find((o) => o?.operationId === operationId);
    if (op === undefined) throw notFound;
    return { walletId, op };
  }

  /** Waits while the wallet's flip is under way (new sign requests then see the new epoch). */
  async gate(walletId: string): Promise<void> {
    await this.gates.get(walletId);
  }

  /** The new epoch's shape, the dealers and the deadline; refuses what cannot run. */
  private async plan(wallet: WalletRecord, request: LifecycleRequest): Promise<OperationRecord> {
    const { env } = this.deps;
    if (request.kind === 'reshare' && request.authorization === undefined)
      throw new QuorateError(
        'QUORATE_E_BAD_REQUEST',
        "a reshare needs the operator key's authorization (quorate wallet reshare signs it)",
        { field: 'authorization' },
      );
    const threshold = request.kind === 'refresh' ? wallet.threshold : (request.threshold ?? 0);
    const parties = request.kind === 'refresh' ? wallet.parties : (request.parties ?? []);
    checkShape(wallet.scheme, threshold, parties);
    if (wallet.tier !== undefined) this.deps.wallets.checkTier(wallet.tier, threshold, parties);
    const dealers = this.chooseDealers(wallet);
    const participants = reshareParticipants(dealers, parties);
    await this.deps.wallets.enrolledBoxKeys(participants);
    const down = this.deps.registry.candidates(parties).filter((c) => c.state !== 'alive');
    if (down.length > 0)
      throw new QuorateError(
        'QUORATE_E_QUORUM_UNAVAILABLE',
        'every party of the new epoch must be alive to receive its share',
        {
          down: down.map((c) => ({
            partyId: c.partyId,
            state: c.state,
            sinceMs: c.sinceMs ?? null,
          })),
        },
      );
    const fromEpoch = wallet.epoch ?? 0;
    const deadlineMs = Math.min(
      request.deadlineMs ?? limits.lifecycleDeadlineMsDefault,
      limits.lifecycleDeadlineMsMax,
    );
    const now = env.nowMs();
    return {
      operationId: newId(env, 'o'),
      ownerId: this.deps.ownerId,
      kind: request.kind,
      publicKey: wallet.publicKey,
      status: 'running',
      phase: 'staging',
      fromEpoch,
      toEpoch: fromEpoch + 1,
      threshold,
      parties: [...parties],
      dealers,
      startedMs: now,
      deadlineMs: now + deadlineMs,
      ...(request.authorization === undefined ? {} : { authorization: request.authorization }),
      progress: Object.fromEntries(participants.map((p) => [p, 'asked'])),
    };
  }

  /** A threshold of the current epoch's parties, alive, best first; a lost one is never asked. */
  private chooseDealers(wallet: WalletRecord): string[] {
    const candidates = this.deps.registry.candidates(wallet.parties);
    const alive = rankEligible(wallet.parties, candidates, []).map((c) => c.partyId);
    if (alive.length < wallet.threshold)
      throw new QuorateError(
        'QUORATE_E_QUORUM_UNAVAILABLE',
        `a refresh or reshare needs ${wallet.threshold} live parties of the current epoch`,
        {
          down: candidates
            .filter((c) => c.state !== 'alive')
            .map((c) => ({ partyId: c.partyId, state: c.state, sinceMs: c.sinceMs ?? null })),
        },
      );
    return alive.slice(0, wallet.threshold);
  }

  /** Stages, tests and flips; any failure before the flip rolls back. */
  private async run(wallet: WalletRecord, live: Live): Promise<void> {
    try {
      const result = await this.stage(wallet, live);
      await this.test(wallet, live, result);
      await this.flip(wallet.walletId, live, result);
    } catch (error) {
      if (isAssertionFailure(error)) throw error;
      await this.rollBack(wallet.walletId, live.op, error);
    }
  }

  /** Phase 1: the reshare run (dealing, checks, confirmations, staged shares). */
  private async stage(wallet: WalletRecord, live: Live): Promise<KeygenResult> {
    const { op } = live;
    const { env, registry } = this.deps;
    const runId = reshareRunId(op.operationId, op.toEpoch);
    const participants = reshareParticipants(op.dealers, op.parties);
    const boxKeys = await this.deps.wallets.enrolledBoxKeys(participants);
    const args = {
      keygenId: runId,
      walletId: wallet.walletId,
      scheme: wallet.scheme,
      threshold: op.threshold,
      parties: op.parties,
      boxKeys,
      ...(wallet.tier === undefined ? {} : { tier: wallet.tier }),
      reshare: {
        operationId: op.operationId,
        kind: op.kind,
        fromEpoch: op.fromEpoch,
        dealers: op.dealers,
        oldThreshold: wallet.threshold,
        oldPublicPackage: wallet.publicPackage,
        ...(op.authorization === undefined ? {} : { authorization: op.authorization }),
      },
    };
    const runner = new KeygenRunner(
      env,
      registry,
      this.deps.engines[wallet.scheme],
      args,
      () => {},
      Math.max(0, op.deadlineMs - env.nowMs()),
    );
    const result = await this.routed(runId, runner, () => runner.start(), runner.result);
    if (result.publicKey !== wallet.publicKey)
      throw new QuorateError('QUORATE_E_LIFECYCLE_FAILED', 'the group key would change', {
        phase: 'staging',
      });
    for (const p of participants) op.progress[p] = op.parties.includes(p) ? 'staged' : 'dealt';
    return result;
  }

  /** Phase 2: a threshold of the new parties signs the test message with the staged shares. */
  private async test(wallet: WalletRecord, live: Live, result: KeygenResult): Promise<void> {
    const { op } = live;
    const { env, registry } = this.deps;
    await this.writeOp(wallet.walletId, op.operationId, (o) => ({
      ...o,
      phase: 'testing',
      progress: op.progress,
    }));
    const ranked = rankEligible(op.parties, registry.candidates(op.parties), []).map(
      (c) => c.partyId,
    );
    const signers = ranked.slice(0, op.threshold);
    if (signers.length < op.threshold)
      throw new QuorateError('QUORATE_E_LIFECYCLE_FAILED', 'too few new parties alive to test', {
        phase: 'testing',
      });
    const runner = new EpochTestRunner(env, registry, this.deps.engines[wallet.scheme], {
      runId: `${op.operationId}.test`,
      walletId: wallet.walletId,
      operationId: op.operationId,
      epoch: op.toEpoch,
      signers,
      publicPackage: result.publicPackage,
      publicKey: wallet.publicKey,
      deadlineMs: Math.min(limits.lifecycleTestSignMsMax, Math.max(0, op.deadlineMs - env.nowMs())),
    });
    await this.routed(runner.args.runId, runner, () => runner.start(), runner.result);
    for (const p of signers) op.progress[p] = 'test-signed';
  }

  /**
   * Phase 3: new sign requests wait; the ones in flight here end under the old epoch; then
   * one CAS moves the wallet to the new epoch, if the operation is still running and inside
   * its deadline (past it, the operation rolls back instead: it ends by its deadline).
   */
  private async flip(walletId: string, live: Live, result: KeygenResult): Promise<void> {
    const { op } = live;
    let release: () => void = () => {};
    this.gates.set(walletId, new Promise<void>((resolve) => (release = resolve)));
    try {
      await this.drain(walletId, op.deadlineMs);
      const { env } = this.deps;
      const flipped = await this.writeWallet(walletId, (w) => {
        const current = w.operation;
        if (current?.operationId !== op.operationId || current.status !== 'running')
          throw new QuorateError('QUORATE_E_LIFECYCLE_FAILED', 'the operation ended meanwhile', {
            phase: 'flip',
          });
        if (env.nowMs() > op.deadlineMs)
          throw new QuorateError('QUORATE_E_LIFECYCLE_FAILED', 'deadline reached before the flip', {
            phase: 'flip',
          });
        const retired = w.parties.filter((p) => !op.parties.includes(p));
        const ended: OperationRecord = {
          ...current,
          status: 'done',
          phase: 'retiring',
          endedMs: env.nowMs(),
          progress: op.progress,
          retirePending: reshareParticipants(op.parties, retired),
        };
        return {
          ...w,
          epoch: op.toEpoch,
          threshold: op.threshold,
          parties: op.parties,
          publicPackage: result.publicPackage,
          operation: ended,
          renewedMs: env.nowMs(),
        };
      });
      this.deps.log.info({ walletId, epoch: op.toEpoch }, 'wallet flipped to its new key epoch');
      this.deps.metrics.lifecycleOperationsTotal.inc({ kind: op.kind, outcome: 'done' });
      // Told before the gate opens: a party gets the commit before any request of the new epoch.
      assert(flipped.operation !== undefined, 'the flip recorded its operation');
      this.teller.tell(walletId, flipped.operation, 'commit');
    } finally {
      this.gates.delete(walletId);
      release();
    }
  }

  /** Waits (bounded by the deadline) until no session of the wallet is being signed here. */
  private async drain(walletId: string, untilMs: number): Promise<void> {
    const { env } = this.deps;
    for (let i = 0; i < limits.lifecycleDeadlineMsMax / 50 && env.nowMs() < untilMs; i++) {
      if (this.deps.signingFor(walletId) === 0) return;
      await new Promise<void>((resolve) => env.setTimer(50, resolve));
    }
  }

  /** Rolls back: the record says failed (unless it flipped after all), staged shares erased. */
  private async rollBack(walletId: string, op: OperationRecord, error: unknown): Promise<void> {
    const { env, log } = this.deps;
    const cause = error instanceof QuorateError ? error : undefined;
    const named: unknown = cause?.detail['blamed'];
    const blamed = Array.isArray(named) ? named.filter((p) => typeof p === 'string') : [];
    const failure = {
      code: 'QUORATE_E_LIFECYCLE_FAILED',
      message: error instanceof Error ? error.message : String(error),
      ...(blamed.length > 0 ? { blamed } : {}),
    };
    log.warn(
      { walletId, operationId: op.operationId, ...failure },
      'lifecycle operation rolled back',
    );
    let ended = op;
    try {
      const wallet = await this.writeOp(walletId, op.operationId, (o) =>
        o.status === 'running'
          ? {
              ...o,
              status: 'failed',
              phase: 'ended',
              endedMs: env.nowMs(),
              error: failure,
              retirePending: [...o.parties],
            }
          : o,
      );
      if (wallet.operation?.operationId === op.operationId) ended = wallet.operation;
    } catch (writeError) {
      log.error({ walletId, err: String(writeError) }, 'could not record the rollback');
    }
    if (ended.status === 'failed')
      this.deps.metrics.lifecycleOperationsTotal.inc({ kind: op.kind, outcome: 'failed' });
    // A rollback that won tells the receivers to erase; a flip that won (its answer lost) is
    // told as a commit.
    this.teller.tell(walletId, ended, ended.status === 'failed' ? 'abandon' : 'commit');
  }

  /** Starts a run with its envelopes routed to it until its result settles. */
  private async routed<T>(
    sessionId: string,
    route: Route,
    start: () => void,
    result: Promise<T>,
  ): Promise<T> {
    this.routes.set(sessionId, route);
    try {
      start();
      return await result;
    } finally {
      this.routes.delete(sessionId);
    }
  }

  /**
   * Routes a party's envelope to the run, the test or the retirement it answers. Every party
   * envelope passes here, signing's too: one map lookup each.
   */
  onEnvelope(partyId: string, e: Envelope): void {
    this.routes.get(e.sessionId)?.onEnvelope(partyId, e);
    this.teller.onEnvelope(partyId, e);
  }

  onDisconnect(partyId: string): void {
    for (const route of this.routes.values()) route.onDisconnect(partyId);
  }

  /**
   * After a restart: an operation that had not flipped rolls back (its run's state was in
   * this process), and one that had goes on retiring. Bounded by the wallet pages read.
   */
  async resume(): Promise<void> {
    let cursor: string | undefined;
    for (let page = 0; page < limits.walletsMax / limits.storePageSizeMax + 1; page++) {
      cursor = await this.sweepPage(cursor);
      if (cursor === undefined) break;
    }
    this.scheduleSweep(undefined);
  }

  /**
   * The backstop for operations no replica drives any more (their replica died): one page of
   * wallets every `lifecycleSweepMs`, round and round, each checked by {@link sweepWallet}.
   */
  private scheduleSweep(cursor: string | undefined): void {
    if (this.stopped) return;
    this.cancelSweep = this.deps.env.setTimer(limits.lifecycleSweepMs, () => {
      this.sweepPage(cursor).then(
        (next) => this.scheduleSweep(next),
        (error: unknown) => {
          this.deps.log.warn({ err: String(error) }, 'lifecycle sweep failed; tried again');
          this.scheduleSweep(cursor);
        },
      );
    });
  }

  /** Checks one page of wallets; returns where the next page starts (undefined: the first). */
  private async sweepPage(cursor: string | undefined): Promise<string | undefined> {
    const { items, nextCursor } = await this.deps.store.listWalletsPage({
      limit: limits.storePageSizeMax,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const wallet of items) await this.sweepWallet(wallet);
    return nextCursor;
  }

  /**
   * A running operation not driven here rolls back if this replica started it (an earlier
   * incarnation: its run's state is gone) or once its deadline passed by the takeover grace
   * (its replica is gone); an ended one whose parties were not all told is told from here.
   */
  private async sweepWallet(wallet: WalletRecord): Promise<void> {
    await this.scheduledRefresh(wallet);
    const op = wallet.operation;
    if (op === undefined || this.stopped) return;
    const { env, ownerId } = this.deps;
    if (op.status === 'running') {
      if (this.live.has(op.operationId)) return;
      const orphaned = op.ownerId === ownerId;
      if (!orphaned && env.nowMs() <= op.deadlineMs + limits.lifecycleTakeoverGraceMs) return;
      const why = orphaned ? 'its coordinator restarted' : 'its coordinator is gone';
      await this.rollBack(wallet.walletId, op, new Error(`${why} before the flip`));
      return;
    }
    if (this.teller.telling(op.operationId) || (op.retirePending?.length ?? 0) === 0) return;
    this.teller.tell(wallet.walletId, op, op.status === 'done' ? 'commit' : 'abandon');
  }

  /**
   * A wallet with `refreshEveryDays` is refreshed once its shares are that old: when a quorum
   * is healthy (a refresh needs every party alive), backing off from `refreshBackoffMsMin` to
   * `refreshBackoffMsMax` while it cannot start or rolls back. Its age is a metric.
   */
  private async scheduledRefresh(wallet: WalletRecord): Promise<void> {
    const days = wallet.refreshEveryDays ?? 0;
    if (days <= 0 || this.stopped) return;
    const { env, metrics } = this.deps;
    const now = env.nowMs();
    const renewedMs = wallet.renewedMs ?? wallet.createdMs;
    if (
      this.refreshAgeSeries.has(wallet.walletId) ||
      this.refreshAgeSeries.size < limits.refreshScheduleSeriesMax
    ) {
      this.refreshAgeSeries.add(wallet.walletId);
      metrics.walletRefreshAge.set(
        { wallet: wallet.walletId },
        Math.max(0, (now - renewedMs) / 1_000),
      );
    }
    const backoff = this.refreshBackoff.get(wallet.walletId);
    if (now < renewedMs + days * 86_400_000) {
      this.refreshBackoff.delete(wallet.walletId);
      return;
    }
    if (wallet.operation?.status === 'running' || (backoff !== undefined && now < backoff.atMs))
      return;
    const delayMs = Math.min(
      limits.refreshBackoffMsMax,
      backoff === undefined ? limits.refreshBackoffMsMin : backoff.delayMs * 2,
    );
    this.refreshBackoff.set(wallet.walletId, { atMs: now + delayMs, delayMs });
    try {
      await this.start(wallet.walletId, { kind: 'refresh' });
    } catch (error) {
      const code = error instanceof QuorateError ? error.code : String(error);
      this.deps.log.warn(
        { walletId: wallet.walletId, code, retryInMs: delayMs },
        'scheduled refresh could not start',
      );
    }
  }

  stop(): void {
    this.stopped = true;
    this.cancelSweep();
    this.teller.stop();
  }

  /** Sets (0: clears) the wallet's refresh interval, by CAS; returns the wallet. */
  async setRefreshSchedule(walletId: string, refreshEveryDays: number): Promise<WalletRecord> {
    await this.deps.wallets.get(walletId);
    return this.writeWallet(walletId, (w) => {
      const { refreshEveryDays: _old, ...rest } = w;
      return refreshEveryDays > 0 ? { ...rest, refreshEveryDays } : rest;
    });
  }

  /** Rewrites the wallet's current operation `operationId` (if it still is) by CAS. */
  private writeOp(
    walletId: string,
    operationId: string,
    change: (op: OperationRecord) => OperationRecord,
  ): Promise<WalletRecord> {
    return this.writeWallet(walletId, (w) =>
      w.operation?.operationId === operationId ? { ...w, operation: change(w.operation) } : w,
    );
  }

  /** Read, change, compare-and-set the wallet record; re-read and retried if it moved. */
  private async writeWallet(
    walletId: string,
    change: (wallet: WalletRecord) => WalletRecord,
  ): Promise<WalletRecord> {
    const { store } = this.deps;
    for (let i = 0; i < limits.lifecycleCasTriesMax; i++) {
      const wallet = await store.getWallet(walletId);
      if (wallet === undefined)
        throw new QuorateError('QUORATE_E_WALLET_NOT_FOUND', 'no such wallet', { walletId });
      const revision = wallet.revision ?? 0;
      const next = { ...change(wallet), revision: revision + 1 };
      if (await store.replaceWallet(next, revision)) return next;
    }
    throw new QuorateError('QUORATE_E_STORE_UNAVAILABLE', 'the wallet record kept moving', {
      walletId,
    });
  }
}

/** The wallet with `op` as its current operation; an ended one moves to the kept history. */
function withOperation(wallet: WalletRecord, op: OperationRecord): WalletRecord {
  const past = wallet.operation === undefined ? [] : [wallet.operation];
  const pastOperations = [...past, ...(wallet.pastOperations ?? [])].slice(
    0,
    limits.walletOperationsKeptMax,
  );
  return {
    ...wallet,
    operation: op,
    pastOperations,
    revision: (wallet.revision ?? 0) + 1,
  };
}
