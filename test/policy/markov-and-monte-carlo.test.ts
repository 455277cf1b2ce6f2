import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  compilePlacement,
  indexPolicyFile,
  type CompiledPlacement,
} from '../../src/policy/compile-placement.ts';
import { exactImportance } from '../../src/policy/exact-availability.ts';
import { markovOutages } from '../../src/policy/markov-outages.ts';
import { simulateMonths } from '../../src/policy/monte-carlo.ts';
import { parsePolicyText } from '../../src/policy/parse-policy-text.ts';
import { monthHours } from '../../src/core/limits.ts';

const ratesYaml = `
groups:
  - { id: region, mttfHours: 300, mttrHours: 6 }
shares:
  - { id: a, type: backend, domain: op, mttfHours: 50, mttrHours: 5, groups: [region] }
  - { id: b, type: backend, domain: op2, mttfHours: 80, mttrHours: 4, groups: [region] }
  - { id: c, type: guardian, domain: g, mttfHours: 30, mttrHours: 6 }
  - { id: d, type: mobile, domain: u, mttfHours: 20, mttrHours: 5 }
`;

function ratesModel(ids: readonly string[]): CompiledPlacement {
  return compilePlacement(indexPolicyFile(parsePolicyText(ratesYaml)), ids, 'test');
}

/** Independent oracle: the full continuous-time Markov chain over all component states. */
function ctmcSteadyState(
  model: CompiledPlacement,
  t: number,
): { availability: number; failuresPerHour: number } {
  const components = [...model.shares, ...model.groups].map(
    (c) => c.rates as { mttfHours: number; mttrHours: number },
  );
  const count = components.length;
  const states = 1 << count; // bit set = component down
  const rate = (s: number, i: number): number => {
    const c = components[i] as { mttfHours: number; mttrHours: number };
    return (s >> i) & 1 ? 1 / c.mttrHours : 1 / c.mttfHours;
  };
  // Solve pi Q = 0 with sum(pi) = 1: equations Q^T pi = 0, the last replaced by normalisation.
  const matrix = Array.from({ length: states }, () => new Float64Array(states + 1));
  for (let s = 0; s < states; s++) {
    for (let i = 0; i < count; i++) {
      const target = s ^ (1 << i);
      const into = matrix[target] as Float64Array;
      const own = matrix[s] as Float64Array;
      into[s] = (into[s] as number) + rate(s, i);
      own[s] = (own[s] as number) - rate(s, i);
    }
  }
  const last = matrix[states - 1] as Float64Array;
  last.fill(1);
  const pi = gaussianSolve(matrix, states);
  const n = model.shares.length;
  const systemUp = (s: number): boolean => {
    const groupDown = s >> n;
    let up = 0;
    for (let i = 0; i < n; i++)
      if (((s >> i) & 1) === 0 && ((model.shareGroupMask[i] as number) & groupDown) === 0) up++;
    return up >= t;
  };
  let availability = 0;
  let failuresPerHour = 0;
  for (let s = 0; s < states; s++) {
    if (!systemUp(s)) continue;
    availability += pi[s] as number;
    for (let i = 0; i < count; i++)
      if (!systemUp(s ^ (1 << i))) failuresPerHour += (pi[s] as number) * rate(s, i);
  }
  return { availability, failuresPerHour };
}

function gaussianSolve(matrix: Float64Array[], size: number): Float64Array {
  for (let col = 0; col < size; col++) {
    let pivot = col;
    for (let r = col + 1; r < size; r++)
      if (
        Math.abs((matrix[r] as Float64Array)[col] as number) >
        Math.abs((matrix[pivot] as Float64Array)[col] as number)
      )
        pivot = r;
    [matrix[col], matrix[pivot]] = [matrix[pivot] as Float64Array, matrix[col] as Float64Array];
    const p = matrix[col] as Float64Array;
    for (let r = 0; r < size; r++) {
      if (r === col) continue;
      const row = matrix[r] as Float64Array;
      const factor = (row[col] as number) / (p[col] as number);
      for (let k = col; k <= size; k++) row[k] = (row[k] as number) - factor * (p[k] as number);
    }
  }
  return Float64Array.from(
    { length: size },
    (_, r) =>
      ((matrix[r] as Float64Array)[size] as number) / ((matrix[r] as Float64Array)[r] as number),
  );
}

void describe('Markov model', () => {
  for (const [ids, t] of [
    [['a', 'b', 'c'], 2],
    [['a', 'b', 'c', 'd'], 2],
    [['a', 'b', 'c', 'd'], 3],
    [['a', 'c'], 1],
  ] as const) {
    void it(`steady state of the full CTMC equals the exact availability and outage frequency (${t}-of-${ids.length})`, () => {
      const model = ratesModel(ids);
      const importance = exactImportance(model, t);
      const oracle = ctmcSteadyState(model, t);
      assert.ok(
        Math.abs(1 - importance.unavailability - oracle.availability) < 1e-10,
        `${1 - importance.unavailability} vs ${oracle.availability}`,
      );
      const markov = markovOutages(model, importance);
      assert.ok(markov !== null);
      const expected = oracle.failuresPerHour * monthHours;
      assert.ok(
        Math.abs(markov.outagesPerMonth - expected) < 1e-9 * Math.max(1, expected),
        `${markov.outagesPerMonth} vs ${expected}`,
      );
      const meanMinutes = ((1 - oracle.availability) / oracle.failuresPerHour) * 60;
      assert.ok(Math.abs((markov.meanOutageMinutes as number) - meanMinutes) < 1e-6 * meanMinutes);
    });
  }

  void it('is null when a fallible component has no rates', () => {
    const file = parsePolicyText(
      `shares:\n  - { id: a, type: mobile, domain: u, availability: 0.8 }\n  - { id: b, type: backend, domain: o, mttfHours: 10, mttrHours: 1 }\n`,
    );
    const model = compilePlacement(indexPolicyFile(file), ['a', 'b'], 'test');
    assert.equal(markovOutages(model, exactImportance(model, 1)), null);
  });
});

