/**
 * Key lifecycle on the party (docs/key-lifecycle.md): taking part in a refresh or reshare
 * (a keygen-start with a reshare block), the test signature with a staged share (epoch-test),
 * and the end of an operation (epoch: commit or abandon). The party keeps at most one active
 * and one staged share per wallet, and signs only with the active one: its epoch is the fence.
 * The coordinator is trusted for ordering only: a staged share becomes active when the
 * coordinator names its epoch (it does so only after the store flipped), and an older share is
 * erased only by a party that holds its successor or sees the new epoch's signed confirmations.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../core/encoding.ts';
import { limits } from '../core/limits.ts';
import type { FrostScheme, KeyShare } from '../protocol/engine.ts';
import { reshareParticipant, type ReshareOutcome } from '../protocol/reshare.ts';
import { certificateProblem } from '../transport/certificate.ts';
import { signDetached, verifyDetached, type IdentityKeys } from '../transport/identity.ts';
import {
  epochTestMessage,
  keygenParticipants,
  promotionDomain,
  promotionStatement,
  reshareAuthorization,
  reshareAuthorizationDomain,
  reshareRunId,
  type EpochAck,
  type EpochBody,
  type EpochTestBody,
  type Envelope,
  type KeygenStartBody,
  type ReshareBlock,
} from '../transport/wire.ts';
import { keygenSession, signerSession, type SessionSpec } from './driver.ts';
import type { PartyJournal } from './journal.ts';
import type { KeyShares } from './key-shares.ts';
import { checkTier, engineFor, runSealer, trustedPeers, type KeygenDeps } from './keygen.ts';
import { ConfirmedKeygenRole } from './keygen-confirm.ts';
import { Refusal } from './refusal.ts';
import { SecretLedger } from './secret-ledger.ts';

const staleEpoch = (reason: string): Refusal => new Refusal('QUORATE_E_STALE_EPOCH', reason, true);

/**
 * This party's share of `walletId` if its active epoch is `epoch`; otherwise a refusal. The
 * staged next epoch becomes active only by its operation's commit, never because a request
 * names it: a request for it is refused softly (the commit is on its way, or was never made).
 */
export function activeShareAt(shares: KeyShares, walletId: string, epoch: number): KeyShare {
  const key = shares.get(walletId);
  const active = key.epoch ?? 0;
  if (active === epoch) return key;
  const staged = shares.staged(walletId);
  if (staged !== undefined && (staged.share.epoch ?? 0) === epoch)
    throw new Refusal(
      'QUORATE_E_STALE_EPOCH',
      `key epoch ${epoch} is not committed here yet`,
      false,
    );
  throw staleEpoch(`key epoch ${epoch} is not the active one here (${active})`);
}

/**
 * A refresh or reshare needs an operator key pinned: without one, peer box keys come from the
 * coordinator, which could put its own in a receiver's place and read the dealt key.
 */
function requireAnchor(deps: KeygenDeps): Uint8Array {
  if (deps.trust === undefined)
    throw new Refusal(
      'QUORATE_E_UNTRUSTED_PEER',
      'a refresh or reshare needs an operator key pinned on the party (docs/key-lifecycle.md)',
      true,
    );
  return deps.trust.operatorKey;
}

/**
 * What a dealer checks before it deals (it hands out shares of the key): the dealers are a
 * threshold of its own epoch's parties; a refresh keeps its own threshold and parties; a
 * reshare carries the operator's authorization of exactly this new threshold and party set.
 */
function checkDealing(
  share: KeyShare,
  body: KeygenStartBody,
  reshare: ReshareBlock,
  operatorKey: Uint8Array,
): void {
  const deny = (reason: string) => new Refusal('QUORATE_E_POLICY_DENIED', reason, true);
  if (reshare.oldThreshold !== share.threshold || reshare.dealers.length !== share.threshold)
    throw deny(`the dealers are not a threshold (${share.threshold}) of this epoch`);
  if (reshare.dealers.some((d) => !share.parties.includes(d)))
    throw deny('a dealer is not a party of this epoch');
  if (reshare.kind === 'refresh') {
    const same =
      body.threshold === share.threshold &&
      body.parties.length === share.parties.length &&
      body.parties.every((p) => share.parties.includes(p));
    if (!same) throw deny('a refresh keeps the threshold and the parties');
    return;
  }
  const statement = reshareAuthorization({
    walletId: body.walletId,
    fromEpoch: reshare.fromEpoch,
    threshold: body.threshold,
    parties: body.parties,
  });
  const signature = reshare.authorization;
  if (
    signature === undefined ||
    !verifyDetached(reshareAuthorizationDomain, statement, hexToBytes(signature), operatorKey)
  )
    throw deny("a reshare needs the operator key's authorization of this threshold and parties");
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
  if (!deps.shares.has(body.walletId)) return undefined;
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
  const operatorKey = requireAnchor(deps);
  if (deps.sessionsActive() >= limits.partySessionsActiveMax)
    throw new Refusal('QUORATE_E_OVERLOADED', 'too many sessions', false);
  const dealing = reshare.dealers.includes(partyId);
  const share = currentShare(deps, body, reshare);
  if (dealing && share === undefined)
    throw staleEpoch('asked to deal, but this party holds no share of the wallet');
  if (dealing && share !== undefined) checkDealing(share, body, reshare, operatorKey);
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
  const sealer = runSealer(deps, e.sessionId, body.walletId, body.boxKeys);
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
  const { env, partyId } = deps;
  const staged = deps.shares.staged(body.walletId);
  if (
    staged === undefined ||
    staged.operationId !== body.operationId ||
    (staged.share.epoch ?? 0) !== body.epoch
  )
    throw staleEpoch(`no staged share of epoch ${body.epoch} for this operation`);
  // One test signature per operation: the coordinator gets no stream of signatures from it.
  const testedKey = `epoch-test:${body.operationId}`;
  if (deps.journal.getMeta(testedKey) !== undefined)
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'this operation was test-signed already', true);
  deps.journal.setMeta(testedKey, String(env.nowMs()));
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
  const role = engineFor(deps.engines, key.scheme).signer({
    key,
    message: epochTestMessage(body.walletId, body.operationId, body.epoch),
    signers,
    rng: env.randomBytes,
    // FROST signing seals nothing: a sealer with no peers refuses any use.
    sealer: runSealer(deps, e.sessionId, body.walletId, {}),
  });
  const cancelTtl = env.setTimer(limits.lifecycleTestSignMsMax + limits.abortCleanupMsMax, () =>
    deps.drop(e.sessionId, 'test signature TTL expired'),
  );
  const ledger = new SecretLedger(deps.journal, e, () => env.nowMs());
  return signerSession(e, via, role, ledger, {}, cancelTtl);
}

