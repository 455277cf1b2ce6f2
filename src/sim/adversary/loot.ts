/**
 * What an adversary holds and what it tries with it. It keeps every plaintext it opened (DKG
 * shares: evaluations of a dealer's polynomial), its own parties' key shares, and every
 * signature share it collected; at the end it tries, with noble's FROST only:
 *
 * - to rebuild each wallet's group secret: Lagrange over the evaluations it holds per dealer
 *   (summed over dealers), and over its own final shares; a candidate matches if it times the
 *   generator is the group key;
 * - to forge: aggregate the collected shares of each (message, commitment list) it asked for,
 *   and sign a message of its own with any rebuilt secret; a forgery counts if it verifies.
 */
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr_FROST, secp256k1, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import type { FROST } from '@noble/curves/abstract/frost.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../../core/encoding.ts';
import type { FrostScheme, Payload, Scheme } from '../../protocol/engine.ts';
import { frostIdentifier, frostSchemeOf } from '../../protocol/frost.ts';
import { coordinatorEngines as engines } from '../../protocol/engines.ts';
import type { AdversaryLoot, Forgery, Reconstruction } from '../../checker/adversary-types.ts';

const frostOf: Record<FrostScheme, FROST> = {
  ed25519: ed25519_FROST,
  bip340: schnorr_FROST,
  secp256k1: secp256k1_FROST,
};

/** The public facts of a wallet the adversary attacks. */
export interface TargetWallet {
  walletId: string;
  scheme: Scheme;
  threshold: number;
  parties: string[];
  publicKey: string;
  /** The group commitment (compressed point hex): `publicPackage.commitments[0]`. */
  groupCommitment: string;
}

/** One collected signature share and the commitment list it was asked under. */
interface CollectedShare {
  partyId: string;
  share: string;
  /** Signer → {hiding, binding} hex, as sent to that signer. */
  list: Record<string, { hiding: string; binding: string }>;
}

type Secret = { identifier: string; signingShare: Uint8Array };
type FrostPublic = Parameters<FROST['aggregate']>[0];

const isHex = (x: unknown): x is string => typeof x === 'string' && /^(?:[0-9a-f]{2})+$/.test(x);

/** A stored public package (hex fields) in noble's shape; undefined if it is not one. */
function decodePublic(p: Payload): FrostPublic | undefined {
  const signers = p['signers'];
  const commitments = p['commitments'];
  const shares = p['verifyingShares'];
  if (typeof signers !== 'object' || signers === null || !Array.isArray(commitments))
    return undefined;
  if (typeof shares !== 'object' || shares === null) return undefined;
  const { min, max } = signers as Record<string, unknown>;
  if (typeof min !== 'number' || typeof max !== 'number' || !commitments.every(isHex))
    return undefined;
  const entries = Object.entries(shares);
  if (!entries.every(([, v]) => isHex(v))) return undefined;
  return {
    signers: { min, max },
    commitments: commitments.map((c) => hexToBytes(c)),
    verifyingShares: Object.fromEntries(entries.map(([k, v]) => [k, hexToBytes(String(v))])),
  };
}

/** An adversary's holdings across a run. */
export class Loot {
  readonly report: AdversaryLoot = { openedShares: [], reconstructions: [], forgeries: [] };
  /** walletId → dealer → evaluations of that dealer's polynomial. */
  private readonly evaluations = new Map<string, Map<string, Secret[]>>();
  private readonly ownShares = new Map<string, Secret[]>();
  /** `${walletId}|${messageHex}` → shares collected for that message. */
  private readonly shares = new Map<string, CollectedShare[]>();

  /** A DKG share from `dealer` to `recipient` the adversary read in plaintext. */
  opened(
    wallet: Pick<TargetWallet, 'walletId' | 'scheme'>,
    dealer: string,
    recipient: string,
    plain: Uint8Array,
    ownRecipient: boolean,
  ): void {
    const { walletId, scheme } = wallet;
    this.report.openedShares.push({ walletId, dealer, recipient, ownRecipient });
    const byDealer = this.evaluations.get(walletId) ?? new Map<string, Secret[]>();
    const list = byDealer.get(dealer) ?? [];
    list.push({
      identifier: frostIdentifier(frostSchemeOf(scheme), recipient),
      signingShare: plain,
    });
    byDealer.set(dealer, list);
    this.evaluations.set(walletId, byDealer);
  }

  /** One of the adversary's own parties' final key shares (parties mode). */
  ownShare(walletId: string, secret: Secret): void {
    this.ownShares.set(walletId, [...(this.ownShares.get(walletId) ?? []), secret]);
  }

  /** A signature share collected for `messageHex`. */
  collected(walletId: string, messageHex: string, share: CollectedShare): void {
    const key = `${walletId}|${messageHex}`;
    this.shares.set(key, [...(this.shares.get(key) ?? []), share]);
  }

  /** Every attempt at the end of the run: rebuild, then forge, on each wallet. */
  exploit(wallets: readonly TargetWallet[]): void {
    for (const wallet of wallets) {
      const candidates = this.candidates(wallet);
      for (const c of candidates) this.tryCandidate(wallet, c.secret, c.used);
      this.tryAggregates(wallet);
    }
  }

  private candidates(wallet: TargetWallet): { secret: Uint8Array; used: number }[] {
    const frost = frostOf[frostSchemeOf(wallet.scheme)];
    const n = wallet.parties.length;
    const out: { secret: Uint8Array; used: number }[] = [];
    const own = this.ownShares.get(wallet.walletId) ?? [];
    const fromOwn = interpolate(frost, own, n);
    if (fromOwn) out.push({ secret: fromOwn, used: own.length });
    const byDealer = this.evaluations.get(wallet.walletId);
    if (byDealer && byDealer.size > 0) {
      const Fn = frost.utils.Fn;
      let sum = Fn.ZERO;
      let used = 0;
      for (const points of byDealer.values()) {
        const part = interpolate(frost, points, n);
        if (part) sum = Fn.add(sum, Fn.fromBytes(part));
        used += points.length;
      }
      out.push({ secret: Fn.toBytes(sum), used });
    }
    return out;
  }

