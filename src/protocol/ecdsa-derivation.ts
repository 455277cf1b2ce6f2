/**
 * Non-hardened BIP32 child keys of an `ecdsa` wallet, so that one wallet serves many deposit
 * addresses. The wallet's public package carries the chain code its key generation agreed on
 * (every party's engine holds the same one), so the coordinator derives a child public key with
 * `@scure/bip32` (public derivation, no secret) and each party derives its child key share with
 * the engine's own `derive_child_keyshare`: two independent implementations that must agree,
 * and do (`test/unit/ecdsa-derivation.test.ts`). Hardened indices cannot be derived from shares.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { HDKey } from '@scure/bip32';
import { limits } from '../core/limits.ts';
import { shapes } from './dkls23-messages.ts';
import { encodeShape } from './dkls23-shapes.ts';
import { call, okOf, type Dkls23Api } from './ecdsa-common.ts';
import { ethereumAddress } from './ethereum-address.ts';

/** A derivation path that cannot be used (the API answers 400 with this reason). */
export class DerivationPathError extends Error {}

/** The first hardened index: only indices below it can be derived from key shares. */
const hardenedOffset = 2 ** 31;

/**
 * The child indices of `path` (`m`, `m/0/7`): non-hardened, each below 2^31, at most
 * `limits.derivationDepthMax` levels. Throws {@link DerivationPathError}.
 */
export function parseDerivationPath(path: unknown): number[] {
  if (typeof path !== 'string' || path.length > limits.derivationPathLengthMax)
    throw new DerivationPathError('derivationPath must be a short string like m/0/7');
  const parts = path.split('/');
  if (parts[0] !== 'm') throw new DerivationPathError('derivationPath must start with m');
  const indices = parts.slice(1).map((part) => {
    if (/^\d+['hH]$/.test(part))
      throw new DerivationPathError('hardened indices cannot be derived from key shares');
    if (!/^\d{1,10}$/.test(part)) throw new DerivationPathError(`bad index ${part.slice(0, 12)}`);
    const index = Number(part);
    if (index >= hardenedOffset) throw new DerivationPathError(`index ${index} is hardened`);
    return index;
  });
  if (indices.length > limits.derivationDepthMax)
    throw new DerivationPathError(`at most ${limits.derivationDepthMax} levels`);
  return indices;
}

/** The canonical text of a parsed path (`m/0/7`). */
export const pathText = (indices: readonly number[]): string => ['m', ...indices].join('/');

/** The child public key (compressed hex) and address at `indices` of a wallet's public package. */
export function childPublic(
  publicKeyHex: string,
  chainCodeHex: string,
  indices: readonly number[],
): { publicKey: string; ethereumAddress: string } {
  let node = new HDKey({
    publicKey: hexToBytes(publicKeyHex),
    chainCode: hexToBytes(chainCodeHex),
  });
  for (const index of indices) node = node.deriveChild(index);
  const publicKey = node.publicKey;
  if (!publicKey) throw new DerivationPathError('no public key at this path');
  return { publicKey: bytesToHex(publicKey), ethereumAddress: ethereumAddress(publicKey) };
}

/** A party's child key share (the engine's `Party`) at `indices`, checked against its shape. */
export async function deriveChildParty(
  api: Dkls23Api,
  party: unknown,
  indices: readonly number[],
): Promise<unknown> {
  let current = party;
  for (const index of indices) {
    current = okOf(
      'derive child',
      await call('derive child', () => api.deriveChild(current, index)),
    );
    encodeShape(shapes.party, current); // the engine's output has the shape signing decodes
  }
  return current;
}
