/**
 * Custody and compromise posture of a t-of-n placement: who can sign alone, how many domains must
 * collude, how much can be lost, whether quorums intersect, and how often a quorum has no member
 * running the signing-time policy engine.
 */
import type { ShareSpec } from './policy-schema.ts';

/** Posture figures of one placement at one threshold. */
export interface CustodyPosture {
  /** True if some single domain holds ≥ t shares (it can sign without anyone else). */
  readonly custodial: boolean;
  /** The domains that hold ≥ t shares, sorted. */
  readonly custodialDomains: readonly string[];
  /** Fewest domains whose shares together reach t. */
  readonly minCollidingDomains: number;
  /** Permanent losses survivable with t shares left: shares (n − t) and whole domains (worst case). */
  readonly lossTolerance: { readonly shares: number; readonly domains: number };
  /** 2t > n: any two quorums share a party, so parties' intent locks alone prevent double signing. */
  readonly quorumIntersection: boolean;
  /**
   * Fraction of the C(n, t) quorums of exactly t shares in which no member runs the policy engine
   * (`enforcesPolicy: false` on every member). 0 when every share enforces.
   */
  readonly unenforcedQuorumShare: number;
}

/** Shares per domain, largest first (ties by domain name). */
function domainCounts(shares: readonly ShareSpec[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const share of shares) counts.set(share.domain, (counts.get(share.domain) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

/** Binomial coefficient C(n, k) for n ≤ 30 (exact in doubles). */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return Math.round(result);
}

/** Computes the posture of `shares` at threshold `t` (1 ≤ t ≤ n). */
export function custodyPosture(shares: readonly ShareSpec[], t: number): CustodyPosture {
  const n = shares.length;
  const counts = domainCounts(shares);
  const custodialDomains = counts
    .filter(([, c]) => c >= t)
    .map(([d]) => d)
    .sort();
  let minCollidingDomains = counts.length;
  let reached = 0;
  for (let k = 0; k < counts.length; k++) {
    reached += (counts[k] as [string, number])[1];
    if (reached >= t) {
      minCollidingDomains = k + 1;
      break;
    }
  }
  let domainsLost = 0;
  let remaining = n;
  for (const [, count] of counts) {
    if (remaining - count < t) break;
    remaining -= count;
    domainsLost += 1;
  }
  const unenforced = shares.filter((s) => !s.enforcesPolicy).length;
  return {
    custodial: custodialDomains.length > 0,
    custodialDomains,
    minCollidingDomains,
    lossTolerance: { shares: n - t, domains: domainsLost },
    quorumIntersection: 2 * t > n,
    unenforcedQuorumShare: binomial(unenforced, t) / binomial(n, t),
  };
}
