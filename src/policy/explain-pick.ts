/** One-sentence explanations of recommender picks, from the pick's place on the frontier. */
import type { Candidate } from './recommend-policies.ts';

function formatMinutes(minutes: number): string {
  if (minutes >= 100) return `${minutes.toFixed(0)} min`;
  if (minutes >= 1) return `${minutes.toFixed(1)} min`;
  return `${(minutes * 60).toFixed(1)} s`;
}

/** Why this pick is on the frontier, relative to the other frontier points. */
function reason(pick: Candidate, frontier: readonly Candidate[]): string {
  const bestUnavailability = Math.min(...frontier.map((c) => c.unavailability));
  const colluding = frontier.map((c) => c.minCollidingDomains);
  const sizes = frontier.map((c) => c.n);
  const reasons: string[] = [];
  if (pick.unavailability <= bestUnavailability)
    reasons.push('the highest availability on the frontier');
  // A superlative only says something when the frontier actually varies on that axis.
  if (
    pick.minCollidingDomains === Math.max(...colluding) &&
    Math.min(...colluding) < pick.minCollidingDomains
  ) {
    reasons.push('the strongest collusion resistance on the frontier');
  }
  if (pick.n === Math.min(...sizes))
    reasons.push(`the fewest shares (${pick.n}) that meet the SLO`);
  if (reasons.length === 0) {
    return `the best availability with ${pick.n} shares at ${pick.minCollidingDomains}-domain collusion resistance`;
  }
  return reasons.slice(0, 2).join(' and ');
}

/** e.g. "2-of-3 on mobile, backend, guardian: 3.52 nines (13.1 min/month down), …; chosen as …." */
export function explainPick(pick: Candidate, frontier: readonly Candidate[], slo: number): string {
  const custody = pick.custodial
    ? `custodial (${pick.custodialDomains.join(', ')} can sign alone)`
    : 'non-custodial';
  const colluding = `${pick.minCollidingDomains} domain${pick.minCollidingDomains === 1 ? '' : 's'} must collude to sign`;
  const margin = `SLO ${slo} met`;
  return `${pick.threshold}-of-${pick.n} on ${pick.shares.join(', ')}: ${pick.nines.toFixed(2)} nines (${formatMinutes(pick.downtimeMinutesPerMonth)}/month down, ${margin}), ${colluding}, ${custody}; chosen as ${reason(pick, frontier)}.`;
}
