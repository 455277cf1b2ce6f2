/**
 * EVM transactions as facts. An unsigned transaction (`eip1559`: the EIP-2718 envelope
 * `0x02 || rlp([...])`; `legacy`: `rlp([..., chainId, 0, 0])`, EIP-155) is decoded with
 * `micro-eth-signer` (RLP and the transaction codec; keccak-256 from `@noble/hashes`), never by
 * hand. The coordinator and every party decode it themselves and derive:
 * - the digest to sign: keccak-256 of the unsigned encoding;
 * - the facts the signing-time rules see: `chainId`, the account `nonce`, `destination`
 *   (`to`, lower-case hex), `amount` (`value` as an exact decimal of the chain's native coin,
 *   18 decimals) and `asset` (that coin), and the call's 4-byte `selector`.
 * Only the canonical encoding is accepted (the bytes re-encode to themselves), so every decoder
 * hashes the same bytes.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transaction } from 'micro-eth-signer';
import { canonicalJson } from '../core/encoding.ts';
import { limits } from '../core/limits.ts';
import { sha256 } from '../core/openssl.ts';

/** The transaction types Quorate decodes. */
export type EvmTxType = 'eip1559' | 'legacy';
export const evmTxTypes: readonly EvmTxType[] = ['eip1559', 'legacy'];

/** A transaction as a request carries it: its type and its unsigned encoding (hex). */
export interface EvmTransaction {
  type: EvmTxType;
  hex: string;
}

/** What a decoded transaction tells the rules. */
export interface EvmFacts {
  chainId: string;
  nonce: string;
  /** `to`, lower-case `0x` hex; absent for a contract creation. */
  destination?: string;
  /** `value` in whole native coins, exact decimal (wei / 10^18). */
  amount: string;
  asset: string;
  /** The first 4 bytes of `data` (`0x` hex), if `data` has them. */
  selector?: string;
  /** Fee fields, decimal wei: for an explicit replacement's comparison. */
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  /** `data`, lower-case `0x` hex. */
  data: string;
}

/** A decoded, checked transaction. */
export interface DecodedEvmTransaction {
  digest: Uint8Array;
  facts: EvmFacts;
}

/** A transaction that cannot be signed as given (the API answers 400 with this reason). */
export class EvmTransactionError extends Error {}

/** The native coin of well-known chains; other chains `native:<chainId>`. */
const nativeCoins: ReadonlyMap<bigint, string> = new Map([
  [1n, 'ETH'],
  [10n, 'ETH'],
  [8453n, 'ETH'],
  [42161n, 'ETH'],
  [11155111n, 'ETH'],
  [17000n, 'ETH'],
  [56n, 'BNB'],
  [137n, 'POL'],
  [43114n, 'AVAX'],
]);

/** The asset name of a chain's native coin. */
export function nativeAsset(chainId: bigint): string {
  return nativeCoins.get(chainId) ?? `native:${chainId}`;
}

