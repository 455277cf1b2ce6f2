/**
 * Key lifecycle on the party (docs/key-lifecycle.md): taking part in a refresh or reshare
 * (a keygen-start with a reshare block), the test signature with a staged share (epoch-test),
 * and the end of an operation (epoch: commit or abandon). The party keeps at most one active
 * and one staged share per wallet, and signs only with the active one: its epoch is the fence.
 * The coordinator is trusted for ordering only: a staged share becomes active when the
 * coordinator names its epoch (it does so only after the store flipped), and an older share is
 * erased only by a party that holds its successor or sees the new epoch's signed confirmations.
 */
import { canonicalJson } from '../core/encoding.ts';
import type { Env } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import type { FrostScheme, KeyShare } from '../protocol/engine.ts';
import { reshareParticipant, type ReshareOutcome } from '../protocol/reshare.ts';
import { createSealer } from '../protocol/sealed-box.ts';
import { certificateProblem } from '../transport/certificate.ts';
import {
  confirmationVerifies,
  epochTestMessage,
  keygenParticipants,
  reshareRunId,
  type EpochBody,
  type EpochTestBody,
  type Envelope,
  type KeygenStartBody,
  type ReshareBlock,
} from '../transport/wire.ts';
import { keygenSession, type SessionSpec } from './driver.ts';
import type { PartyJournal } from './journal.ts';
import type { KeyShares } from './key-shares.ts';
import { checkTier, trustedPeers, type KeygenDeps } from './keygen.ts';
import { ConfirmedKeygenRole } from './keygen-confirm.ts';
import { Refusal } from './refusal.ts';
import { SecretLedger } from './secret-ledger.ts';

const staleEpoch = (reason: string): Refusal => new Refusal('QUORATE_E_STALE_EPOCH', reason, true);

/**
 * Brings this party's view of `walletId` to `epoch`, which the coordinator names as active: a
 * staged share of that epoch becomes active (the store flipped; this party missed the commit).
 * Returns the active share, or refuses if this party's active epoch is another one.
 */
export function activeShareAt(shares: KeyShares, walletId: string, epoch: number): KeyShare {
  const mine = shares.epochOf(walletId);
  if (mine !== undefined && mine < epoch) shares.promote(walletId, epoch);
  const key = shares.get(walletId);
  const active = key.epoch ?? 0;
  if (active !== epoch)
    throw staleEpoch(`key epoch ${epoch} is not the active one here (${active})`);
  return key;
}

/** The FROST scheme of a lifecycle run, or a refusal (the ecdsa engine has no reshare). */
function lifecycleScheme(body: KeygenStartBody): FrostScheme {
  if (body.scheme === 'ecdsa')
    throw new Refusal(
      'QUORATE_E_UNSUPPORTED_OPERATION',
      'the ecdsa engine has no refresh or reshare',
      true,
    );
  return body.scheme;
}

/**
 * This party's current share, if it holds one, after checking that it is of the epoch being
 * replaced and that the coordinator's copy of that epoch's public package is this party's own.
 */
function currentShare(
  deps: KeygenDeps,
  body: KeygenStartBody,
  reshare: ReshareBlock,
): KeyShare | undefined {
  if (deps.shares.epochOf(body.walletId) === undefined) return undefined;
  const share = activeShareAt(deps.shares, body.walletId, reshare.fromEpoch);
  if (share.scheme !== body.scheme || share.tier !== body.tier)
    throw staleEpoch('the reshare names another scheme or tier than this share');
  if (canonicalJson(share.publicPackage) !== canonicalJson(reshare.oldPublicPackage))
    throw new Refusal(
      'QUORATE_E_UNTRUSTED_PEER',
      'the reshare names another public package of the current epoch than this party holds',
      true,
    );
  return share;
}

