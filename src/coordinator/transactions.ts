/**
 * A signing request that carries an EVM transaction instead of a message: the coordinator
 * decodes it (the parties do again), signs its digest, and lets the rules see its facts. A
 * declared context that contradicts them is refused; an absent one is filled from them.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { QuorateError } from '../core/errors.ts';
import {
  decodeEvmTransaction,
  EvmTransactionError,
  type EvmFacts,
  type EvmTransaction,
} from '../protocol/evm-transaction.ts';
import type { SigningContext } from '../session/record.ts';
import type { Store } from '../store/store.ts';
import type { SignRequest } from './admission.ts';
import { claimNonce } from './nonce-fence.ts';
import {
  childPublic,
  DerivationPathError,
  parseDerivationPath,
  pathText,
} from '../protocol/ecdsa-derivation.ts';
import type { WalletRecord } from '../store/store.ts';

/** The context fields a transaction decides. */
const decidedFields = ['amount', 'asset', 'destination'] as const;

/** The decoded transaction as the session records it. */
export interface TransactionIntake {
  messageHex: string;
  context: SigningContext;
  transaction: EvmTransaction;
  facts: EvmFacts;
}

/** Decodes `transaction` for `wallet`; `QUORATE_E_BAD_TRANSACTION` if it cannot be signed. */
export function decodeForWallet(
  wallet: WalletRecord,
  transaction: EvmTransaction,
): EvmFacts & {
  digest: Uint8Array;
} {
  if (wallet.scheme !== 'ecdsa')
    throw new QuorateError('QUORATE_E_BAD_TRANSACTION', 'only an ecdsa wallet signs transactions', {
      scheme: wallet.scheme,
    });
  try {
    const { digest, facts } = decodeEvmTransaction(transaction);
    return { ...facts, digest };
  } catch (error) {
    if (!(error instanceof EvmTransactionError)) throw error;
    throw new QuorateError('QUORATE_E_BAD_TRANSACTION', error.message, { type: transaction.type });
  }
}

/**
 * The context a decoded transaction fixes: its facts, which a declared context may repeat but
 * not contradict (`QUORATE_E_TX_CONTEXT_MISMATCH` naming the fields).
 */
export function contextOfTransaction(
  facts: EvmFacts,
  declared: SigningContext | undefined,
): SigningContext {
  const decided: SigningContext = {
    amount: facts.amount,
    asset: facts.asset,
    ...(facts.destination === undefined ? {} : { destination: facts.destination }),
    ...(facts.selector === undefined ? {} : { selector: facts.selector }),
  };
  const contradicted = decidedFields.filter((field) => {
    const claim = declared?.[field];
    if (claim === undefined) return false;
    const fact = decided[field];
    return field === 'destination'
      ? claim.toLowerCase() !== fact
      : field === 'amount'
        ? !sameDecimal(claim, fact)
        : claim !== fact;
  });
  if (contradicted.length > 0)
    throw new QuorateError(
      'QUORATE_E_TX_CONTEXT_MISMATCH',
      `the declared ${contradicted.join(', ')} contradict${contradicted.length === 1 ? 's' : ''} the transaction`,
      { fields: contradicted, transaction: decided },
    );
  return decided;
}

/** True if two decimal strings are the same number ("1.50" and "1.5"). */
function sameDecimal(a: string, b: string | undefined): boolean {
  if (b === undefined) return false;
  const norm = (x: string) => {
    if (!/^\d+(\.\d+)?$/.test(x)) return x;
    const [whole = '', fraction = ''] = x.split('.');
    const w = whole.replace(/^0+(?=\d)/, '');
    const f = fraction.replace(/0+$/, '');
    return f === '' ? w : `${w}.${f}`;
  };
  return norm(a) === norm(b);
}

/** Everything a session needs from a transaction request. */
export function intakeTransaction(
  wallet: WalletRecord,
  transaction: EvmTransaction,
  declared: SigningContext | undefined,
): TransactionIntake {
  const { digest, ...facts } = decodeForWallet(wallet, transaction);
  const hex = transaction.hex.startsWith('0x') ? transaction.hex.slice(2) : transaction.hex;
  return {
    messageHex: bytesToHex(digest),
    context: contextOfTransaction(facts, declared),
    transaction: { type: transaction.type, hex: hex.toLowerCase() },
    facts,
  };
}

/**
 * A signing request as the coordinator admits it. For an `ecdsa` wallet: a transaction decoded
 * (its digest the message, its facts the context), the message a 32-byte digest
 * (`QUORATE_E_DIGEST_REQUIRED`), a derivation path parsed and written canonically
 * (`QUORATE_E_BAD_DERIVATION_PATH`), and the transaction's account-nonce slot claimed before any
 * session exists for it (`QUORATE_E_NONCE_TAKEN`). Other schemes take neither a transaction nor a
 * path.
 */
export async function prepareSignRequest(
  store: Store,
  wallet: WalletRecord,
  asked: SignRequest,
): Promise<SignRequest> {
  const path = pathOf(wallet, asked.derivationPath);
  if (asked.transaction === undefined && wallet.scheme !== 'ecdsa') return asked;
  const intake =
    asked.transaction === undefined
      ? undefined
      : intakeTransaction(wallet, asked.transaction, asked.context);
  const request: SignRequest = {
    ...asked,
    ...(intake === undefined
      ? {}
      : {
          messageHex: intake.messageHex,
          context: intake.context,
          transaction: intake.transaction,
        }),
    ...(path === undefined ? {} : { derivationPath: path }),
  };
  if (request.messageHex.length !== 64)
    throw new QuorateError('QUORATE_E_DIGEST_REQUIRED', 'an ecdsa wallet signs a 32-byte digest', {
      bytes: request.messageHex.length / 2,
    });
  if (intake !== undefined)
    await claimNonce(store, wallet.walletId, path ?? 'm', intake.facts, request.intentKey);
  return request;
}

/** A request's derivation path, canonical (`m/0/7`), for an ecdsa wallet only. */
function pathOf(wallet: WalletRecord, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  if (wallet.scheme !== 'ecdsa')
    throw new QuorateError('QUORATE_E_BAD_DERIVATION_PATH', 'only an ecdsa wallet derives keys', {
      scheme: wallet.scheme,
    });
  try {
    return pathText(parseDerivationPath(path));
  } catch (error) {
    if (!(error instanceof DerivationPathError)) throw error;
    throw new QuorateError('QUORATE_E_BAD_DERIVATION_PATH', error.message, { path });
  }
}

/** The child public key and address of an ecdsa wallet at `path` (`GET …/addresses`). */
export function walletAddress(
  wallet: WalletRecord,
  path: string,
): { walletId: string; path: string; publicKey: string; ethereumAddress: string } {
  const indices = parseDerivationPath(pathOf(wallet, path) ?? 'm');
  const chainCode = wallet.publicPackage['chainCode'];
  if (typeof chainCode !== 'string')
    throw new QuorateError('QUORATE_E_BAD_DERIVATION_PATH', 'this wallet has no chain code', {
      walletId: wallet.walletId,
    });
  const child = childPublic(wallet.publicKey, chainCode, indices);
  return { walletId: wallet.walletId, path: pathText(indices), ...child };
}
