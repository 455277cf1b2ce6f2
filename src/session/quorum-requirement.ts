/**
 * Quorum selection under a rule's requirement (coordinator side) and the re-check of a proposed
 * quorum (party side). The requirement comes from the rules engine (src/policy/rules), which
 * the session does not import: it is the shape the session records ({@link SessionRequirement}). Neither ever returns or accepts a quorum that violates the requirement: if
 * a required share, or every share of a required type, is down, the answer names them.
 */
import { assert } from '../core/assert.ts';
import type { SessionRequirement } from './session-policy.ts';

/** A party the coordinator could use, ranked best first by the caller. */
export interface QuorumCandidate {
  readonly partyId: string;
  /** Alive and eligible (not suspect, not excluded for blame) for this attempt. */
  readonly alive: boolean;
}

/** Chosen parties, or who is missing. */
export type QuorumSelection =
  | { readonly ok: true; readonly parties: readonly string[] }
  | {
      readonly ok: false;
      /** Party ids whose absence blocks the requirement (down required shares, down parties of a
       * required type, or every down party when too few are alive). */
      readonly unavailable: readonly string[];
      readonly reason: string;
    };

/**
 * Picks `max(threshold, requirement.minSigners, |forced|)` parties: every required share, the
 * best-ranked alive party of each required type not yet covered, then the best-ranked alive
 * parties. The result is in rank order.
 */
export function selectQuorumUnderRequirement(
  requirement: SessionRequirement,
  threshold: number,
  candidates: readonly QuorumCandidate[],
  shareInfo: ReadonlyMap<string, string>,
): QuorumSelection {
  const ids = candidates.map((c) => c.partyId);
  assert(new Set(ids).size === ids.length, 'quorum candidates are distinct');
  assert(Number.isInteger(threshold) && threshold >= 1, 'threshold is a positive integer');
  const alive = candidates.filter((c) => c.alive).map((c) => c.partyId);
  const chosen = new Set<string>();
  const missingShares = requirement.requiredShares.filter((s) => !alive.includes(s));
  requirement.requiredShares.forEach((s) => chosen.add(s));
  const unavailable = [...missingShares];
  const missingTypes: string[] = [];
  for (const type of requirement.requiredTypes) {
    if ([...chosen].some((p) => shareInfo.get(p) === type)) continue;
    const pick = alive.find((p) => shareInfo.get(p) === type);
    if (pick !== undefined) {
      chosen.add(pick);
      continue;
    }
    missingTypes.push(type);
    unavailable.push(...ids.filter((p) => shareInfo.get(p) === type));
  }
  if (unavailable.length > 0 || missingTypes.length > 0) {
    return {
      ok: false,
      unavailable: dedupe(unavailable),
      reason: describeMissing(missingShares, missingTypes),
    };
  }
  const size = Math.max(threshold, requirement.minSigners, chosen.size);
  for (const p of alive) {
    if (chosen.size >= size) break;
    chosen.add(p);
  }
  if (chosen.size < size) {
    const down = ids.filter((p) => !alive.includes(p));
    return {
      ok: false,
      unavailable: down,
      reason: `${alive.length} of ${ids.length} parties alive, the rule needs ${size} signers`,
    };
  }
  return { ok: true, parties: ids.filter((p) => chosen.has(p)) };
}

function describeMissing(shares: readonly string[], types: readonly string[]): string {
  const parts = [
    ...shares.map((s) => `required share '${s}' is down`),
    ...types.map((t) => `no party of required type '${t}' is alive`),
  ];
  return parts.join('; ');
}

function dedupe(items: readonly string[]): string[] {
  return items.filter((v, i) => items.indexOf(v) === i);
}

/** Whether a proposed quorum meets the requirement, and every way it falls short. */
export type QuorumCheck =
  { readonly ok: true } | { readonly ok: false; readonly problems: readonly string[] };

/**
 * The party-side check: `parties` (the signers the coordinator chose) are distinct, known, at
 * least `minSigners`, include every required share and a party of every required type.
 */
export function quorumSatisfies(
  requirement: SessionRequirement,
  parties: readonly string[],
  shareInfo: ReadonlyMap<string, string>,
): QuorumCheck {
  const problems: string[] = [];
  const distinct = new Set(parties);
  if (distinct.size !== parties.length) problems.push('a party is listed twice');
  const unknown = [...distinct].filter((p) => !shareInfo.has(p));
  if (unknown.length > 0) problems.push(`unknown parties: ${unknown.join(', ')}`);
  if (distinct.size < requirement.minSigners) {
    problems.push(`${distinct.size} signers, the rule needs at least ${requirement.minSigners}`);
  }
  for (const share of requirement.requiredShares) {
    if (!distinct.has(share)) problems.push(`required share '${share}' is not in the quorum`);
  }
  for (const type of requirement.requiredTypes) {
    if (![...distinct].some((p) => shareInfo.get(p) === type)) {
      problems.push(`no party of required type '${type}' is in the quorum`);
    }
  }
  return problems.length === 0 ? { ok: true } : { ok: false, problems };
}