/** Admits a keygen-start with a reshare block (throws a Refusal if it must not run). */
export function openReshare(
  deps: KeygenDeps,
  e: Envelope,
  body: KeygenStartBody,
  reshare: ReshareBlock,
  via: object | undefined,
): SessionSpec<ReshareOutcome> {
  const { env, partyId } = deps;
  const participants = keygenParticipants(body);
  if (!participants.includes(partyId))
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'not a participant', true);
  // The run id names the operation and the epoch it makes: confirmations signed for it can
  // never be replayed as evidence of another epoch.
  if (e.sessionId !== reshareRunId(reshare.operationId, reshare.fromEpoch + 1))
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'the run id does not name this operation', true);
  const scheme = lifecycleScheme(body);
  if (deps.sessionsActive() >= limits.partySessionsActiveMax)
    throw new Refusal('QUORATE_E_OVERLOADED', 'too many sessions', false);
  const dealing = reshare.dealers.includes(partyId);
  const share = currentShare(deps, body, reshare);
  if (dealing && share === undefined)
    throw staleEpoch('asked to deal, but this party holds no share of the wallet');
  const certifiedIdentityKeys = trustedPeers(deps, body);
  checkTier(deps, body);
  const role = reshareRole(deps, e, body, reshare, { scheme, share, certifiedIdentityKeys });
  const cancelTtl = env.setTimer(limits.lifecycleDeadlineMsMax + limits.abortCleanupMsMax, () =>
    deps.drop(e.sessionId, 'reshare TTL expired'),
  );
  const onDone = (outcome: ReshareOutcome): void => {
    if (outcome.share === undefined) return;
    const staged = body.tier === undefined ? outcome.share : { ...outcome.share, tier: body.tier };
    deps.shares.stage({ operationId: reshare.operationId, share: staged });
    deps.log.info(
      { walletId: body.walletId, epoch: reshare.fromEpoch + 1 },
      'next-epoch key share staged (encrypted)',
    );
  };
  return keygenSession(e, via, role, onDone, cancelTtl);
}

/** The participant role of a reshare, wrapped in the transcript confirmation. */
function reshareRole(
  deps: KeygenDeps,
  e: Envelope,
  body: KeygenStartBody,
  reshare: ReshareBlock,
  own: {
    scheme: FrostScheme;
    share: KeyShare | undefined;
    certifiedIdentityKeys: Record<string, string> | undefined;
  },
): ConfirmedKeygenRole<ReshareOutcome> {
  const { env, partyId, identity } = deps;
  const { scheme, share, certifiedIdentityKeys } = own;
  const dealing = reshare.dealers.includes(partyId);
  const sealer = createSealer({
    context: `${body.walletId}|${e.sessionId}`,
    self: partyId,
    boxSecret: identity.boxSecret,
    peerBoxKeys: body.boxKeys,
    randomBytes: env.randomBytes,
  });
  const engineRole = reshareParticipant({
    scheme,
    walletId: body.walletId,
    dealers: reshare.dealers,
    receivers: body.parties,
    threshold: body.threshold,
    oldPublicPackage: share?.publicPackage ?? reshare.oldPublicPackage,
    partyId,
    oldShare: dealing ? share : undefined,
    epoch: reshare.fromEpoch + 1,
    rng: env.randomBytes,
    sealer,
  });
  const confirmArgs = {
    walletId: body.walletId,
    keygenId: e.sessionId,
    partyId,
    parties: keygenParticipants(body),
    identity,
    certifiedIdentityKeys,
    boxKeys: body.boxKeys,
    tier: body.tier,
    reshare,
  };
  return new ConfirmedKeygenRole(engineRole, confirmArgs, (outcome) => ({
    scheme,
    threshold: body.threshold,
    parties: body.parties,
    publicKey: outcome.publicKey,
    publicPackage: outcome.publicPackage,
  }));
}

/** What the test signature needs from the party. */
export interface EpochTestDeps extends KeygenDeps {
  journal: PartyJournal;
}

/**
 * Admits an epoch-test: sign the operation's fixed test message with the staged share, among
 * exactly a threshold of the new epoch's parties. Its nonce goes through the secret ledger like
 * any signing's (I2).
 */
