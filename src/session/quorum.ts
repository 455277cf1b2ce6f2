/** Quorum selection: pure ranking of eligible parties. */

/** What the failure detector and history say about one candidate. */
export interface CandidateInfo {
  partyId: string;
  state: 'alive' | 'suspect' | 'down';
  /** Smoothed round-trip time in ms (lower is better); undefined if unknown. */
  rttMs?: number;
  /** Recent success ratio in [0, 1]. */
  successRatio?: number;
  /** Since when the party is in its current state (epoch ms), for error details. */
  sinceMs?: number;
}

/** Alive, non-excluded wallet parties, best first. */
export function rankEligible(
  walletParties: readonly string[],
  candidates: readonly CandidateInfo[],
  excluded: readonly string[],
): CandidateInfo[] {
  const members = new Set(walletParties);
  const skip = new Set(excluded);
  return candidates
    .filter((c) => members.has(c.partyId) && !skip.has(c.partyId) && c.state === 'alive')
    .sort(
      (a, b) =>
        (b.successRatio ?? 1) - (a.successRatio ?? 1) ||
        (a.rttMs ?? Number.MAX_SAFE_INTEGER) - (b.rttMs ?? Number.MAX_SAFE_INTEGER) ||
        a.partyId.localeCompare(b.partyId),
    );
}

/** The wallet parties that are not alive, with their state and since when. */
export function unavailableParties(
  walletParties: readonly string[],
  candidates: readonly CandidateInfo[],
): { partyId: string; state: string; sinceMs: number | null }[] {
  const byId = new Map(candidates.map((c) => [c.partyId, c]));
  return walletParties
    .map((p) => byId.get(p) ?? { partyId: p, state: 'down' as const })
    .filter((c) => c.state !== 'alive')
    .map((c) => ({ partyId: c.partyId, state: c.state, sinceMs: c.sinceMs ?? null }));
}
