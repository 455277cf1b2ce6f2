import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PhiAccrualDetector, defaultPhiOptions } from '../../src/detector/phi-accrual.ts';

function steady(
  detector: PhiAccrualDetector,
  fromMs: number,
  count: number,
  everyMs: number,
): number {
  let t = fromMs;
  for (let i = 0; i < count; i++) {
    detector.heartbeat(t);
    t += everyMs;
  }
  return t - everyMs;
}

test('steady 1 s heartbeats: alive just after a beat, suspect well before 3 s of silence', () => {
  const d = new PhiAccrualDetector(defaultPhiOptions);
  const last = steady(d, 0, 30, 1000);
  assert.equal(d.isSuspect(last + 1000), false);
  assert.equal(d.isSuspect(last + 2500), true);
  assert.ok(d.phi(last + 2500) > d.phi(last + 1500), 'phi grows with silence');
});

test('an outage is not learned: detection after a long pause stays as fast as before it', () => {
  const d = new PhiAccrualDetector(defaultPhiOptions);
  const last = steady(d, 0, 30, 1000);
  const firstSuspect = [...Array(100).keys()].map((i) => last + i * 50).find((t) => d.isSuspect(t));
  d.heartbeat(last + 8000); // back after an 8 s pause
  const after = steady(d, last + 9000, 5, 1000);
  const secondSuspect = [...Array(100).keys()]
    .map((i) => after + i * 50)
    .find((t) => d.isSuspect(t));
  assert.ok(firstSuspect !== undefined && secondSuspect !== undefined);
  assert.equal(secondSuspect - after, firstSuspect - last);
});
