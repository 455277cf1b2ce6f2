/**
 * Nemeses: faults planned from the seed as timed actions, each announced in the history with
 * which parties it impairs. One fault window per run (plus flapping's toggles), healed before
 * the run ends so recovery can be measured; with `combined`, a second fault of another kind on
 * other targets overlaps the first in its own window (planSecondFault).
 */
import { assert } from '../core/assert.ts';
import type { NemesisValue } from '../checker/history.ts';
import type { SimCluster } from './cluster.ts';
import { cleanFault, type Direction, type DirectionFault } from './network.ts';
import type { SeededRandom } from '../core/seeded-random.ts';

/** Nemeses of a one-coordinator deployment (the campaign draws among these). */
export const partyNemesisKinds = [
  'none',
  'isolate-one',
  'split',
  'bridge',
  'one-way',
  'flapping',
  'lossy',
  'party-crash',
  'two-party-crash',
  'coordinator-crash',
  'clock-skew',
] as const;

/**
 * Nemeses of a deployment with two coordinator replicas on one store with leases (runs with
 * these kinds start two replicas): the owner crashes; the owner loses its path to the store
 * (its lease expires: it must stop and fail its requests, the other takes over); the store
 * ends the owner's lease while the owner still believes it holds it (a stale owner keeps
 * talking until its next renewal: fenced by tokens and versions).
 */
export const replicaNemesisKinds = ['replica-crash', 'lease-expiry', 'replica-takeover'] as const;

/** Every nemesis the simulator knows. */
export const nemesisKinds = [...partyNemesisKinds, ...replicaNemesisKinds] as const;

export type NemesisKind = (typeof nemesisKinds)[number];

/** Coordinator replicas a run of this kind starts. */
export function replicasFor(kind: NemesisKind): number {
  return (replicaNemesisKinds as readonly string[]).includes(kind) ? 2 : 1;
}

/** A timed nemesis action. */
export interface NemesisStep {
  atMs: number;
  run: (cluster: SimCluster) => void;
  /** History event to record when the step runs. */
  event?: { f: 'start' | 'stop'; value: NemesisValue };
}

/** The plan of one run. */
export interface NemesisPlan {
  kind: NemesisKind;
  /** The kind of the overlapping second fault, in a combined run. */
  secondKind?: NemesisKind;
  /** Earliest start and latest heal over every fault of the run. */
  startMs: number;
  healMs: number;
  steps: NemesisStep[];
}

/**
 * Kinds a second, overlapping fault may have: each acts on one party's path or process, on one
 * clock, or on the coordinator process, so it can be aimed away from what the first fault holds.
 */
export const secondFaultKinds = [
  'isolate-one',
  'one-way',
  'flapping',
  'lossy',
  'party-crash',
  'clock-skew',
  'coordinator-crash',
] as const satisfies readonly NemesisKind[];

/** The draws a nemesis plan makes (the simulator's seeded stream, src/core/seeded-random.ts). */
export type NemesisRng = Pick<SeededRandom, 'int' | 'chance' | 'pick' | 'shuffle'>;

const dirs: readonly Direction[] = ['up', 'down'];

function block(cluster: SimCluster, partyId: string, dir: Direction, hold: boolean): void {
  cluster.network.setFault(partyId, dir, { ...cleanFault(), blocked: true, hold });
}

function unblock(cluster: SimCluster, partyId: string, dir: Direction): void {
  cluster.network.setFault(partyId, dir, cleanFault());
}

/** Parties cut off from the coordinator when `groups` are the connected components. */
function cutOff(groups: readonly (readonly string[])[], partyIds: readonly string[]): string[] {
  const withCoordinator = groups.filter((g) => g.includes('coordinator'));
  return partyIds.filter((p) => !withCoordinator.some((g) => g.includes(p)));
}

/** A fault on a set of parties' paths for [start, heal]. */
function pathFault(
  id: string,
  kind: NemesisKind,
  impaired: string[],
  faults: (partyId: string) => Partial<Record<Direction, DirectionFault>>,
  window: { startMs: number; healMs: number },
  description: string,
  detectable: boolean,
  resetAtStart: boolean,
): NemesisStep[] {
  const value: NemesisValue = { id, kind, impaired, detectable, description };
  return [
    {
      atMs: window.startMs,
      event: { f: 'start', value },
      run: (cluster) => {
        for (const p of impaired) {
          const f = faults(p);
          for (const d of dirs) {
            const fd = f[d];
            if (fd) cluster.network.setFault(p, d, fd);
          }
        }
        if (resetAtStart) {
          // A middlebox resets the connections of the cut-off parties.
          for (const p of impaired) cluster.network.resetParty(p, 'reset by the network');
        }
      },
    },
    {
      atMs: window.healMs,
      event: { f: 'stop', value },
      run: (cluster) => {
        for (const p of impaired) for (const d of dirs) unblock(cluster, p, d);
      },
    },
  ];
}

