/** Identifier formats and generation (randomness comes from the Env). */
import { bytesToHex } from './encoding.ts';
import type { Env } from './env.ts';
import { limits } from './limits.ts';

/** Party ids: lowercase letters, digits, dash, underscore, dot; 1..partyIdLengthMax. */
export const partyIdPattern = `^[a-z0-9][a-z0-9._-]{0,${limits.partyIdLengthMax - 1}}$`;
const partyIdRegex = new RegExp(partyIdPattern);

/** True if `id` is a syntactically valid party id. */
export function isPartyId(id: string): boolean {
  return partyIdRegex.test(id);
}

/**
 * A random id with a readable prefix: `w_…` wallets, `s_…` sessions, `k_…` keygens, `o_…`
 * lifecycle operations.
 */
export function newId(env: Env, prefix: 'w' | 's' | 'k' | 'o'): string {
  return `${prefix}_${bytesToHex(env.randomBytes(12))}`;
}