export function openEpochTest(
  deps: EpochTestDeps,
  e: Envelope,
  body: EpochTestBody,
  via: object | undefined,
): SessionSpec<unknown> {
  const { env, partyId, identity } = deps;
  const staged = deps.shares.staged(body.walletId);
  if (
    staged === undefined ||
    staged.operationId !== body.operationId ||
    (staged.share.epoch ?? 0) !== body.epoch
  )
    throw staleEpoch(`no staged share of epoch ${body.epoch} for this operation`);
  const key = staged.share;
  const { signers } = body;
  if (
    !signers.includes(partyId) ||
    signers.length !== key.threshold ||
    signers.some((p) => !key.parties.includes(p))
  )
    throw new Refusal(
      'QUORATE_E_BAD_ENVELOPE',
      'test signers are not a quorum of the new epoch',
      true,
    );
  const engine = deps.engines[key.scheme];
  if (engine === undefined)
    throw new Refusal(
      'QUORATE_E_UNSUPPORTED_SCHEME',
      `this party runs no ${key.scheme} engine`,
      true,
    );
  const role = engine.signer({
    key,
    message: epochTestMessage(body.walletId, body.operationId, body.epoch),
    signers,
    rng: env.randomBytes,
    // FROST signing seals nothing: a sealer with no peers refuses any use.
    sealer: createSealer({
      context: `${body.walletId}|${e.sessionId}`,
      self: partyId,
      boxSecret: identity.boxSecret,
      peerBoxKeys: {},
      randomBytes: env.randomBytes,
    }),
  });
  const cancelTtl = env.setTimer(limits.lifecycleTestSignMsMax + limits.abortCleanupMsMax, () =>
    deps.drop(e.sessionId, 'test signature TTL expired'),
  );
  return {
    kind: 'sign',
    sessionId: e.sessionId,
    attempt: e.attempt,
    token: e.token,
    via,
    role,
    oneTimeSecret: () => role.oneTimeSecret(),
    ledger: new SecretLedger(deps.journal, e, () => env.nowMs()),
    hooks: {},
    cancelTtl,
  };
}

/** What an epoch frame needs from the party. */
export interface EpochDeps {
  env: Env;
  shares: KeyShares;
  /** The operator key this party pins, if any (the evidence's certificates are checked). */
  operatorKey: Uint8Array | undefined;
}

/**
 * Carries out an epoch frame; returns what was done (`promoted`, `erased`, `kept`, `none`). A
 * commit promotes the staged share of its epoch; a party without one whose active share is
 * older erases it only if the evidence proves the new epoch (see {@link retirementProven}).
 */
export function applyEpoch(deps: EpochDeps, body: EpochBody): string {
  const { shares } = deps;
  const { walletId, operationId, epoch } = body;
  if (body.action === 'abandon')
    return shares.eraseStaged(walletId, operationId) ? 'erased' : 'none';
  const staged = shares.staged(walletId);
  if (staged !== undefined && (staged.share.epoch ?? 0) <= (shares.epochOf(walletId) ?? -1))
    shares.eraseStaged(walletId); // promoted before a crash erased the staged copy
  if (shares.promote(walletId, epoch)) return 'promoted';
  const mine = shares.epochOf(walletId);
  if (mine === undefined) return 'none';
  if (mine >= epoch) return 'kept';
  const problem = retirementProblem(deps, shares.get(walletId), body);
  if (problem !== undefined) throw staleEpoch(`will not erase epoch ${mine}: ${problem}`);
  shares.eraseStaged(walletId);
  shares.erase(walletId);
  return 'erased';
}

/**
 * Why `body` does not prove that the wallet moved past `share`'s epoch without this party, or
 * undefined if it does: at least the old threshold of distinct parties confirmed one
 * transcript of the run, each under its operator-certified identity key (when this party pins
 * an operator key; otherwise matching transcripts are all it can check). Fewer than t parties
 * cannot make this party erase its share.
 */
function retirementProblem(deps: EpochDeps, share: KeyShare, body: EpochBody): string | undefined {
  const evidence = body.evidence;
  if (evidence === undefined) return 'no evidence of the new epoch';
  if (evidence.runId !== reshareRunId(body.operationId, body.epoch))
    return 'the evidence is of another run';
  const entries = Object.entries(evidence.confirmations);
  if (entries.length < share.threshold) return 'fewer confirmations than the threshold';
  const transcript = entries[0]?.[1].transcript;
  for (const [partyId, confirm] of entries) {
    if (confirm.transcript !== transcript) return 'confirmations differ';
    if (confirm.publicKey !== share.publicKey) return 'confirmations name another group key';
    if (deps.operatorKey === undefined) continue;
    const cert = evidence.certificates?.[partyId];
    if (cert === undefined) return `no certificate of ${partyId}`;
    const bad = certificateProblem(cert, deps.operatorKey, { partyId });
    if (bad !== undefined) return bad;
    const at = { walletId: body.walletId, keygenId: evidence.runId, partyId };
    if (!confirmationVerifies(at, confirm, cert.identityKey))
      return `confirmation of ${partyId} does not verify`;
  }
  return undefined;
}