void describe('Monte Carlo', () => {
  void it('mean availability is within its 99 % confidence interval of exact (fixed seed)', () => {
    const model = ratesModel(['a', 'b', 'c', 'd']);
    const exact = 1 - exactImportance(model, 2).unavailability;
    const result = simulateMonths({
      model,
      threshold: 2,
      months: 4000,
      seed: 20240501,
      slo: 0.999,
      mttrHoursDefault: 1,
    });
    const [low, high] = result.availabilityCi99;
    assert.ok(low <= exact && exact <= high, `exact ${exact} outside [${low}, ${high}]`);
    assert.ok(high - low < 0.01, 'the interval is informative');
    const markov = markovOutages(model, exactImportance(model, 2));
    assert.ok(markov !== null);
    // Outage counts agree with the Markov frequency to within 5 % over 4000 months.
    assert.ok(Math.abs(result.outagesPerMonth / markov.outagesPerMonth - 1) < 0.05);
  });

  void it('a seed replays exactly and another seed differs', () => {
    const model = ratesModel(['a', 'b', 'c']);
    const run = (seed: number) =>
      simulateMonths({ model, threshold: 2, months: 200, seed, slo: 0.999, mttrHoursDefault: 1 });
    assert.deepEqual(run(7), run(7));
    assert.notEqual(run(7).meanAvailability, run(8).meanAvailability);
  });

  void it('aligned schedules show up in the simulation but not in the independence model', () => {
    // Two shares each in maintenance 2 h of every 24 h at the same hour: 2-of-2 loses 2 h a day
    // (1/12), whereas independent windows would lose 1 - (11/12)^2.
    const text = `shares:
  - { id: a, type: backend, domain: o, availability: 1, maintenance: { everyHours: 24, durationHours: 2 } }
  - { id: b, type: backend, domain: p, availability: 1, maintenance: { everyHours: 24, durationHours: 2 } }
`;
    const model = compilePlacement(indexPolicyFile(parsePolicyText(text)), ['a', 'b'], 'test');
    const result = simulateMonths({
      model,
      threshold: 2,
      months: 100,
      seed: 1,
      slo: 0.9,
      mttrHoursDefault: 1,
    });
    assert.ok(Math.abs(result.meanAvailability - 11 / 12) < 1e-9, String(result.meanAvailability));
    assert.ok(Math.abs(1 - exactImportance(model, 2).unavailability - (11 / 12) ** 2) < 1e-12);
    assert.equal(result.pMonthBreachesSlo, 0);
  });

  for (const [label, online, maintenance, upHoursPerDay] of [
    ['a daily window that wraps midnight', '{ fromHour: 22, toHour: 6 }', null, 8],
    // Maintenance 18:00-20:00 ends exactly when the window closes: one change, not a blip up.
    [
      'maintenance ending as the window closes',
      '{ fromHour: 8, toHour: 20 }',
      '{ everyHours: 24, durationHours: 2, offsetHours: 18 }',
      10,
    ],
    // The same with boundaries that meet only up to rounding (17.7 + 2.3).
    [
      'boundaries that meet up to rounding',
      '{ fromHour: 8, toHour: 20 }',
      '{ everyHours: 24, durationHours: 2.3, offsetHours: 17.7 }',
      9.7,
    ],
  ] as const) {
    void it(`schedules alone: ${label} gives one outage a day`, () => {
      const text = `shares:
  - { id: a, type: mobile, domain: u, availability: 1, dailyOnline: ${online}${maintenance === null ? '' : `, maintenance: ${maintenance}`} }
`;
      const model = compilePlacement(indexPolicyFile(parsePolicyText(text)), ['a'], 'test');
      const result = simulateMonths({
        model,
        threshold: 1,
        months: 200,
        seed: 5,
        slo: 0.5,
        mttrHoursDefault: 1,
      });
      assert.ok(
        Math.abs(result.meanAvailability - upHoursPerDay / 24) < 1e-9,
        String(result.meanAvailability),
      );
      assert.equal(result.outagesPerMonth, 30);
    });
  }

  void it('p95 and breach probability are consistent with the monthly distribution', () => {
    const model = ratesModel(['a', 'b', 'c']);
    const result = simulateMonths({
      model,
      threshold: 2,
      months: 1000,
      seed: 3,
      slo: 0.99,
      mttrHoursDefault: 1,
    });
    assert.ok(result.p95DowntimeMinutesPerMonth >= result.meanDowntimeMinutesPerMonth * 0.5);
    const allowed = 0.01 * 43200;
    assert.equal(result.pMonthBreachesSlo > 0.05, result.p95DowntimeMinutesPerMonth > allowed);
  });
});
