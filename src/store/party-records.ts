/**
 * The party-record rules every store shares: what redeeming an enrolment invitation does, and
 * the bound on pins plus pending invitations. Stores judge on one snapshot and write the result
 * in the same atomic step, so the three implementations cannot drift apart.
 */
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { PartyInvitation, PartyRecord } from './store.ts';

/** The outcome of a redeem: the pin in force afterwards, and whether `record` is written. */
export interface RedeemOutcome {
  pin: PartyRecord;
  /** True iff the store must write `record` as the pin (new, rotated or re-enrolled). */
  write: boolean;
}

/**
 * Judges a redeem of `invitation` (the one stored for `record.partyId`, if any) with `macKey`
 * against the `existing` pin. `undefined`: the invitation is absent or different and nothing
 * may change. Otherwise the invitation is spent, and `record` replaces an existing pin only if
 * the invitation allows rotation or the existing pin was revoked.
 */
export function judgeRedeem(
  invitation: PartyInvitation | undefined,
  macKey: string,
  existing: PartyRecord | undefined,
  record: PartyRecord,
): RedeemOutcome | undefined {
  if (invitation?.partyId !== record.partyId || invitation.macKey !== macKey) return undefined;
  if (existing && !invitation.rotate && existing.revokedMs === undefined) {
    return { pin: existing, write: false };
  }
  return { pin: record, write: true };
}

/** True iff `invitation` had expired by `nowMs` (the issue time of a newer invitation). */
export const invitationExpired = (invitation: PartyInvitation, nowMs: number): boolean =>
  invitation.expiresMs <= nowMs;

/**
 * Throws `QUORATE_E_OVERLOADED` if a new party id would take the store past
 * `limits.storePartyRecordsMax` (`partyIds`: the distinct ids with a pin or an invitation).
 */
export function checkPartyRecordsRoom(partyIds: number): void {
  if (partyIds < limits.storePartyRecordsMax) return;
  throw new QuorateError('QUORATE_E_OVERLOADED', 'too many parties and pending invitations', {
    reason: 'party-records-max',
    partyRecordsMax: limits.storePartyRecordsMax,
  });
}
