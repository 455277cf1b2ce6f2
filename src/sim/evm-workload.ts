/**
 * The EVM half of an `ecdsa` run's workload: unsigned transactions that compete for account
 * nonces, planned from the seed's own `evm` stream. For each of two nonces the run sends a first
 * transaction and one or two others for the same nonce, at random times over the fault window:
 *
 * - `conflict`: another destination or amount: a double spend in waiting, never to be signed
 *   once another content holds the slot (`QUORATE_E_NONCE_TAKEN`);
 * - `speed-up`: the same destination, amount and data with a higher fee: a replacement, which
 *   may be signed too (whichever is mined, one transfer happens);
 * - `again`: the very same transaction under another intent key.
 *
 * Which content wins a slot depends on timing and faults; the checker's N1 counts any second
 * content signed for one slot as a violation, whatever the clients saw.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transaction } from 'micro-eth-signer';
import type { SeededRandom } from '../core/seeded-random.ts';
import { decodeEvmTransaction, type EvmTransaction } from '../protocol/evm-transaction.ts';
import type { RequestPlan } from './workload.ts';

/** What one EVM request is, relative to the slot's first transaction. */
type EvmShape = 'first' | 'conflict' | 'speed-up' | 'again';

/** The transfer a transaction makes and the fee it offers. */
interface Transfer {
  to: string;
  valueWei: bigint;
  feeGwei: bigint;
}

const destinations = [
  '0x1111111111111111111111111111111111111111',
  '0x2222222222222222222222222222222222222222',
  '0xdf90dea0e0bf5ca6d2a7f0cb86874ba6714f463e',
] as const;
const chainId = 1n;
const gwei = 10n ** 9n;
/** Nonces the run's transactions compete for. */
const nonces = [0n, 1n] as const;

/** The unsigned transaction of `transfer` at `nonce` (EIP-1559, or legacy with EIP-155). */
function unsigned(type: EvmTransaction['type'], transfer: Transfer, nonce: bigint): string {
  const common = { to: transfer.to, value: transfer.valueWei, nonce, chainId };
  const fee = transfer.feeGwei * gwei;
  const tx =
    type === 'legacy'
      ? Transaction.prepare({ type: 'legacy', ...common, gasPrice: fee })
      : Transaction.prepare({ ...common, maxFeePerGas: fee });
  return tx.toHex({ includeSignature: false });
}

/** Plans the EVM requests of one run on `walletId` over [fromMs, toMs]. */
export function planEvmRequests(
  rng: SeededRandom,
  walletId: string,
  fromMs: number,
  toMs: number,
): RequestPlan[] {
  const plans: RequestPlan[] = [];
  for (const nonce of nonces) {
    const type: EvmTransaction['type'] = rng.chance(0.3) ? 'legacy' : 'eip1559';
    const first: Transfer = {
      to: rng.pick(destinations),
      valueWei: BigInt(rng.int(1, 5)) * 10n ** 15n,
      feeGwei: BigInt(rng.int(20, 40)),
    };
    const others = rng.shuffle<EvmShape>(['conflict', 'speed-up', 'again']).slice(0, rng.int(1, 2));
    for (const shape of ['first' as const, ...others]) {
      const transfer =
        shape === 'conflict'
          ? { ...first, valueWei: first.valueWei + 10n ** 15n, to: rng.pick(destinations) }
          : shape === 'speed-up'
            ? { ...first, feeGwei: first.feeGwei + 10n }
            : first;
      const transaction: EvmTransaction = { type, hex: unsigned(type, transfer, nonce) };
      const i = plans.length;
      plans.push({
        requestId: `e${i}`,
        walletId,
        atMs: rng.int(fromMs, toMs),
        intentKey: `evm-${nonce}-${i}`,
        messageHex: bytesToHex(decodeEvmTransaction(transaction).digest),
        deadlineMs: rng.int(4, 8) * 1_000,
        transaction,
      });
    }
  }
  return plans;
}
