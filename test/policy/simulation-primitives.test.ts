import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gammaFunction, outageSampler } from '../../src/policy/outage-sampler.ts';
import { createSeededPrng } from '../../src/policy/seeded-prng.ts';
import { nextScheduleChangeHours, scheduleUpAt } from '../../src/policy/time-schedule.ts';

void describe('seeded PRNG (xoshiro128**)', () => {
  void it('replays a seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const prng = createSeededPrng(seed);
      return Array.from({ length: 8 }, () => prng.nextUint32());
    };
    assert.deepEqual(draw(1), draw(1));
    assert.notDeepEqual(draw(1), draw(2));
  });

  void it('open-unit draws stay in (0, 1) with mean near 1/2', () => {
    const prng = createSeededPrng(99);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) {
      const u = prng.nextOpenUnit();
      assert.ok(u > 0 && u < 1);
      sum += u;
    }
    // Standard error of the mean is 0.0009; 5 of them is a generous, still failing-capable bound.
    assert.ok(Math.abs(sum / 100_000 - 0.5) < 0.0046);
  });
});

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
      const sample = outageSampler(distribution, 4);
      const prng = createSeededPrng(5);
      let sum = 0;
      const count = 200_000;
      for (let i = 0; i < count; i++) sum += sample(prng);
      assert.ok(Math.abs(sum / count / 4 - 1) < 0.02, `mean ${sum / count}`);
    });
  }
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
});