/** `wei` as an exact decimal of whole coins (18 decimals), no trailing zeros. */
export function weiToCoins(wei: bigint): string {
  const whole = wei / 10n ** 18n;
  const fraction = (wei % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '');
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`;
}

/** The unsigned encoding's hex, without `0x`, lower case, or an error. */
function normalisedHex(hex: unknown): string {
  if (typeof hex !== 'string') throw new EvmTransactionError('transaction.hex is not a string');
  const body = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (body.length === 0 || body.length > limits.messageBytesMax * 2)
    throw new EvmTransactionError('transaction.hex is empty or too long');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(body))
    throw new EvmTransactionError('transaction.hex is not even-length hex');
  return body.toLowerCase();
}

type AnyTransaction = ReturnType<typeof Transaction.fromHex>;

/** Decodes and checks an unsigned transaction; throws {@link EvmTransactionError}. */
function decodeTransaction(request: EvmTransaction): AnyTransaction {
  if (!evmTxTypes.includes(request.type))
    throw new EvmTransactionError(`transaction.type must be one of ${evmTxTypes.join(', ')}`);
  const hex = normalisedHex(request.hex);
  let tx: AnyTransaction;
  try {
    tx = Transaction.fromHex(hex, false);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new EvmTransactionError(`transaction does not decode: ${why.slice(0, 200)}`);
  }
  if (tx.type !== request.type)
    throw new EvmTransactionError(`transaction is ${tx.type}, not ${request.type}`);
  if (tx.isSigned) throw new EvmTransactionError('transaction is already signed');
  if (tx.type === 'legacy' && (tx.raw as { chainId?: bigint }).chainId === undefined)
    throw new EvmTransactionError('a legacy transaction needs its chainId (EIP-155)');
  if (bytesToHex(tx.toBytes({ includeSignature: false })) !== hex)
    throw new EvmTransactionError('transaction is not in its canonical encoding');
  return tx;
}

/** The facts of a decoded transaction. */
function factsOf(tx: AnyTransaction): EvmFacts {
  const raw = tx.raw as {
    chainId: bigint;
    nonce: bigint;
    to?: string;
    value: bigint;
    data: string;
    gasPrice?: bigint;
    maxFeePerGas?: bigint;
    maxPriorityFeePerGas?: bigint;
  };
  const data = raw.data.toLowerCase();
  const maxFee = raw.maxFeePerGas ?? raw.gasPrice ?? 0n;
  return {
    chainId: raw.chainId.toString(),
    nonce: raw.nonce.toString(),
    ...(raw.to === undefined || raw.to === '' ? {} : { destination: raw.to.toLowerCase() }),
    amount: weiToCoins(raw.value),
    asset: nativeAsset(raw.chainId),
    ...(data.length >= 10 ? { selector: data.slice(0, 10) } : {}),
    maxFeePerGas: maxFee.toString(),
    maxPriorityFeePerGas: (raw.maxPriorityFeePerGas ?? raw.gasPrice ?? 0n).toString(),
    data,
  };
}

/** Decodes an unsigned EVM transaction into the digest to sign and its facts. */
export function decodeEvmTransaction(request: EvmTransaction): DecodedEvmTransaction {
  const tx = decodeTransaction(request);
  return { digest: keccak_256(tx.toBytes({ includeSignature: false })), facts: factsOf(tx) };
}

/**
 * The signed raw transaction (`0x` hex, ready to broadcast) from the unsigned one and its
 * signature (64-byte r‖s, low-S) and recovery id.
 */
export function signedEvmTransaction(
  request: EvmTransaction,
  signature: Uint8Array,
  recoveryId: number,
): string {
  const tx = decodeTransaction(request);
  const r = BigInt(`0x${bytesToHex(signature.subarray(0, 32))}`);
  const s = BigInt(`0x${bytesToHex(signature.subarray(32, 64))}`);
  const signed = new Transaction(tx.type, { ...tx.raw, r, s, yParity: recoveryId });
  return signed.toHex();
}

/**
 * The account-nonce slot a transaction takes, `<path>/<chainId>/<nonce>`: each derived key is
 * its own account with its own nonces, and Quorate signs at most one transaction content per
 * slot and wallet.
 */
export function nonceSlotOf(facts: EvmFacts, path = 'm'): string {
  return `${path}/${facts.chainId}/${facts.nonce}`;
}

/**
 * What a slot is bound to: sha256 over the canonical JSON of the transaction's destination,
 * amount and data. A replacement (a speed-up) repeats them with other fees, so it has the same
 * content and may be signed too: whichever is mined, the same transfer happens once.
 */
export function nonceContentOf(facts: EvmFacts): string {
  const content = {
    destination: facts.destination ?? null,
    amount: facts.amount,
    data: facts.data,
  };
  return bytesToHex(sha256(new TextEncoder().encode(canonicalJson(content))));
}
