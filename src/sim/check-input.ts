/**
 * What the checker reads after a seed: the history, the wallets, every party's journal (rows
 * and op log, passed through as the checker's own journal shapes), the observations, the
 * store's sessions (with their governance fields), and the approvers' keys of a governed run.
 */
import type { LifecycleFacts } from '../checker/check-epochs.ts';
import type { CheckInput, StateObservation, StoredSession } from '../checker/types.ts';
import { limits } from '../core/limits.ts';
import type { SessionRecord } from '../session/record.ts';
import type { Deployment, WalletInfo } from './deploy.ts';

/** Reads everything the checker needs at the end of a run. */
export async function checkInput(
  run: Deployment,
  observations: StateObservation[],
  lifecycle?: LifecycleFacts,
): Promise<CheckInput> {
  const { cluster, history, scheduler, governed } = run;
  const sessions = (await cluster.store.listSessions(limits.sessionsActiveMax)).map((s) =>
    storedSession(s.value),
  );
  const wallets = [run.wallet, ...(governed ? [governed.wallet] : [])];
  return {
    history: history.events,
    wallets: wallets.map((w) => walletFacts(lifecycle ? throughEpochs(w, lifecycle) : w)),
    ...(lifecycle === undefined ? {} : { lifecycle: [lifecycle] }),
    journals: [...cluster.parties.values()].map((p) => ({
      partyId: p.partyId,
      nonces: p.journal.nonces(),
      ops: p.journal.ops(),
    })),
    observations,
    sessions,
    endMs: scheduler.nowMs,
    ...(governed
      ? {
          governance: {
            approvers: governed.governance.approvers.map((a) => ({
              id: a.id,
              publicKey: a.publicKey,
            })),
            approvalWindowMs: limits.simApprovalWindowMs,
          },
        }
      : {}),
  };
}

/**
 * A wallet whose parties changed by reshare, as I5 may judge it: the parties that belonged to
 * it in every epoch it had (a QUORUM_UNAVAILABLE is a violation only if t of those were there).
 */
function throughEpochs(wallet: WalletInfo, lifecycle: LifecycleFacts): WalletInfo {
  const flipped = lifecycle.operations.filter((op) => op.status === 'done');
  const parties = wallet.parties.filter((p) => flipped.every((op) => op.parties.includes(p)));
  return { ...wallet, parties };
}

/** A wallet's public facts only (a fixture wallet also carries every party's share). */
const walletFacts = ({ walletId, scheme, threshold, parties, publicKey }: WalletInfo) => ({
  walletId,
  scheme,
  threshold,
  parties,
  publicKey,
});

/** A session record in the checker's terms (governed fields only when the record has them). */
function storedSession(r: SessionRecord): StoredSession {
  const policy = r.policy;
  const context = Object.fromEntries(
    Object.entries(r.context ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
  return {
    sessionId: r.sessionId,
    walletId: r.walletId,
    intentKey: r.intentKey,
    messageHash: r.messageHash,
    status: r.status,
    ...(r.signature === undefined ? {} : { signature: r.signature }),
    ...(r.context === undefined ? {} : { context }),
    ...(r.transaction === undefined ? {} : { transaction: r.transaction }),
    ...(r.derivationPath === undefined ? {} : { derivationPath: r.derivationPath }),
    ...(policy === undefined
      ? {}
      : {
          policy: {
            policyHash: policy.policyHash,
            requirement: {
              approvals: policy.requirement.approvals.map((g) => ({
                k: g.k,
                approvers: g.approvers.map((a) => ({ id: a.id, publicKey: a.publicKey })),
              })),
            },
            approvals: policy.approvals.map((a) => ({
              approverId: a.approverId,
              signature: a.signature,
            })),
          },
        }),
  };
}
