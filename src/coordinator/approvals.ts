/**
 * Approvals arriving over the API. An approval is checked (the session waits for approvals,
 * the approver's signature over the session's subject counts), then handed to the session's
 * runner as an `approve` event: the machine records it and has the rules re-checked, and the
 * runner writes the record. A session waiting for approvals has no attempt in flight, so the
 * replica an approval reaches takes the session over if another replica owns it.
 */
import type { Log } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { governedPhase } from '../session/governed.ts';
import type { SessionRecord } from '../session/record.ts';
import type { SessionApproval } from '../session/session-policy.ts';
import type { Lease, Store } from '../store/store.ts';
import type { Governance } from './governance.ts';
import type { SessionRunners } from './runners.ts';
import type { SessionRunner } from './session-runner.ts';
import { notOwnerError } from './session-runner.ts';

/** What the approval path needs from the coordinator. */
export interface ApprovalsDeps {
  store: Store;
  runners: SessionRunners;
  governance: Governance;
  log: Log;
  admitting: Set<string>;
  nowMs(): number;
  lease(): Lease | undefined;
}

/** Records approvals through the sessions' runners. */
export class Approvals {
  constructor(private readonly deps: ApprovalsDeps) {}

  /**
   * Records an approval (Ed25519 over the session's canonical request). When every approval
   * group is satisfied, the rules are checked again at execution time, then signing starts.
   */
  async approve(sessionId: string, approval: SessionApproval): Promise<SessionRecord> {
    for (let i = 0; i < limits.approvalSubmitTriesMax; i++) {
      const runner = await this.runnerFor(sessionId, approval);
      // Another replica claimed the session between our read and our claim: look again.
      if (!runner) continue;
      this.deps.governance.checkApproval(runner.record, approval);
      const submitted = await runner
        .submit({
          type: 'approve',
          nowMs: this.deps.nowMs(),
          approval,
          approvalsMax: limits.approvalsPerSessionMax,
        })
        .catch((error: unknown) => {
          // Another replica moved the session on while the approval was in flight (found by
          // `quorate sim --seed 2 --kind replica-takeover`): look again, from the store.
          if (error instanceof QuorateError && error.code === 'QUORATE_E_STALE_TOKEN')
            return undefined;
          throw error;
        });
      if (submitted?.accepted === true) return submitted.record;
      // The machine ignored it: say why (the session moved on, or its window closed).
      if (submitted && !runner.isStopped)
        this.deps.governance.checkApproval(runner.record, approval);
    }
    throw notOwnerError(sessionId, 'the session moved to another replica during the approval');
  }

  /**
   * The runner of a session waiting for approvals: this replica's, or a new one after taking
   * the session over (its owner may be another replica, or gone). Undefined if another replica
   * claimed it first (the caller looks again). Only a runner created here is started here.
   */
  private async runnerFor(
    sessionId: string,
    approval: SessionApproval,
  ): Promise<SessionRunner | undefined> {
    const { runners, store, admitting } = this.deps;
    const driven = runners.get(sessionId);
    if (driven && !driven.isStopped) return driven;
    const stored = await store.getSession(sessionId);
    if (!stored)
      throw new QuorateError('QUORATE_E_SESSION_NOT_FOUND', 'no such session', { sessionId });
    const wallet = await store.getWallet(stored.value.walletId);
    if (!wallet || governedPhase(stored.value, wallet.tier !== undefined) !== 'approving')
      this.deps.governance.checkApproval(stored.value, approval);
    const lease = this.deps.lease();
    if (!lease || !wallet) throw notOwnerError(sessionId, 'no live store lease');
    admitting.add(sessionId);
    try {
      let owned = stored;
      if (stored.value.owner?.leaseId !== lease.leaseId) {
        const claim = await store.claimSession(sessionId, stored.version, lease, {
          forApproval: true,
        });
        if (!claim.claimed) {
          if (claim.reason === 'lease-expired')
            throw notOwnerError(sessionId, 'no live store lease');
          return undefined;
        }
        this.deps.log.info(
          { sessionId, previousOwner: stored.value.owner ?? null },
          'took over a session for an approval',
        );
        owned = claim.session;
      }
      // The takeover scan may have started one meanwhile: never start a runner twice.
      const existing = runners.get(sessionId);
      if (existing && !existing.isStopped) return existing;
      const runner = runners.create(wallet, owned);
      await runner.start('recover');
      return runner;
    } finally {
      admitting.delete(sessionId);
    }
  }
}
