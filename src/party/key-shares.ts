/**
 * The party's key shares: sealed at rest in the journal (by the keystore), opened on first use
 * and cached in memory. A share read back is validated before use: it comes from a file.
 */
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { schemes, type KeyShare, type Payload } from '../protocol/engine.ts';
import type { PartyJournal } from './journal.ts';
import { Refusal } from './refusal.ts';

/** Seals/opens secrets at rest (the Keystore, or a test double). */
export interface SecretSealer {
  seal(label: string, plaintext: Uint8Array): string;
  open(label: string, sealed: string): Uint8Array;
}

const labelOf = (walletId: string) => `share:${walletId}`;
/** The journal row of a wallet's staged next-epoch share (wallet ids never contain '/'). */
const stagedRowOf = (walletId: string) => `${walletId}/staged`;

/** A share of a wallet's next epoch, made by a refresh or reshare and not yet active. */
export interface StagedShare {
  operationId: string;
  share: KeyShare;
}

/** One party's key shares by wallet id. */
export class KeyShares {
  /** Opened shares; at most one per wallet this party holds a share of (bounded by walletsMax). */
  private readonly cache = new Map<string, KeyShare>();

  constructor(
    private readonly journal: PartyJournal,
    private readonly sealer: SecretSealer,
  ) {}

  /** True if this party holds a share of `walletId`. */
  has(walletId: string): boolean {
    return this.cache.has(walletId) || this.journal.getSealedShare(walletId) !== undefined;
  }

  /** The share of `walletId`; refuses (hard) if this party has none. */
  get(walletId: string): KeyShare {
    const cached = this.cache.get(walletId);
    if (cached) return cached;
    const sealed = this.journal.getSealedShare(walletId);
    if (sealed === undefined)
      throw new Refusal('QUORATE_E_WALLET_NOT_FOUND', `no key share for ${walletId}`, true);
    const text = new TextDecoder().decode(this.sealer.open(labelOf(walletId), sealed));
    const share = parseKeyShare(text);
    if (share === undefined || share.walletId !== walletId)
      throw new Refusal(
        'QUORATE_E_KEYSTORE',
        `the stored key share of ${walletId} is invalid`,
        true,
      );
    this.cache.set(walletId, share);
    return share;
  }

  /** Seals and stores a new share (durable before this returns). */
  put(share: KeyShare): void {
    const plain = utf8ToBytes(JSON.stringify(share));
    this.journal.putSealedShare(share.walletId, this.sealer.seal(labelOf(share.walletId), plain));
    this.cache.set(share.walletId, share);
  }

  /**
   * Stages the next epoch's share, sealed like an active one, in its own row (durable before
   * this returns). It replaces any staged share of an operation that ended without a flip.
   */
  stage(staged: StagedShare): void {
    const walletId = staged.share.walletId;
    const plain = utf8ToBytes(JSON.stringify(staged));
    this.journal.putSealedShare(stagedRowOf(walletId), this.sealer.seal(labelOf(walletId), plain));
  }

  /** The staged share of `walletId`, if any (a corrupt row refuses, like an active one). */
  staged(walletId: string): StagedShare | undefined {
    const sealed = this.journal.getSealedShare(stagedRowOf(walletId));
    if (sealed === undefined) return undefined;
    const text = new TextDecoder().decode(this.sealer.open(labelOf(walletId), sealed));
    const staged = parseStaged(text);
    if (staged === undefined || staged.share.walletId !== walletId)
      throw new Refusal(
        'QUORATE_E_KEYSTORE',
        `the staged key share of ${walletId} is invalid`,
        true,
      );
    return staged;
  }

  /**
   * Makes the staged share of `epoch` the active one and erases the share it replaces. The
   * active row is written before the staged one is erased: a crash in between leaves the new
   * share active and a staged copy that {@link staged}'s callers erase as already promoted.
   */
  promote(walletId: string, epoch: number): boolean {
    const staged = this.staged(walletId);
    if (staged === undefined || (staged.share.epoch ?? 0) !== epoch) return false;
    this.put(staged.share);
    this.journal.deleteSealedShare(stagedRowOf(walletId));
    return true;
  }

  /** Erases the staged share (of `operationId` only, if given); true iff one was erased. */
  eraseStaged(walletId: string, operationId?: string): boolean {
    if (operationId !== undefined && this.staged(walletId)?.operationId !== operationId)
      return false;
    return this.journal.deleteSealedShare(stagedRowOf(walletId));
  }

  /** Erases the active share (its epoch was retired by a flip this party is not part of). */
  erase(walletId: string): boolean {
    this.cache.delete(walletId);
    return this.journal.deleteSealedShare(walletId);
  }
}

/** Parses a stored staged share; undefined if it is not one. */
function parseStaged(text: string): StagedShare | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(raw) || !isString(raw['operationId'])) return undefined;
  const share = keyShareOf(raw['share']);
  return share && { operationId: raw['operationId'], share };
}

const isObject = (x: unknown): x is Payload =>
  typeof x === 'object' && x !== null && !Array.isArray(x);
const isString = (x: unknown): x is string => typeof x === 'string';

/** Parses a stored share; undefined if it is not one. */
function parseKeyShare(text: string): KeyShare | undefined {
  try {
    return keyShareOf(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** A key share as read back; undefined if it is not one. */
function keyShareOf(raw: unknown): KeyShare | undefined {
  if (!isObject(raw)) return undefined;
  const { scheme, walletId, partyId, threshold, parties, publicPackage, secretPackage } = raw;
  const { publicKey, tier } = raw;
  const knownScheme = schemes.find((s) => s === scheme);
  if (knownScheme === undefined || !isString(walletId) || !isString(partyId)) return undefined;
  if (typeof threshold !== 'number' || !Number.isSafeInteger(threshold)) return undefined;
  if (!Array.isArray(parties) || !parties.every(isString)) return undefined;
  if (!isObject(publicPackage) || !isObject(secretPackage) || !isString(publicKey))
    return undefined;
  if (tier !== undefined && !isString(tier)) return undefined;
  const epoch = raw['epoch'];
  if (
    epoch !== undefined &&
    !(typeof epoch === 'number' && Number.isSafeInteger(epoch) && epoch >= 0)
  )
    return undefined;
  return {
    scheme: knownScheme,
    walletId,
    partyId,
    threshold,
    parties: [...parties],
    publicPackage,
    secretPackage,
    publicKey,
    ...(tier === undefined ? {} : { tier }),
    ...(epoch === undefined ? {} : { epoch }),
  };
}
