/**
 * A sign-start that carries an EVM transaction: the party decodes it itself (the coordinator is
 * not trusted with what a message means), signs only if the digest it was asked for is that
 * transaction's, and holds its rules to the transaction's facts: a policy block whose amount,
 * asset, destination or call selector differ from them (a smaller amount, another or no destination) is
 * refused before any one-time secret is drawn.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  decodeEvmTransaction,
  EvmTransactionError,
  nonceContentOf,
  nonceSlotOf,
  type EvmFacts,
} from '../protocol/evm-transaction.ts';
import type { PartyJournal } from './journal.ts';
import type { KeyShare } from '../protocol/engine.ts';
import type { SignStartBody } from '../transport/wire.ts';
import { Refusal } from './refusal.ts';

/** The decided context fields, as a policy block must carry them for a transaction. */
const decided = ['amount', 'asset', 'destination', 'selector'] as const;

/** Decodes and checks `body.transaction` (if any); throws a hard Refusal if it does not hold. */
export function checkTransaction(key: KeyShare, body: SignStartBody): EvmFacts | undefined {
  const transaction = body.transaction;
  if (transaction === undefined) {
    // A selector is a decoded fact: a block that names one without a transaction to decode it
    // from is a claim dressed as a fact (a rule written on `selector` would believe it).
    if (body.policy?.context['selector'] !== undefined)
      throw new Refusal(
        'QUORATE_E_TX_CONTEXT_MISMATCH',
        'policy context names a call selector, but there is no transaction to decode it from',
        true,
      );
    return undefined;
  }
  if (key.scheme !== 'ecdsa')
    throw new Refusal('QUORATE_E_BAD_TRANSACTION', 'only an ecdsa wallet signs transactions', true);
  let digest: Uint8Array;
  let facts: EvmFacts;
  try {
    ({ digest, facts } = decodeEvmTransaction(transaction));
  } catch (error) {
    if (!(error instanceof EvmTransactionError)) throw error;
    throw new Refusal('QUORATE_E_BAD_TRANSACTION', error.message, true);
  }
  if (bytesToHex(digest) !== body.messageHex)
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'message is not the transaction digest', true);
  const context = body.policy?.context;
  if (context !== undefined) {
    const differ = decided.filter((field) => context[field] !== facts[field]);
    if (differ.length > 0)
      throw new Refusal(
        'QUORATE_E_TX_CONTEXT_MISMATCH',
        `policy context ${differ.join(', ')} differ from the transaction`,
        true,
      );
  }
  return facts;
}

/**
 * Fences the transaction's account-nonce slot in the party's journal (durably, before any
 * one-time secret is drawn): the slot is bound to the first transaction content this party was
 * asked to sign for it, for good; a different one is refused (`QUORATE_E_NONCE_TAKEN`), a
 * speed-up (same destination, amount and data) passes. The lock lives beside the intent locks
 * under a wallet key no real wallet has (`<walletId>#evm-nonce`), so no client intent key can
 * collide with it.
 */
export function lockNonce(
  journal: PartyJournal,
  walletId: string,
  path: string,
  facts: EvmFacts,
  sessionId: string,
): void {
  const result = journal.lockIntent(
    `${walletId}#evm-nonce`,
    nonceSlotOf(facts, path),
    nonceContentOf(facts),
    sessionId,
  );
  if (!result.ok)
    throw new Refusal(
      'QUORATE_E_NONCE_TAKEN',
      `nonce ${facts.nonce} on chain ${facts.chainId} is bound to another transaction`,
      true,
    );
}