/** What every fault of one run shares, drawn first so each kind's own draws come after. */
interface FaultDraw {
  id: string;
  kind: NemesisKind;
  window: { startMs: number; healMs: number };
  /** Blocked frames are held (a TCP connection that stalls) rather than dropped. */
  hold: boolean;
  /** A middlebox resets the connections of the cut-off parties when the fault starts. */
  reset: boolean;
}

/** Plans the nemesis of one run (`ordinal` numbers its fault ids: `isolate-one-2`). */
export function planNemesis(
  kind: NemesisKind,
  rng: NemesisRng,
  partyIds: readonly string[],
  ordinal = 1,
): NemesisPlan {
  const startMs = rng.int(1_000, 2_500);
  const healMs = startMs + rng.int(1_500, 5_000);
  const hold = rng.chance(0.5);
  const reset = rng.chance(0.3);
  const fault: FaultDraw = {
    id: `${kind}-${ordinal}`,
    kind,
    window: { startMs, healMs },
    hold,
    reset,
  };
  return { kind, startMs, healMs, steps: faultSteps(fault, rng, partyIds) };
}

/** The steps of one fault of kind `fault.kind` (the kind's own draws come from `rng`). */
function faultSteps(fault: FaultDraw, rng: NemesisRng, partyIds: readonly string[]): NemesisStep[] {
  const { id, kind, window, hold } = fault;
  switch (kind) {
    case 'none':
      return [];
    case 'isolate-one':
    case 'split':
    case 'bridge':
      return partition(fault, rng, partyIds);
    case 'one-way':
      return oneWay(fault, rng, partyIds);
    case 'flapping':
      return flapping(id, rng, partyIds, window, hold);
    case 'lossy':
      return lossy(fault, rng, partyIds);
    case 'party-crash':
    case 'two-party-crash': {
      const victims = rng.shuffle(partyIds).slice(0, kind === 'party-crash' ? 1 : 2);
      return crashParties(id, kind, victims, window);
    }
    case 'coordinator-crash':
      return coordinatorCrash(id, window);
    case 'clock-skew':
      return clockSkew(id, rng, partyIds, window);
    case 'replica-crash':
    case 'lease-expiry':
    case 'replica-takeover':
      return replicaFault(id, kind, window);
  }
}

/** Both directions of a path blocked, frames held or dropped as the fault drew. */
function blockedBothWays(hold: boolean): Partial<Record<Direction, DirectionFault>> {
  return {
    up: { ...cleanFault(), blocked: true, hold },
    down: { ...cleanFault(), blocked: true, hold },
  };
}

const modeText = (hold: boolean) => (hold ? 'frames held (TCP)' : 'frames dropped');

/**
 * Cuts the network into groups: one party alone (isolate-one), two random halves (split), or
 * two halves that share one bridge node (bridge, 5 parties). Parties cut off from the
 * coordinator are blocked both ways.
 */
function partition(fault: FaultDraw, rng: NemesisRng, partyIds: readonly string[]): NemesisStep[] {
  const { id, kind, window, hold, reset } = fault;
  const blocked = () => blockedBothWays(hold);
  const mode = modeText(hold);
  if (kind === 'isolate-one') {
    const p = rng.pick(partyIds);
    return pathFault(id, kind, [p], blocked, window, `isolate ${p}; ${mode}`, true, reset);
  }
  const nodes = rng.shuffle(['coordinator', ...partyIds]);
  const groupsText = (groups: string[][]) => groups.map((g) => `{${g.join(',')}}`).join(' | ');
  if (kind === 'split') {
    const cut = rng.int(1, nodes.length - 1);
    const groups = [nodes.slice(0, cut), nodes.slice(cut)];
    const impaired = cutOff(groups, partyIds);
    const text = `split ${groupsText(groups)}; ${mode}`;
    return pathFault(id, kind, impaired, blocked, window, text, true, reset);
  }
  assert(partyIds.length === 5, 'bridge topology needs 5 parties');
  const bridgeNode = nodes[0] as string;
  const groups = [
    [bridgeNode, ...nodes.slice(1, 3)],
    [bridgeNode, ...nodes.slice(3)],
  ];
  const impaired = cutOff(groups, partyIds);
  const text = `bridge via ${bridgeNode}: ${groupsText(groups)}`;
  return pathFault(id, kind, impaired, blocked, window, text, true, reset);
}

