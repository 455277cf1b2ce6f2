/**
 * Turns a set of shares from a policy file into the compact numeric model the exact evaluator
 * runs on: per-share availabilities, per-share bit masks of the groups they need, and the
 * availabilities of those groups. Groups that can never fail are dropped (they do not matter).
 */
import { groupClosure } from './group-closure.ts';
import { effectiveAvailability } from './effective-availability.ts';
import { policyInvalid } from './policy-field-reader.ts';
import { policyLimits } from '../core/limits.ts';
import type { GroupSpec, PolicyFile, ShareSpec } from './policy-schema.ts';

/** Lookup tables over a validated file. */
export interface PolicyIndex {
  readonly file: PolicyFile;
  readonly sharesById: ReadonlyMap<string, ShareSpec>;
  readonly groupsById: ReadonlyMap<string, GroupSpec>;
  /** Every group a share depends on (transitively). */
  readonly closureByShare: ReadonlyMap<string, readonly string[]>;
}

/** Builds the lookup tables once per file. */
export function indexPolicyFile(file: PolicyFile): PolicyIndex {
  const groupsById = new Map(file.groups.map((g) => [g.id, g]));
  const closureByShare = new Map(
    file.shares.map((s) => [s.id, groupClosure(s.groups, groupsById)]),
  );
  return {
    file,
    sharesById: new Map(file.shares.map((s) => [s.id, s])),
    groupsById,
    closureByShare,
  };
}

/** The numeric model of one placement (a set of shares). */
export interface CompiledPlacement {
  readonly shares: readonly ShareSpec[];
  readonly shareAvailability: readonly number[];
  /** Bit j set when share i needs group j (directly or through parents). */
  readonly shareGroupMask: readonly number[];
  readonly groups: readonly GroupSpec[];
  readonly groupAvailability: readonly number[];
}

/**
 * Compiles the shares named by `shareIds`. Throws `QUORATE_E_POLICY_INVALID` at `path` when more
 * than `groupsPerPolicyMax` fallible groups are involved (2^G states would be enumerated).
 */
export function compilePlacement(
  index: PolicyIndex,
  shareIds: readonly string[],
  path: string,
): CompiledPlacement {
  const shares = shareIds.map((id) => index.sharesById.get(id) as ShareSpec);
  const groups: GroupSpec[] = [];
  const shareGroupMask = shares.map((share) => {
    let mask = 0;
    for (const groupId of index.closureByShare.get(share.id) ?? []) {
      const group = index.groupsById.get(groupId) as GroupSpec;
      if (effectiveAvailability(group) >= 1) continue;
      let position = groups.indexOf(group);
      if (position < 0) position = groups.push(group) - 1;
      if (position < policyLimits.groupsPerPolicyMax) mask |= 1 << position;
    }
    return mask;
  });
  if (groups.length > policyLimits.groupsPerPolicyMax) {
    throw policyInvalid(
      path,
      `depends on ${groups.length} fallible groups; exact analysis enumerates 2^G states and supports at most ${policyLimits.groupsPerPolicyMax}`,
    );
  }
  return {
    shares,
    shareAvailability: shares.map(effectiveAvailability),
    shareGroupMask,
    groups,
    groupAvailability: groups.map(effectiveAvailability),
  };
}