  private tryCandidate(wallet: TargetWallet, secret: Uint8Array, used: number): void {
    const frost = frostOf[frostSchemeOf(wallet.scheme)];
    let matched = false;
    try {
      const scalar = frost.utils.Fn.fromBytes(secret);
      const point =
        wallet.scheme === 'ed25519'
          ? ed25519.Point.BASE.multiply(scalar).toBytes()
          : secp256k1.Point.BASE.multiply(scalar).toBytes(true);
      matched = bytesToHex(point) === wallet.groupCommitment;
    } catch {
      matched = false; // zero or out-of-range candidate: nothing rebuilt
    }
    const attempt: Reconstruction = { walletId: wallet.walletId, sharesUsed: used, matched };
    this.report.reconstructions.push(attempt);
    const message = utf8ToBytes(`forged by the adversary for ${wallet.walletId}`);
    let verified = false;
    try {
      const sig = frost.sign(message, secret);
      verified = engines[wallet.scheme].verify(sig, message, hexToBytes(wallet.publicKey));
    } catch {
      verified = false;
    }
    this.forged(wallet.walletId, message, 'reconstructed-key', verified);
  }

  private tryAggregates(wallet: TargetWallet): void {
    const frost = frostOf[frostSchemeOf(wallet.scheme)];
    for (const [key, collected] of this.shares) {
      const [walletId, messageHex = ''] = key.split('|');
      if (walletId !== wallet.walletId) continue;
      // Each signer's share under the list that signer was given; combine under each list.
      const lists = new Map(collected.map((c) => [JSON.stringify(c.list), c.list]));
      for (const list of lists.values()) {
        const commitments = Object.entries(list).map(([partyId, c]) => ({
          identifier: frostIdentifier(frostSchemeOf(wallet.scheme), partyId),
          hiding: hexToBytes(c.hiding),
          binding: hexToBytes(c.binding),
        }));
        const sigShares = Object.fromEntries(
          collected.map((s) => [
            frostIdentifier(frostSchemeOf(wallet.scheme), s.partyId),
            hexToBytes(s.share),
          ]),
        );
        const message = hexToBytes(messageHex);
        let verified = false;
        try {
          const pub = this.publicOf(wallet);
          const sig = frost.aggregate(pub, commitments, message, sigShares);
          verified = engines[wallet.scheme].verify(sig, message, hexToBytes(wallet.publicKey));
        } catch {
          verified = false;
        }
        this.forged(wallet.walletId, message, 'aggregate', verified);
      }
    }
  }

  /** The wallets' public packages (FROST shape), for aggregation. */
  private readonly publicPackages = new Map<string, FrostPublic>();

  /** Records a wallet's public package (hex fields, as wallets store it). */
  publicPackage(walletId: string, payload: Payload): void {
    const pub = decodePublic(payload);
    if (pub) this.publicPackages.set(walletId, pub);
  }

  private publicOf(wallet: TargetWallet): FrostPublic {
    const pub = this.publicPackages.get(wallet.walletId);
    if (!pub) throw new Error('no public package');
    return pub;
  }

  private forged(
    walletId: string,
    message: Uint8Array,
    method: Forgery['method'],
    verified: boolean,
  ): void {
    this.report.forgeries.push({ walletId, messageHash: sha256Hex(message), method, verified });
  }
}

/** Lagrange at 0 over `points` (as many as there are); undefined if noble refuses them. */
function interpolate(frost: FROST, points: readonly Secret[], n: number): Uint8Array | undefined {
  if (points.length === 0) return undefined;
  if (points.length === 1) return points[0]?.signingShare;
  try {
    return frost.combineSecret([...points], {
      min: points.length,
      max: Math.max(n, points.length),
    });
  } catch {
    return undefined;
  }
}

/** A round-1 commitment of fresh nonces under `partyId`'s identifier (the adversary's own). */
export function fakeCommitment(
  scheme: Scheme,
  partyId: string,
  rng: (n: number) => Uint8Array,
): { hiding: string; binding: string } {
  const frost = frostOf[frostSchemeOf(scheme)];
  const random = (n?: number) => Uint8Array.from(rng(n ?? 32));
  const secret = {
    identifier: frostIdentifier(frostSchemeOf(scheme), partyId),
    signingShare: frost.utils.randomScalar(random),
  };
  const { commitments } = frost.commit(secret, random);
  return { hiding: bytesToHex(commitments.hiding), binding: bytesToHex(commitments.binding) };
}

/** A DKG round-1 package of the adversary's own polynomial, posing as `partyId`'s. */
export function fakeRound1(
  wallet: { walletId: string; scheme: Scheme; threshold: number; parties: string[] },
  partyId: string,
  rng: (n: number) => Uint8Array,
): Payload {
  const frost = frostOf[frostSchemeOf(wallet.scheme)];
  const signers = { min: wallet.threshold, max: wallet.parties.length };
  const random = (n?: number) => Uint8Array.from(rng(n ?? 32));
  const id = frostIdentifier(frostSchemeOf(wallet.scheme), partyId);
  const { public: pub } = frost.DKG.round1(id, signers, undefined, random);
  return {
    commitment: pub.commitment.map((c) => bytesToHex(c)),
    proofOfKnowledge: bytesToHex(pub.proofOfKnowledge),
    context: bytesToHex(utf8ToBytes(`quorate-dkg-v1:${wallet.walletId}`)),
  };
}
