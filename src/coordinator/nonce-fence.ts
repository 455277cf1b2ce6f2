/**
 * One transaction per account nonce (issue 14): on an account-based chain, two different
 * transactions with one nonce are a double spend in waiting. The coordinator binds each
 * (wallet, chainId, nonce) slot to the content of the first transaction it admitted for it, with
 * a create-if-absent in the store (linearizable on etcd, so replicas racing for one slot agree
 * on one winner). A later request for the slot is admitted only with the same content: the same
 * transaction again, or a speed-up (same destination, amount and data, another fee). Every party
 * fences the slot in its own journal too (src/party/transaction-check.ts).
 *
 * The binding is for good, whatever the first request's outcome: a slot cannot be handed to
 * another transaction on the coordinator's word, because parties may have seen the first one.
 */
import { QuorateError } from '../core/errors.ts';
import { nonceContentOf, nonceSlotOf, type EvmFacts } from '../protocol/evm-transaction.ts';
import type { Store } from '../store/store.ts';

/** What a slot holds: the content it is bound to and the intent that first took it. */
interface NonceSlot {
  content: string;
  intentKey: string;
}

const metaKeyOf = (walletId: string, path: string, facts: EvmFacts): string =>
  `evm-nonce/${walletId}/${nonceSlotOf(facts, path)}`;

function parseSlot(raw: string): NonceSlot | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null) return undefined;
    const { content, intentKey } = value as Record<string, unknown>;
    if (typeof content !== 'string' || typeof intentKey !== 'string') return undefined;
    return { content, intentKey };
  } catch {
    return undefined;
  }
}

/**
 * Takes the transaction's nonce slot for `walletId`, or confirms it holds the same content;
 * `QUORATE_E_NONCE_TAKEN` (naming the intent that holds it) otherwise.
 */
export async function claimNonce(
  store: Store,
  walletId: string,
  path: string,
  facts: EvmFacts,
  intentKey: string,
): Promise<void> {
  const mine: NonceSlot = { content: nonceContentOf(facts), intentKey };
  const key = metaKeyOf(walletId, path, facts);
  const stored = await store.putMetaIfAbsent(key, JSON.stringify(mine));
  const holder = parseSlot(stored);
  if (holder?.content === mine.content) return;
  throw new QuorateError(
    'QUORATE_E_NONCE_TAKEN',
    `nonce ${facts.nonce} on chain ${facts.chainId} is taken by another transaction`,
    {
      walletId,
      chainId: facts.chainId,
      nonce: facts.nonce,
      ...(holder === undefined ? {} : { intentKey: holder.intentKey }),
    },
  );
}
