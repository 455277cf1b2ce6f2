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
}

const isObject = (x: unknown): x is Payload =>
  typeof x === 'object' && x !== null && !Array.isArray(x);
const isString = (x: unknown): x is string => typeof x === 'string';

/** Parses a stored share; undefined if it is not one. */
function parseKeyShare(text: string): KeyShare | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
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
  };
}
