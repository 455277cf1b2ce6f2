/**
 * N1, one transaction per account nonce (issue 14): for each wallet and account-nonce slot
 * (derivation path, chainId, nonce), every transaction the store shows signed has one content
 * (destination, amount and data): a speed-up that only changes the fee is the same transfer, any
 * other second transaction is a double spend in waiting. The checker decodes each signed
 * session's transaction itself, from the bytes the request carried.
 */
import { decodeEvmTransaction, nonceContentOf, nonceSlotOf } from '../protocol/evm-transaction.ts';
import type { CheckInput, Violation } from './types.ts';

/** N1 over the store's signed sessions. */
export function checkNonceSlots(input: CheckInput): Violation[] {
  const out: Violation[] = [];
  /** wallet + slot → content → the sessions that signed it. */
  const slots = new Map<string, Map<string, string[]>>();
  for (const s of input.sessions) {
    if (s.status !== 'signed' || s.transaction === undefined) continue;
    let facts;
    try {
      facts = decodeEvmTransaction(s.transaction).facts;
    } catch (error) {
      out.push({
        invariant: 'N1',
        message: 'a signed session carries a transaction that does not decode',
        detail: { sessionId: s.sessionId, reason: String(error) },
      });
      continue;
    }
    const key = `${s.walletId}/${nonceSlotOf(facts, s.derivationPath ?? 'm')}`;
    const contents = slots.get(key) ?? new Map<string, string[]>();
    const content = nonceContentOf(facts);
    contents.set(content, [...(contents.get(content) ?? []), s.sessionId]);
    slots.set(key, contents);
  }
  for (const [slot, contents] of slots) {
    if (contents.size > 1)
      out.push({
        invariant: 'N1',
        message: 'two different transactions were signed for one account nonce',
        detail: { slot, sessions: [...contents.values()] },
      });
  }
  return out;
}
