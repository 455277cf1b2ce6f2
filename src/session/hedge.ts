/**
 * The hedged first round, pure. An attempt asks its quorum plus a few extra eligible parties for
 * round-1 commitments ({@link hedgeExtras}), and continues with the first parties that answer
 * and together satisfy the session's quorum requirement ({@link chooseSigners}); the others'
 * nonces are discarded at once. A silently cut party then costs nothing while another answers
 * in its place, instead of a round deadline and a second attempt.
 */
import { limits } from '../core/limits.ts';
import type { CandidateInfo } from './quorum.ts';
import { selectQuorumUnderRequirement } from './quorum-requirement.ts';
import type { SessionPolicy } from './session-policy.ts';

/**
 * How many extra candidates an attempt of a `threshold`-of-`parties` wallet asks: every party
 * beyond the quorum (n - t, so any minority of silent parties is covered), within
 * `hedgeExtraPartiesMax`. Only eligible parties in good standing are asked ({@link hedgeExtras}).
 */
export function hedgeWidth(parties: number, threshold: number): number {
  return Math.max(0, Math.min(limits.hedgeExtraPartiesMax, parties - threshold));
}

/**
 * Up to `count` parties of `ranked` (best first) that are not in `quorum`: the attempt's extra
 * candidates. Only parties in good standing are worth a nonce: `ranked` is the caller's list of
 * eligible, non-slow parties.
 */
export function hedgeExtras(
  quorum: readonly string[],
  ranked: readonly CandidateInfo[],
  count: number,
): string[] {
  const chosen = new Set(quorum);
  return ranked
    .map((c) => c.partyId)
    .filter((p) => !chosen.has(p))
    .slice(0, Math.max(0, count));
}

/**
 * The signer set among the parties that answered round 1 (in arrival order), or undefined if
 * they do not make one yet: exactly `quorumSize` of them that satisfy the session's rule
 * requirement (governed sessions: required shares and types, minimum signers), the earliest
 * answers first. Never a set that violates the requirement.
 */
export function chooseSigners(
  policy: SessionPolicy | undefined,
  threshold: number,
  quorumSize: number,
  answered: readonly string[],
): string[] | undefined {
  if (answered.length < quorumSize) return undefined;
  if (!policy) return answered.slice(0, quorumSize);
  const selection = selectQuorumUnderRequirement(
    policy.requirement,
    threshold,
    answered.map((partyId) => ({ partyId, alive: true })),
    new Map(Object.entries(policy.shareTypes)),
  );
  if (!selection.ok || selection.parties.length !== quorumSize) return undefined;
  return [...selection.parties];
}
