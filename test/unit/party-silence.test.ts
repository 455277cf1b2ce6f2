/**
 * How long a party lets a coordinator connection stay silent before closing and redialing it
 * (the behaviour itself is exercised by the simulator's combined regression seeds 279 and 241).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limits } from '../../src/core/limits.ts';
import { silenceMsFor } from '../../src/party/runtime.ts';

test('silence = 5 announced heartbeats, clamped; a bad announcement falls back to the default', () => {
  assert.equal(silenceMsFor(1_000), 5_000);
  assert.equal(silenceMsFor(300), 1_500);
  assert.equal(silenceMsFor(limits.heartbeatIntervalMsMin), limits.partyCoordinatorSilenceMsMin);
  assert.equal(silenceMsFor(limits.heartbeatIntervalMsMax), 50_000);
  const fallback = limits.heartbeatIntervalMsDefault * limits.partyCoordinatorSilenceBeats;
  for (const bad of [undefined, null, '1000', Number.NaN, Infinity, 0, -5, 10 ** 9]) {
    assert.equal(silenceMsFor(bad), fallback, String(bad));
  }
});
