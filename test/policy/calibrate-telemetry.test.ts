import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { QuorateError } from '../../src/core/errors.ts';
import { analyzePolicyFile } from '../../src/policy/analyze-policy.ts';
import { calibrateTelemetry } from '../../src/policy/calibrate-telemetry.ts';
import { parsePolicyText } from '../../src/policy/parse-policy-text.ts';
import { stringifyPolicyDocument } from '../../src/policy/policy-yaml.ts';

const hourMs = 3_600_000;
const header = (endHours: number): string =>
  JSON.stringify({ kind: 'header', version: 1, windowStartMs: 0, windowEndMs: endHours * hourMs });
const event = (hours: number, partyId: string, state: 'up' | 'down'): string =>
  JSON.stringify({ t: hours * hourMs, partyId, state });

const close = (actual: number | null, expected: number): void => {
  assert.ok(
    actual !== null && Math.abs(actual - expected) < 1e-9,
    `expected ${expected}, got ${actual}`,
  );
};

void describe('calibrate', () => {
  void it('exponential MLE with a censored last interval: time in state / completed transitions', () => {
    const text = [
      header(100),
      event(0, 'p', 'up'),
      event(10, 'p', 'down'),
      event(12, 'p', 'up'),
      event(30, 'p', 'up'),
      event(50, 'p', 'down'),
      event(53, 'p', 'up'),
      event(90, 'p', 'down'),
    ].join('\n');
    const fit = calibrateTelemetry(text).shares[0];
    assert.ok(fit !== undefined);
    close(fit.upHours, 85);
    close(fit.downHours, 15);
    assert.equal(fit.failures, 3);
    assert.equal(fit.repairs, 2, 'the outage still open at the window end is censored');
    close(fit.mttfHours, 85 / 3);
    close(fit.mttrHours, 7.5);
    close(fit.availability, 85 / 3 / (85 / 3 + 7.5));
    assert.equal(fit.basis, 'rates');
  });

  void it('a group is down while all members are down; members do not count it twice', () => {
    const text = [
      header(100),
      JSON.stringify({ kind: 'group', group: 'g', partyIds: ['a', 'b'] }),
      JSON.stringify({ kind: 'party', partyId: 'a', type: 'backend', domain: 'operator' }),
      event(0, 'a', 'up'),
      event(10, 'a', 'down'),
      event(20, 'a', 'up'),
      event(60, 'a', 'down'),
      event(62, 'a', 'up'),
      event(0, 'b', 'up'),
      event(10, 'b', 'down'),
      event(20, 'b', 'up'),
      event(30, 'b', 'down'),
      event(35, 'b', 'up'),
    ].join('\n');
    const calibration = calibrateTelemetry(text);
    const group = calibration.groups[0];
    assert.ok(group !== undefined);
    close(group.mttfHours, 90);
    close(group.mttrHours, 10);
    const [a, b] = calibration.shares;
    assert.ok(a !== undefined && b !== undefined);
    assert.deepEqual([a.failures, a.repairs, a.domain, a.type], [1, 1, 'operator', 'backend']);
    close(a.mttfHours, 88);
    close(a.mttrHours, 2);
    close(b.mttfHours, 85);
    close(b.mttrHours, 5);
    assert.equal(b.domain, 'b', 'domain defaults to the party id');
    assert.deepEqual(a.groups, ['g']);
  });

  void it('a party that never failed is written with availability 1', () => {
    const fit = calibrateTelemetry(
      [header(10), event(0, 'p', 'up'), event(5, 'p', 'up')].join('\n'),
    ).shares[0];
    assert.equal(fit?.availability, 1);
    assert.equal(fit?.basis, 'availability');
  });

  void it('the output is a policy file that analyze accepts, and round-trips the fits', () => {
    const text = [
      header(100),
      event(0, 'p', 'up'),
      event(10, 'p', 'down'),
      event(12, 'p', 'up'),
      event(0, 'q', 'up'),
      event(40, 'q', 'down'),
      event(41, 'q', 'up'),
    ].join('\n');
    const calibration = calibrateTelemetry(text);
    const file = parsePolicyText(stringifyPolicyDocument(calibration.policyDocument, 'test'));
    assert.equal(file.shares.length, 2);
    close(file.shares[0]?.rates?.mttfHours ?? null, 98);
    const analysis = analyzePolicyFile(file);
    assert.equal(analysis.policies[0]?.threshold, 2);
  });

  void it('rejects malformed lines with the line number', () => {
    const cases: [string, string, RegExp][] = [
      [
        [header(10), '{"t": 1, "partyId": "p", "state": "sideways"}'].join('\n'),
        'line 2.state',
        /"up" or "down"/,
      ],
      [[event(0, 'p', 'up'), header(10)].join('\n'), 'line 2', /first line/],
      [[header(10), 'not json'].join('\n'), 'line 2', /not valid JSON/],
      [
        [header(10), '{"t": -5, "partyId": "p", "state": "up"}'].join('\n'),
        'line 2.t',
        /epoch milliseconds/,
      ],
      [[header(10), event(20, 'p', 'up')].join('\n'), 'line 2.t', /outside the header window/],
      [
        [
          header(10),
          JSON.stringify({ kind: 'group', group: 'g', partyIds: ['p', 'x'] }),
          event(1, 'p', 'up'),
        ].join('\n'),
        'group g',
        /'x' has no events/,
      ],
      ['', '(file)', /no up\/down events/],
    ];
    for (const [text, path, problem] of cases) {
      assert.throws(
        () => calibrateTelemetry(text),
        (e: unknown) => {
          assert.ok(e instanceof QuorateError, String(e));
          assert.equal(e.code, 'QUORATE_E_POLICY_INVALID');
          assert.equal(e.detail['path'], path);
          assert.match(String(e.detail['problem']), problem);
          return true;
        },
      );
    }
  });
});
