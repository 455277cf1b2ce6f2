/**
 * Group references. A group may name parent groups (`groups:` inside a group): it is effectively
 * up only if it and all its ancestors are up. References must exist and must not form a cycle.
 */
import { childPath, policyInvalid } from './policy-field-reader.ts';
import type { GroupSpec, ShareSpec } from './policy-schema.ts';

/** Throws on an unknown group (in a share or a group) or a cycle among groups. */
export function checkGroupReferences(
  groups: readonly GroupSpec[],
  shares: readonly ShareSpec[],
): void {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const check = (owner: string, refs: readonly string[]): void => {
    refs.forEach((ref, i) => {
      if (!byId.has(ref))
        throw policyInvalid(childPath(`${owner}.groups`, i), `unknown group '${ref}'`);
    });
  };
  for (const g of groups) check(`groups[${g.index}]`, g.groups);
  for (const s of shares) check(`shares[${s.index}]`, s.groups);
  const state = new Map<string, 'visiting' | 'done'>();
  for (const g of groups) findCycle(g, byId, state, []);
}

/** Depth-first search; depth is bounded by the number of groups (a longer path is a cycle). */
function findCycle(
  group: GroupSpec,
  byId: ReadonlyMap<string, GroupSpec>,
  state: Map<string, 'visiting' | 'done'>,
  stack: readonly string[],
): void {
  const mark = state.get(group.id);
  if (mark === 'done') return;
  if (mark === 'visiting') {
    const cycle = [...stack.slice(stack.indexOf(group.id)), group.id].join(' -> ');
    const owner = byId.get(stack[stack.length - 1] ?? group.id) ?? group;
    throw policyInvalid(`groups[${owner.index}].groups`, `group cycle: ${cycle}`);
  }
  state.set(group.id, 'visiting');
  for (const parent of group.groups) {
    const next = byId.get(parent);
    if (next !== undefined) findCycle(next, byId, state, [...stack, group.id]);
  }
  state.set(group.id, 'done');
}

/**
 * All groups a component depends on, directly or through parents, in first-visit order.
 * Assumes {@link checkGroupReferences} passed (no cycles), so the walk ends.
 */
export function groupClosure(
  direct: readonly string[],
  groupsById: ReadonlyMap<string, GroupSpec>,
): string[] {
  const seen: string[] = [];
  const pending = [...direct];
  const bound = groupsById.size + direct.length + 1;
  for (let step = 0; step < bound * bound && pending.length > 0; step++) {
    const id = pending.shift() as string;
    if (seen.includes(id)) continue;
    seen.push(id);
    pending.push(...(groupsById.get(id)?.groups ?? []));
  }
  return seen;
}