/** One direction of one party's path blocked. */
function oneWay(fault: FaultDraw, rng: NemesisRng, partyIds: readonly string[]): NemesisStep[] {
  const { id, kind, window, hold } = fault;
  const p = rng.pick(partyIds);
  const d = rng.pick(dirs);
  const text = `one-way: ${d === 'up' ? `${p} → coordinator` : `coordinator → ${p}`} blocked; ${modeText(hold)}`;
  const faults = () => ({ [d]: { ...cleanFault(), blocked: true, hold } });
  return pathFault(id, kind, [p], faults, window, text, true, false);
}

/** Drops, duplicates, reorders and delays frames on one party's path or on every path. */
function lossy(fault: FaultDraw, rng: NemesisRng, partyIds: readonly string[]): NemesisStep[] {
  const { id, kind, window } = fault;
  const targets = rng.chance(0.7) ? [rng.pick(partyIds)] : [...partyIds];
  const f: DirectionFault = {
    ...cleanFault(),
    dropP: rng.int(0, 30) / 100,
    dupP: rng.int(0, 20) / 100,
    reorderP: rng.int(0, 30) / 100,
    delayMs: rng.int(0, 300),
    jitterMs: rng.int(0, 200),
  };
  const text = `lossy ${targets.join(',')}: drop ${f.dropP} dup ${f.dupP} reorder ${f.reorderP} delay ${f.delayMs}±${f.jitterMs} ms`;
  return pathFault(id, kind, targets, () => ({ up: f, down: f }), window, text, false, false);
}

/** The coordinator process killed, then restarted over the same store. */
function coordinatorCrash(id: string, window: { startMs: number; healMs: number }): NemesisStep[] {
  const value: NemesisValue = {
    id,
    kind: 'coordinator-crash',
    impaired: [],
    coordinatorDown: true,
    description: 'coordinator process killed, restarted over the same store',
  };
  return [
    { atMs: window.startMs, event: { f: 'start', value }, run: (c) => c.crashCoordinator() },
    { atMs: window.healMs, event: { f: 'stop', value }, run: (c) => c.restartCoordinator() },
  ];
}

/**
 * Adds a second fault to `first`, drawn from `rng` (its own stream, so the first fault and the
 * rest of the run stay what the seed gave them alone). Its targets are kept apart from the
 * first fault's: party faults go to parties the first leaves alone (so one fault's heal never
 * lifts the other's), a coordinator crash only when the first leaves the coordinator alone and
 * runs one replica. The windows are drawn independently and usually overlap. Two faulty
 * parties in a 2-of-3 exceed n − t: the checker then checks safety, not availability.
 */
export function planSecondFault(
  first: NemesisPlan,
  rng: NemesisRng,
  partyIds: readonly string[],
): NemesisPlan {
  const touched = new Set<string>();
  let coordinatorTouched = replicasFor(first.kind) > 1;
  for (const step of first.steps) {
    const value = step.event?.value;
    if (!value) continue;
    for (const p of value.impaired) touched.add(p);
    for (const node of Object.keys(value.skewMs ?? {})) {
      if (node === 'coordinator') coordinatorTouched = true;
      else touched.add(node);
    }
    if (value.coordinatorDown === true) coordinatorTouched = true;
  }
  const free = partyIds.filter((p) => !touched.has(p));
  const partyKinds: readonly NemesisKind[] = [
    'isolate-one',
    'one-way',
    'flapping',
    'lossy',
    'party-crash',
  ];
  const candidates = secondFaultKinds.filter((k) => {
    if (k === first.kind) return false;
    if (partyKinds.includes(k)) return free.length > 0;
    if (k === 'coordinator-crash') return !coordinatorTouched;
    return true; // clock-skew: a clock jump combines with any fault, even on the same node
  });
  const secondKind = rng.pick(candidates);
  // clockSkew draws its node from the coordinator and these parties.
  const second = planNemesis(secondKind, rng, free.length > 0 ? free : partyIds, 2);
  return {
    kind: first.kind,
    secondKind,
    // A first fault of kind `none` has no window: the second's is the run's.
    startMs: first.steps.length === 0 ? second.startMs : Math.min(first.startMs, second.startMs),
    healMs: first.steps.length === 0 ? second.healMs : Math.max(first.healMs, second.healMs),
    steps: [...first.steps, ...second.steps],
  };
}

