/**
 * Seeded fault schedules. A scenario name, a seed and a duration fix the topology and every
 * fault window (what, where, when); the executor (nemesis.ts) only carries them out. Pure.
 */
import { chaosLimits } from '../core/limits.ts';
import {
  bridge,
  clientNode,
  coordinatorNode,
  cutBetweenPair,
  impairedBy,
  isolateOne,
  majoritiesRing,
  majorityMinority,
  oneWay,
  type Cut,
} from './partitions.ts';
import { seededRandom, type SeededRandom } from '../core/seeded-random.ts';

/** The scenarios `quorate chaos run --scenario` accepts (`all` runs the others in turn). */
export const scenarioNames = [
  'minority-partition',
  'majority-loss',
  'flapping-link',
  'bridge',
  'kill-restart',
  'pause',
  'clock-skew',
  'packet-loss',
  'client-partition',
] as const;
export type ScenarioName = (typeof scenarioNames)[number];

/** One thing a fault window does to the cluster. */
export type FaultAction =
  | { kind: 'partition'; shape: string; cuts: Cut[] }
  | { kind: 'flap'; party: string; toggleAtMs: number[] }
  | { kind: 'loss'; node: string; percent: number }
  | { kind: 'latency'; node: string; latencyMs: number; jitterMs: number }
  | { kind: 'kill'; node: string }
  | { kind: 'pause'; node: string }
  | { kind: 'clock'; node: string; offsetMs: number };

/** A fault from `startMs` to `endMs` (ms after the workload starts), healed at `endMs`. */
export interface FaultWindow {
  id: string;
  kind: string;
  startMs: number;
  endMs: number;
  actions: FaultAction[];
  /** Parties whose process or path to the coordinator is impaired. */
  impaired: string[];
  coordinatorDown: boolean;
  /** The detector should see the impaired parties leave `alive`. */
  detectable: boolean;
  description: string;
}

/** A whole run's plan. */
export interface Schedule {
  scenario: ScenarioName;
  seed: number;
  durationMs: number;
  parties: string[];
  threshold: number;
  windows: FaultWindow[];
}

interface ScenarioShape {
  parties: number;
  threshold: number;
  faultMs: [number, number];
  gapMs: [number, number];
  plan: (
    rng: SeededRandom,
    parties: string[],
    lengthMs: number,
  ) => Omit<FaultWindow, 'id' | 'startMs' | 'endMs'>;
}

const partitionWindow = (shape: string, cuts: Cut[], description: string) => ({
  kind: shape,
  actions: [{ kind: 'partition' as const, shape, cuts }],
  impaired: impairedBy(cuts),
  coordinatorDown: false,
  detectable: true,
  description,
});