/** What an epoch frame needs from the party. */
export interface EpochDeps {
  shares: KeyShares;
  partyId: string;
  identity: IdentityKeys;
  /** The operator key this party pins, if any (erasing on evidence needs one). */
  operatorKey: Uint8Array | undefined;
}

/**
 * Carries out an epoch frame; returns the acknowledgement. A commit promotes the staged share of
 * its own operation and signs the promotion statement; a party of the old epoch that is not of
 * the new one erases its share only against every new party's signed promotion. An abandon
 * erases its operation's staged share.
 */
export function applyEpoch(deps: EpochDeps, body: EpochBody): EpochAck {
  const { shares } = deps;
  const { walletId, operationId, epoch } = body;
  const ack = (outcome: string): EpochAck => ({ epoch, outcome });
  if (body.action === 'abandon')
    return ack(shares.eraseStaged(walletId, operationId) ? 'erased' : 'none');
  const staged = shares.staged(walletId);
  const promoted =
    staged?.operationId === operationId &&
    (staged.share.epoch ?? 0) === epoch &&
    shares.promote(walletId, epoch);
  if (!shares.has(walletId)) return ack('none');
  const share = shares.get(walletId);
  const mine = share.epoch ?? 0;
  // Holding the epoch active (promoted now, or before an acknowledgement was lost): say so.
  if (mine === epoch)
    return { ...ack(promoted ? 'promoted' : 'kept'), promotion: signPromotion(deps, body, share) };
  if (mine > epoch) return ack('kept');
  const problem = retirementProblem(deps, share, body);
  if (problem !== undefined) throw staleEpoch(`will not erase epoch ${mine}: ${problem}`);
  shares.eraseStaged(walletId);
  shares.erase(walletId);
  return ack('erased');
}

/** This party's signature over the statement that it made `body.epoch` active with `share`. */
function signPromotion(deps: EpochDeps, body: EpochBody, share: KeyShare): string {
  const statement = promotionStatement({
    walletId: body.walletId,
    operationId: body.operationId,
    epoch: body.epoch,
    threshold: share.threshold,
    parties: share.parties,
    publicKey: share.publicKey,
    partyId: deps.partyId,
  });
  return bytesToHex(signDetached(promotionDomain, statement, deps.identity.signSecret));
}

/**
 * Why `body` does not prove that the wallet moved to a later epoch without this party, or
 * undefined if it does: this party pins an operator key, is not a party of the new epoch, and
 * enough of the new epoch's parties signed that they made it active with the same group key,
 * each under its operator-certified identity key: its threshold (so the new epoch can sign),
 * and at least this epoch's threshold (so fewer than t colluders cannot fake one).
 */
function retirementProblem(deps: EpochDeps, share: KeyShare, body: EpochBody): string | undefined {
  const { operatorKey, partyId } = deps;
  const evidence = body.evidence;
  if (operatorKey === undefined) return 'no operator key pinned to check evidence with';
  if (evidence === undefined) return 'no evidence of the new epoch';
  if (evidence.publicKey !== share.publicKey) return 'the evidence names another group key';
  if (evidence.parties.includes(partyId)) return 'this party is of the new epoch: it promotes';
  const signers = Object.keys(evidence.signatures);
  if (signers.length < Math.max(evidence.threshold, share.threshold))
    return 'fewer promotions than the thresholds of both epochs';
  for (const p of signers) {
    const cert = evidence.certificates[p];
    const signature = evidence.signatures[p];
    if (!evidence.parties.includes(p)) return `${p} is not a party of the new epoch`;
    if (cert === undefined || signature === undefined) return `no promotion of ${p}`;
    const bad = certificateProblem(cert, operatorKey, { partyId: p });
    if (bad !== undefined) return bad;
    const statement = promotionStatement({
      walletId: body.walletId,
      operationId: body.operationId,
      epoch: body.epoch,
      threshold: evidence.threshold,
      parties: evidence.parties,
      publicKey: evidence.publicKey,
      partyId: p,
    });
    if (
      !verifyDetached(
        promotionDomain,
        statement,
        hexToBytes(signature),
        hexToBytes(cert.identityKey),
      )
    )
      return `the promotion of ${p} does not verify`;
  }
  return undefined;
}