function crashParties(
  id: string,
  kind: NemesisKind,
  victims: string[],
  window: { startMs: number; healMs: number },
): NemesisStep[] {
  const value: NemesisValue = {
    id,
    kind,
    impaired: victims,
    detectable: true,
    description: `kill ${victims.join(',')}; restart over the same journal`,
  };
  return [
    {
      atMs: window.startMs,
      event: { f: 'start', value },
      run: (c) => victims.forEach((p) => c.crashParty(p)),
    },
    {
      atMs: window.healMs,
      event: { f: 'stop', value },
      run: (c) => victims.forEach((p) => c.restartParty(p)),
    },
  ];
}

function flapping(
  id: string,
  rng: NemesisRng,
  partyIds: readonly string[],
  window: { startMs: number; healMs: number },
  hold: boolean,
): NemesisStep[] {
  const p = rng.pick(partyIds);
  const periodMs = rng.int(200, 1_500);
  const value: NemesisValue = {
    id,
    kind: 'flapping',
    impaired: [p],
    description: `link of ${p} flaps every ${periodMs} ms`,
  };
  const steps: NemesisStep[] = [
    { atMs: window.startMs, event: { f: 'start', value }, run: () => {} },
  ];
  let down = true;
  for (let at = window.startMs; at < window.healMs && steps.length < 64; at += periodMs) {
    const cut = down;
    steps.push({
      atMs: at,
      run: (c) => dirs.forEach((d) => (cut ? block(c, p, d, hold) : unblock(c, p, d))),
    });
    down = !down;
  }
  steps.push({
    atMs: window.healMs,
    event: { f: 'stop', value },
    run: (c) => dirs.forEach((d) => unblock(c, p, d)),
  });
  return steps;
}

function clockSkew(
  id: string,
  rng: NemesisRng,
  partyIds: readonly string[],
  window: { startMs: number; healMs: number },
): NemesisStep[] {
  const node = rng.pick(['coordinator', ...partyIds]);
  const magnitude = rng.chance(0.8) ? rng.int(200, 3_000) : rng.int(10_000, 30_000);
  const skewMs = rng.chance(0.5) ? magnitude : -magnitude;
  const value: NemesisValue = {
    id,
    kind: 'clock-skew',
    impaired: [],
    skewMs: { [node]: skewMs },
    description: `wall clock of ${node} jumps by ${skewMs} ms`,
  };
  const setSkew = (c: SimCluster, ms: number) => {
    if (node === 'coordinator') c.coordinatorNode.skewMs = ms;
    else c.mustParty(node).node.skewMs = ms;
  };
  return [
    { atMs: window.startMs, event: { f: 'start', value }, run: (c) => setSkew(c, skewMs) },
    { atMs: window.healMs, event: { f: 'stop', value }, run: (c) => setSkew(c, 0) },
  ];
}

/**
 * A fault on replica 0, the one clients reach first and so the owner of most sessions. The
 * run stays outside the party-fault SLO (`coordinatorDown`): requests in flight on the faulty
 * replica are retried by the client, sessions are finished by replica 1 after the takeover.
 */
function replicaFault(
  id: string,
  kind: 'replica-crash' | 'lease-expiry' | 'replica-takeover',
  window: { startMs: number; healMs: number },
): NemesisStep[] {
  const description = {
    'replica-crash': 'owner replica killed; the other replica takes its sessions over; restarted',
    'lease-expiry': 'owner replica cut off from the store: its lease expires, it stops; restored',
    'replica-takeover':
      "the store ends the owner replica's lease while it still drives sessions (stale owner)",
  }[kind];
  const value: NemesisValue = { id, kind, impaired: [], coordinatorDown: true, description };
  const start = (c: SimCluster): void => {
    if (kind === 'replica-crash') c.crashCoordinator(0);
    else if (kind === 'lease-expiry') c.setStoreCut(0, true);
    else {
      const lease = c.coordinators[0]?.lease;
      if (lease) void c.store.revokeLease(lease);
    }
  };
  const stop = (c: SimCluster): void => {
    if (kind === 'replica-crash') c.restartCoordinator(0);
    else if (kind === 'lease-expiry') c.setStoreCut(0, false);
  };
  return [
    { atMs: window.startMs, event: { f: 'start', value }, run: start },
    { atMs: window.healMs, event: { f: 'stop', value }, run: stop },
  ];
}