const shapes: Record<ScenarioName, ScenarioShape> = {
  'minority-partition': {
    parties: 5,
    threshold: 3,
    faultMs: [3_000, 6_000],
    gapMs: [2_000, 4_000],
    plan: (rng, parties) => {
      const nodes = [coordinatorNode, ...parties];
      const roll = rng.int(0, 2);
      if (roll === 0) {
        const p = rng.pick(parties);
        return partitionWindow('isolate-one', isolateOne(p, nodes), `isolate ${p}`);
      }
      if (roll === 1) {
        const split = majorityMinority(rng, parties, true);
        return partitionWindow(
          'majority-minority',
          split.cuts,
          `minority {${split.minority.join(',')}} | majority {${split.majority.join(',')}}`,
        );
      }
      const p = rng.pick(parties);
      const toward = rng.chance(0.5);
      return {
        ...partitionWindow(
          'one-way',
          oneWay(p, toward),
          `one-way ${toward ? `${p}→coordinator` : `coordinator→${p}`} cut`,
        ),
      };
    },
  },
  'majority-loss': {
    parties: 3,
    threshold: 2,
    faultMs: [4_000, 7_000],
    gapMs: [3_000, 5_000],
    plan: (rng, parties) => {
      const split = majorityMinority(rng, parties, false);
      return partitionWindow(
        'coordinator-in-minority',
        split.cuts,
        `coordinator in minority {${split.minority.join(',')}} | {${split.majority.join(',')}}`,
      );
    },
  },
  'flapping-link': {
    parties: 3,
    threshold: 2,
    faultMs: [4_000, 8_000],
    gapMs: [2_000, 4_000],
    plan: (rng, parties, lengthMs) => {
      const party = rng.pick(parties);
      const toggleAtMs: number[] = [];
      for (
        let t = rng.int(300, 1_500);
        t < lengthMs && toggleAtMs.length < 64;
        t += rng.int(300, 1_500)
      )
        toggleAtMs.push(t);
      return {
        kind: 'flapping',
        actions: [{ kind: 'flap', party, toggleAtMs }],
        impaired: [party],
        coordinatorDown: false,
        detectable: false,
        description: `${party}'s link toggles ${toggleAtMs.length + 1} times`,
      };
    },
  },
  bridge: {
    parties: 5,
    threshold: 3,
    faultMs: [3_000, 6_000],
    gapMs: [2_000, 4_000],
    plan: (rng, parties) => {
      if (rng.chance(0.5)) {
        const b = bridge(rng, parties);
        return partitionWindow('bridge', b.cuts, `two halves joined through ${b.bridgeNode}`);
      }
      const ring = [coordinatorNode, ...rng.shuffle(parties).slice(0, 4)];
      return partitionWindow(
        'majorities-ring',
        majoritiesRing(rng, ring),
        `majorities ring over ${ring.join(',')}`,
      );
    },
  },
  'kill-restart': {
    parties: 3,
    threshold: 2,
    faultMs: [2_000, 5_000],
    gapMs: [3_000, 5_000],
    plan: (rng, parties) => {
      const coordinator = rng.chance(0.25);
      const node = coordinator ? coordinatorNode : rng.pick(parties);
      return {
        kind: 'kill',
        actions: [{ kind: 'kill', node }],
        impaired: coordinator ? [] : [node],
        coordinatorDown: coordinator,
        detectable: !coordinator,
        description: `kill -9 ${node}, restart at heal`,
      };
    },
  },
  pause: {
    parties: 3,
    threshold: 2,
    faultMs: [3_000, 6_000],
    gapMs: [2_000, 4_000],
    plan: (rng, parties) => {
      const node = rng.pick(parties);
      return {
        kind: 'pause',
        actions: [{ kind: 'pause', node }],
        impaired: [node],
        coordinatorDown: false,
        detectable: true,
        description: `SIGSTOP ${node}, SIGCONT at heal`,
      };
    },
  },
  'clock-skew': {
    parties: 3,
    threshold: 2,
    faultMs: [4_000, 8_000],
    gapMs: [2_000, 4_000],
    plan: (rng, parties) => {
      const node = rng.pick(parties);
      const magnitude = rng.chance(0.3) ? rng.int(10_000, 30_000) : rng.int(200, 3_000);
      const offsetMs = rng.chance(0.5) ? magnitude : -magnitude;
      return {
        kind: 'clock-skew',
        actions: [{ kind: 'clock', node, offsetMs }],
        impaired: [],
        coordinatorDown: false,
        detectable: false,
        description: `${node}'s wall clock ${offsetMs > 0 ? '+' : ''}${offsetMs} ms`,
      };
    },
  },
  'packet-loss': {
    parties: 3,
    threshold: 2,
    faultMs: [4_000, 8_000],
    gapMs: [2_000, 4_000],
    plan: (rng, parties) => {
      const [lossy, slow] = rng.shuffle(parties) as [string, string];
      const percent = rng.int(10, 40);
      const latencyMs = rng.int(50, 300);
      const jitterMs = rng.int(0, Math.min(100, latencyMs));
      return {
        kind: 'loss+latency',
        actions: [
          { kind: 'loss', node: lossy, percent },
          { kind: 'latency', node: slow, latencyMs, jitterMs },
        ],
        impaired: [lossy, slow].sort(),
        coordinatorDown: false,
        detectable: false,
        description: `${lossy} drops ${percent}% of packets; ${slow} sends with ${latencyMs}±${jitterMs} ms`,
      };
    },
  },
  // The client cut off from the coordinator: both ways, or one way (requests lost, or answers
  // lost, so the coordinator signs what the client never hears about). No party is impaired:
  // the cluster must finish or fail every session it accepted on its own, and the client's
  // retry of the same intent must find that session, never make a second signature.
  'client-partition': {
    parties: 3,
    threshold: 2,
    faultMs: [3_000, 6_000],
    gapMs: [2_000, 4_000],
    plan: (rng) => {
      const ways = [
        { cuts: cutBetweenPair(clientNode, coordinatorNode), text: 'client ⇹ coordinator cut' },
        { cuts: [[clientNode, coordinatorNode] as const], text: 'client → coordinator cut' },
        { cuts: [[coordinatorNode, clientNode] as const], text: 'coordinator → client cut' },
      ];
      const way = rng.pick(ways);
      return {
        kind: 'client-partition',
        actions: [{ kind: 'partition', shape: 'client-partition', cuts: way.cuts }],
        impaired: [],
        coordinatorDown: false,
        detectable: false,
        description: way.text,
      };
    },
  },
};

/** Topology of a scenario: party ids and threshold. */
export function scenarioTopology(name: ScenarioName): { parties: string[]; threshold: number } {
  const s = shapes[name];
  return {
    parties: Array.from({ length: s.parties }, (_, i) => `p${i + 1}`),
    threshold: s.threshold,
  };
}

/**
 * The fault windows of one run: none in the first `warmupMs` or the last `tailMs`, windows and
 * gaps drawn from the scenario's ranges, and at least one window (shortened to fit).
 */
export function planSchedule(name: ScenarioName, seed: number, durationMs: number): Schedule {
  const shape = shapes[name];
  const rng = seededRandom(seed, `schedule:${name}`);
  const { parties, threshold } = scenarioTopology(name);
  const lastEndMs = durationMs - chaosLimits.tailMs;
  const windows: FaultWindow[] = [];
  let at = chaosLimits.warmupMs;
  while (windows.length < 1_000) {
    let length = rng.int(shape.faultMs[0], shape.faultMs[1]);
    if (at + length > lastEndMs) {
      if (windows.length > 0) break;
      length = Math.max(1_000, lastEndMs - at);
    }
    const window = shape.plan(rng, parties, length);
    windows.push({ id: `f${windows.length + 1}`, startMs: at, endMs: at + length, ...window });
    at += length + rng.int(shape.gapMs[0], shape.gapMs[1]);
  }
  return { scenario: name, seed, durationMs, parties, threshold, windows };
}
