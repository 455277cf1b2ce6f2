/**
 * The honest side of a parties-mode run: Quorate's REAL coordinator, started by the simulator's
 * own deployment ({@link SimCluster}, with no party hosts of its own: the world's parties, some
 * malicious, dial it), so it runs exactly as in every other simulated run: on the virtual clock,
 * over a memory store, with its party registry, detector, quorum selection, session machine and
 * keygen runner. Parties enrol with one-time tokens its registry issues, as an admin would
 * through the API. Wallets are created and requests signed through the coordinator's own calls
 * (`createWallet`, `sign`, `waitForSession`), each waited for on the virtual clock with a bound.
 */
import { assert } from '../../core/assert.ts';
import { QuorateError, type ErrorCode } from '../../core/errors.ts';
import { limits } from '../../core/limits.ts';
import type { Coordinator, SignRequest } from '../../coordinator/coordinator.ts';
import type { CreateWalletRequest } from '../../coordinator/wallets.ts';
import type { SessionRecord } from '../../session/record.ts';
import type { WalletRecord } from '../../store/store.ts';
import type { Link } from '../../transport/link.ts';
import { SimCluster } from '../cluster.ts';
import type { WalletKeys } from '../wallet-fixture.ts';
import type { AdversaryWorld } from './world.ts';

/** How long an enrolment token the harness issues stays valid (the run lasts minutes at most). */
const enrolmentTtlSeconds = 3_600;

/** Slack after a deadline for the coordinator's own timers to fire and settle (virtual ms). */
const settleSlackMs = 2_000;

/**
 * A call into the coordinator: its answer, or its failure's code: a Quorate code, `THREW` for
 * anything else thrown (a programmer error), `NO_ANSWER` if it did not settle within the budget.
 */
export type Outcome<T> =
  { ok: true; value: T } | { ok: false; code: ErrorCode | 'THREW' | 'NO_ANSWER'; message: string };

/** The real coordinator of one parties-mode world. */
export class RealCoordinator {
  private readonly cluster: SimCluster;

  constructor(private readonly world: AdversaryWorld) {
    this.cluster = new SimCluster(world.scheduler, world.network, world.seed, []);
    this.cluster.startCoordinator();
  }

  /** The running coordinator (it never crashes in these runs). */
  get coordinator(): Coordinator {
    const c = this.cluster.coordinator;
    assert(c !== undefined, 'the coordinator runs for the whole adversarial run');
    return c;
  }

  /** A one-time enrolment token for `partyId`, issued by the coordinator's registry. */
  async invite(partyId: string): Promise<string> {
    const issued = await this.coordinator.registry.issueEnrolment(
      partyId,
      enrolmentTtlSeconds,
      false,
    );
    return issued.token;
  }

  /** Connects `partyId` (its end observed, and tapped if malicious) to the coordinator. */
  connect(partyId: string, tap?: (link: Link) => Link): void {
    this.coordinator.acceptLink(this.world.connect(partyId, tap, this.cluster.coordinatorNode));
  }

  /** Writes a fixture wallet into the coordinator's store (its shares are in the journals). */
  async installWallet(keys: WalletKeys): Promise<void> {
    const { walletId, scheme, threshold, parties, publicKey, publicPackage } = keys;
    const record = { walletId, scheme, threshold, parties, publicKey, publicPackage };
    await this.cluster.store.createWallet({ ...record, createdMs: 0 });
  }

  /** Wallet creation by DKG through the coordinator, waited for up to the keygen deadline. */
  createWallet(request: CreateWalletRequest): Promise<Outcome<WalletRecord>> {
    return this.settle(this.coordinator.createWallet(request), limits.keygenDeadlineMs);
  }

  /**
   * One signing request through the coordinator's admission path, waited for until it is
   * terminal or its deadline (and some slack) passed; the session as the store then holds it.
   */
  async sign(walletId: string, request: SignRequest): Promise<Outcome<SessionRecord>> {
    const opened = await this.settle(this.coordinator.sign(walletId, request), settleSlackMs);
    if (!opened.ok) return opened;
    const { sessionId, deadlineMs } = opened.value;
    const waitMs = Math.max(0, deadlineMs - this.cluster.coordinatorNode.env().nowMs());
    await this.settle(this.coordinator.waitForSession(sessionId, waitMs), waitMs + settleSlackMs);
    return this.settle(this.coordinator.getSession(sessionId), settleSlackMs);
  }

  /** Runs the virtual clock until `promise` settles or `budgetMs` passed. */
  private async settle<T>(promise: Promise<T>, budgetMs: number): Promise<Outcome<T>> {
    let outcome: Outcome<T> | undefined;
    void promise.then(
      (value) => {
        outcome = { ok: true, value };
      },
      (error: unknown) => {
        outcome =
          error instanceof QuorateError
            ? { ok: false, code: error.code, message: error.message }
            : { ok: false, code: 'THREW', message: String(error) };
      },
    );
    const { scheduler } = this.world;
    await scheduler.runUntil(scheduler.nowMs + budgetMs, () => outcome !== undefined);
    return outcome ?? { ok: false, code: 'NO_ANSWER', message: `nothing within ${budgetMs} ms` };
  }
}
