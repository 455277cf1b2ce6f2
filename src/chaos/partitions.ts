/**
 * Partition shapes as Jepsen "grudges": the set of directed links (from → to) that are cut.
 * Pure. Nodes are `coordinator` and the party ids; parties only ever talk to the coordinator
 * (a star), so the parties a partition impairs are those whose link to the coordinator is cut
 * in either direction.
 */
import type { SeededRandom } from '../core/seeded-random.ts';

/** One cut direction: packets from `from` to `to` are dropped. */
export type Cut = readonly [from: string, to: string];

export const coordinatorNode = 'coordinator';
/** The workload client's host (its own namespace). */
export const clientNode = 'client';

/** Every directed pair between two groups, both ways. */
function cutBetween(a: readonly string[], b: readonly string[]): Cut[] {
  const cuts: Cut[] = [];
  for (const x of a) for (const y of b) cuts.push([x, y], [y, x]);
  return cuts;
}

/** Both directions between two nodes. */
export function cutBetweenPair(a: string, b: string): Cut[] {
  return cutBetween([a], [b]);
}

/** Parties whose path to the coordinator is cut in at least one direction. */
export function impairedBy(cuts: readonly Cut[]): string[] {
  const out = new Set<string>();
  for (const [from, to] of cuts) {
    if (from === coordinatorNode) out.add(to);
    else if (to === coordinatorNode) out.add(from);
  }
  return [...out].sort();
}

/** One party cut off from everyone. */
export function isolateOne(party: string, nodes: readonly string[]): Cut[] {
  return cutBetween(
    [party],
    nodes.filter((n) => n !== party),
  );
}

/**
 * A majority/minority split of all nodes; `coordinatorInMajority` chooses the coordinator's
 * side (false: the coordinator is left with a minority of parties).
 */
export function majorityMinority(
  rng: SeededRandom,
  parties: readonly string[],
  coordinatorInMajority: boolean,
): { cuts: Cut[]; minority: string[]; majority: string[] } {
  const nodes = rng.shuffle([coordinatorNode, ...parties]);
  const minoritySize = Math.floor((nodes.length - 1) / 2);
  const others = nodes.filter((n) => n !== coordinatorNode);
  const minority = coordinatorInMajority
    ? others.slice(0, minoritySize)
    : [coordinatorNode, ...others.slice(0, minoritySize - 1)];
  const majority = nodes.filter((n) => !minority.includes(n));
  return { cuts: cutBetween(minority, majority), minority, majority };
}

/**
 * Jepsen's majorities ring over `ring` (5 nodes): nodes in a random cycle, each connected only
 * to itself and its two neighbours, so every node sees a majority but no two see the same one.
 */
export function majoritiesRing(rng: SeededRandom, ring: readonly string[]): Cut[] {
  const order = rng.shuffle(ring);
  const n = order.length;
  const cuts: Cut[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const distance = Math.min(Math.abs(i - j), n - Math.abs(i - j));
      if (distance > 1) cuts.push([order[i] as string, order[j] as string]);
    }
  }
  return cuts;
}

/**
 * Jepsen's bridge: two halves that cannot see each other, joined by one node that sees both.
 * The bridge may be the coordinator (then no party loses its path) or a party.
 */
export function bridge(
  rng: SeededRandom,
  parties: readonly string[],
): { cuts: Cut[]; bridgeNode: string } {
  const nodes = rng.shuffle([coordinatorNode, ...parties]);
  const bridgeNode = nodes[0] as string;
  const rest = nodes.slice(1);
  const half = Math.ceil(rest.length / 2);
  return { cuts: cutBetween(rest.slice(0, half), rest.slice(half)), bridgeNode };
}

/** Only one direction of one party's path: party → coordinator, or coordinator → party. */
export function oneWay(party: string, towardCoordinator: boolean): Cut[] {
  return [towardCoordinator ? [party, coordinatorNode] : [coordinatorNode, party]];
}
