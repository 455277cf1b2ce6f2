import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../../src/core/seeded-random.ts';
import { standardExponential } from '../../src/policy/exponential-ziggurat.ts';
import { drawDuration, gammaFunction, outageLaw } from '../../src/policy/outage-sampler.ts';
import {
  advanceScheduleGates,
  compileScheduleGates,
  startScheduleGates,
  type Schedule,
} from '../../src/policy/schedule-gates.ts';
import { nextScheduleChangeHours, scheduleUpAt } from './schedule-oracle.ts';

void describe('outage durations', () => {
  void it('gamma function matches known values', () => {
    for (const [x, expected] of [
      [1, 1],
      [5, 24],
      [0.5, Math.sqrt(Math.PI)],
      [2.5, 1.329340388179137],
    ] as const) {
      assert.ok(Math.abs(gammaFunction(x) - expected) < 1e-12 * expected, `Γ(${x})`);
    }
  });

  for (const distribution of [
    { distribution: 'exponential' },
    { distribution: 'weibull', shape: 0.7 },
    { distribution: 'weibull', shape: 3 },
    { distribution: 'lognormal', sigma: 0.8 },
  ] as const) {
    void it(`${JSON.stringify(distribution)} has mean MTTR`, () => {
      const { kind, a, b } = outageLaw(distribution, 4);
      const prng = seededRandom(5, 'outage-durations');
      let sum = 0;
      const count = 200_000;
      for (let i = 0; i < count; i++) sum += drawDuration(kind, a, b, prng);
      assert.ok(Math.abs(sum / count / 4 - 1) < 0.02, `mean ${sum / count}`);
    });
  }
});

void describe('ziggurat exponential', () => {
  const count = 640_000;
  const draws = (seed: number): Float64Array => {
    const prng = seededRandom(seed, 'ziggurat');
    return Float64Array.from({ length: count }, () => standardExponential(prng));
  };

  void it('fills 64 equiprobable bins of Exp(1) as a chi-square test allows', () => {
    // Bin k holds [-ln(1 - k/64), -ln(1 - (k+1)/64)); a wrong layer, wedge or tail shows up as
    // bins away from count/64. 63 degrees of freedom: P(chi2 > 110) is about 2e-4.
    const bins = 64;
    const observed = new Float64Array(bins);
    for (const x of draws(11)) {
      const bin = Math.min(bins - 1, Math.floor(bins * (1 - Math.exp(-x))));
      observed[bin] = (observed[bin] as number) + 1;
    }
    const expected = count / bins;
    const chiSquare = observed.reduce((sum, o) => sum + (o - expected) ** 2 / expected, 0);
    assert.ok(chiSquare < 110, `chi-square ${chiSquare}`);
  });

  void it('has mean 1, variance 1 and the exponential tail beyond the base layer', () => {
    const sample = draws(12);
    const mean = sample.reduce((a, x) => a + x, 0) / count;
    const variance = sample.reduce((a, x) => a + (x - mean) ** 2, 0) / (count - 1);
    // Standard errors: 1/sqrt(n) = 0.00125 for the mean, about 2.6/sqrt(n) for the variance.
    assert.ok(Math.abs(mean - 1) < 0.006, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.016, `variance ${variance}`);
    // Beyond r = 7.697 (the tail path): P = e^-r, about 291 ± 17 of 640 000, and memoryless.
    const tail = sample.filter((x) => x > 7.69711747013105);
    const expectedTail = count * Math.exp(-7.69711747013105);
    assert.ok(Math.abs(tail.length - expectedTail) < 5 * Math.sqrt(expectedTail), `${tail.length}`);
    const tailExcess = tail.reduce((a, x) => a + x - 7.69711747013105, 0) / tail.length;
    assert.ok(Math.abs(tailExcess - 1) < 0.3, `mean excess over r ${tailExcess}`);
    assert.ok(sample.every((x) => x > 0 && Number.isFinite(x)));
  });
});

void describe('schedules', () => {
  const schedule = {
    maintenance: { everyHours: 168, durationHours: 2, offsetHours: 26 },
    dailyOnline: { fromHour: 22, toHour: 6 },
  };
  void it('online windows wrap midnight and maintenance follows its offset', () => {
    assert.equal(scheduleUpAt(schedule, 23), true);
    assert.equal(scheduleUpAt(schedule, 3), true);
    assert.equal(scheduleUpAt(schedule, 12), false);
    assert.equal(scheduleUpAt(schedule, 26.5), false, 'maintenance');
    assert.equal(scheduleUpAt(schedule, 28.5), true);
  });

  void it('the next change is strictly later and the state is constant until then (fast-check)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), (t) => {
        const next = nextScheduleChangeHours(schedule, t);
        assert.ok(next > t && next - t <= 24);
        const state = scheduleUpAt(schedule, t + (next - t) * 0.01);
        assert.equal(scheduleUpAt(schedule, t + (next - t) * 0.99), state);
      }),
      { numRuns: 300 },
    );
  });

  void it('stepped gates match nextScheduleChangeHours and scheduleUpAt (fast-check)', () => {
    const hours = fc.oneof(
      fc.integer({ min: 0, max: 23 }),
      fc.double({ min: 0, max: 23.99, noNaN: true }),
    );
    const maintenance = fc.option(
      fc
        .record({
          everyHours: fc.oneof(
            fc.constantFrom(24, 168),
            fc.double({ min: 0.5, max: 400, noNaN: true }),
          ),
          durationFraction: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
          offsetFraction: fc.double({ min: 0, max: 0.99, noNaN: true }),
        })
        .map(({ everyHours, durationFraction, offsetFraction }) => ({
          everyHours,
          durationHours: Math.max(0.01, everyHours * durationFraction),
          offsetHours: everyHours * offsetFraction,
        })),
      { nil: null },
    );
    const dailyOnline = fc.option(
      fc
        .record({ fromHour: hours, toHour: hours })
        .filter((w) => (w.toHour - w.fromHour + 24) % 24 >= 0.01),
      { nil: null },
    );
    fc.assert(
      fc.property(
        fc.record({ maintenance, dailyOnline }),
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        (schedule: Schedule, startHours) => {
          const gates = compileScheduleGates([schedule]);
          startScheduleGates(gates, startHours);
          let t = startHours;
          for (let step = 0; step < 60; step++) {
            const next = nextScheduleChangeHours(schedule, t);
            const gateNext = gates.nextChangeHours[0] as number;
            if (!Number.isFinite(next)) {
              assert.equal(gateNext, Infinity);
              assert.equal(gates.up[0], 1);
              return;
            }
            assert.ok(Math.abs(gateNext - next) < 1e-6, `step ${step}: ${gateNext} vs ${next}`);
            assert.equal(gates.up[0] === 1, scheduleUpAt(schedule, (t + next) / 2), `step ${step}`);
            t = gateNext;
            advanceScheduleGates(gates, 0, t);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
