import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  amountMinorRounded,
  evaluateRules,
  formatMinor,
  parseAmountMinor,
  parseWindowMs,
  velocityLimitExceeded,
  windowTotals,
} from '../../src/policy/rules/index.ts';
import type { VelocityEvent, VelocityLimit } from '../../src/policy/rules/index.ts';
import { loadRetail } from './rules-fixture.ts';

const usdc = { id: 'USDC', decimals: 6 };
const hourMs = 3_600_000;
const now = 1_700_000_000_000;

function event(
  atMs: number,
  amount: string | null,
  asset: string | null = 'USDC',
  sessionId = `s${atMs}`,
): VelocityEvent {
  return { sessionId, atMs, asset, amount };
}

function limit(window: string, maxAmount: string | null, maxCount: number | null): VelocityLimit {
  const windowMs = parseWindowMs(window);
  assert.ok(windowMs !== null);
  return { window, windowMs, maxAmount, maxCount };
}

void describe('decimal amounts', () => {
  void it('parses exactly into minor units', () => {
    assert.deepEqual(parseAmountMinor('1234.5', 6), { ok: true, minor: 1_234_500_000n });
    assert.deepEqual(parseAmountMinor('0.000001', 6), { ok: true, minor: 1n });
    assert.deepEqual(parseAmountMinor('7.000000000', 6), { ok: true, minor: 7_000_000n });
    assert.deepEqual(parseAmountMinor('9223372036854775807', 0), {
      ok: true,
      minor: 2n ** 63n - 1n,
    });
    for (const [text, problem] of [
      ['9223372036854775808', /exceeds the int64 range/],
      ['0.0000001', /more than 6 decimals/],
      ['1e6', /not a decimal/],
      ['-1', /not a decimal/],
      ['1.', /not a decimal/],
      ['.5', /not a decimal/],
      [' 1', /not a decimal/],
    ] as const) {
      const parsed = parseAmountMinor(text, text.startsWith('9') ? 0 : 6);
      assert.equal(parsed.ok, false, text);
      if (!parsed.ok) assert.match(parsed.problem, problem);
    }
  });

  void it('rounds only in the documented safe direction', () => {
    assert.equal(amountMinorRounded('0.0000011', 6, 'up'), 2n);
    assert.equal(amountMinorRounded('0.0000011', 6, 'down'), 1n);
    assert.equal(amountMinorRounded('5', 6, 'up'), 5_000_000n);
    assert.equal(amountMinorRounded('garbage', 6, 'up'), 2n ** 63n - 1n);
    assert.equal(amountMinorRounded('1' + '0'.repeat(30), 6, 'up'), 2n ** 63n - 1n);
  });

  void it('format and parse round-trip', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        fc.integer({ min: 0, max: 18 }),
        (minor, decimals) => {
          assert.deepEqual(parseAmountMinor(formatMinor(minor, decimals), decimals), {
            ok: true,
            minor,
          });
        },
      ),
    );
  });
});

void describe('velocity windows', () => {
  void it('parses window lengths within 1 min .. 30 d', () => {
    assert.equal(parseWindowMs('1m'), 60_000);
    assert.equal(parseWindowMs('90m'), 90 * 60_000);
    assert.equal(parseWindowMs('24h'), 24 * hourMs);
    assert.equal(parseWindowMs('30d'), 30 * 24 * hourMs);
    for (const bad of ['0h', '31d', '1w', '1.5h', 'h', '', '01h', '24H'])
      assert.equal(parseWindowMs(bad), null, bad);
  });

  void it('holds events with atMs in (now - W, now], and future ones', () => {
    const events = [
      event(now - hourMs, '1'), // exactly on the edge: outside
      event(now - hourMs + 1, '2'),
      event(now, '4'),
      event(now + 5_000, '8'), // a replica's clock ahead: counted (over-counting is safe)
    ];
    assert.deepEqual(windowTotals(events, now, hourMs, usdc, null), {
      count: 3,
      amountMinor: 14_000_000n,
    });
  });

  void it('counts every asset, sums only the request asset, excludes the own session', () => {
    const events = [
      event(now - 1, '1'),
      event(now - 2, '100', 'BTC'),
      event(now - 3, null, null),
      event(now - 4, '1000', 'USDC', 'me'),
      event(now - 5, '0.0000001'), // finer than 6 decimals: rounds up to 1 minor unit
    ];
    assert.deepEqual(windowTotals(events, now, hourMs, usdc, 'me'), {
      count: 4,
      amountMinor: 1_000_001n,
    });
    assert.deepEqual(windowTotals(events, now, hourMs, null, null), {
      count: 5,
      amountMinor: null,
    });
  });

  void it('saturates sums at int64', () => {
    const big = Array.from({ length: 3 }, (_, i) => event(now - i, '9000000000000'));
    assert.equal(windowTotals(big, now, hourMs, usdc, null).amountMinor, 2n ** 63n - 1n);
  });

  void it('totals are monotone in the window and in the events', () => {
    const eventArb = fc.record({
      sessionId: fc.string({ maxLength: 3 }),
      atMs: fc.integer({ min: now - 40 * 24 * hourMs, max: now + hourMs }),
      asset: fc.constantFrom('USDC', 'BTC', null),
      amount: fc.constantFrom('1', '0.5', '1000000', null),
    });
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 20 }),
        eventArb,
        fc.integer({ min: 60_000, max: 30 * 24 * hourMs }),
        fc.integer({ min: 0, max: 24 * hourMs }),
        (events, extra, w, dw) => {
          const a = windowTotals(events, now, w, usdc, null);
          const wider = windowTotals(events, now, w + dw, usdc, null);
          const more = windowTotals([...events, extra], now, w, usdc, null);
          assert.ok(wider.count >= a.count && (wider.amountMinor ?? 0n) >= (a.amountMinor ?? 0n));
          assert.ok(more.count >= a.count && (more.amountMinor ?? 0n) >= (a.amountMinor ?? 0n));
        },
      ),
    );
  });
});

void describe('velocity limits', () => {
  const request = { asset: usdc, amountMinor: 500_000_000n };

  void it('include the current request', () => {
    const l = limit('24h', '1000', 3);
    assert.equal(velocityLimitExceeded(l, { count: 2, amountMinor: 500_000_000n }, request), null);
    assert.match(
      velocityLimitExceeded(l, { count: 3, amountMinor: 0n }, request) ?? '',
      /^4 requests in 24h would exceed maxCount 3$/,
    );
    assert.match(
      velocityLimitExceeded(l, { count: 0, amountMinor: 500_000_001n }, request) ?? '',
      /^1000\.000001 USDC in 24h would exceed maxAmount 1000$/,
    );
  });

  void it('an amount limit denies a request it cannot measure', () => {
    const l = limit('1h', '10', null);
    const problem = velocityLimitExceeded(
      l,
      { count: 0, amountMinor: null },
      { asset: null, amountMinor: null },
    );
    assert.match(problem ?? '', /needs the request's amount and a declared asset/);
    assert.equal(
      velocityLimitExceeded(
        limit('1h', null, 5),
        { count: 0, amountMinor: null },
        { asset: null, amountMinor: null },
      ),
      null,
    );
  });

  void it('a limit finer than the asset rounds down (stricter)', () => {
    const l = limit('1h', '0.0000019', null); // 1.9 minor units → 1
    assert.equal(
      velocityLimitExceeded(l, { count: 0, amountMinor: 0n }, { asset: usdc, amountMinor: 1n }),
      null,
    );
    assert.notEqual(
      velocityLimitExceeded(l, { count: 0, amountMinor: 1n }, { asset: usdc, amountMinor: 1n }),
      null,
    );
  });

  void it('velocity counters are visible to CEL, excluding the current request', () => {
    const when = [
      'velocity.count1h == 3', // two USDC events and one BTC event in the last hour
      'velocity.amount1h == 3 * unit', // only USDC amounts add up
      'velocity.count24h == 4',
      'velocity.amount30d == 7 * unit',
    ].join(' && ');
    const events = [
      event(now - 1, '1'),
      event(now - 2, '2'),
      event(now - 60_000, '100', 'BTC'),
      event(now - 2 * hourMs, '4'),
    ];
    const { rules: set } = loadRetail([{ id: 'a', when, effect: 'allow' }]);
    const request = { context: { amount: '5', asset: 'USDC' }, nowMs: now };
    const d = evaluateRules(set, 'retail', request, events);
    assert.equal(d.effect, 'allow', JSON.stringify(d));
    assert.equal(evaluateRules(set, 'retail', request, events.slice(1)).effect, 'deny');
    // Amount counters do not exist without an asset: reading one denies.
    const noAsset = evaluateRules(
      loadRetail([{ id: 'b', when: 'velocity.amount1h >= 0', effect: 'allow' }]).rules,
      'retail',
      { context: {}, nowMs: now },
      [],
    );
    assert.equal(noAsset.effect === 'deny' && noAsset.cause, 'evaluation-error');
  });

  void it('limits of every matching allow apply', () => {
    const rules = [
      { id: 'loose', when: 'true', effect: 'allow', velocity: [{ window: '24h', maxCount: 100 }] },
      {
        id: 'tight',
        when: 'amount > 10 * unit',
        effect: 'allow',
        velocity: [{ window: '1h', maxAmount: '50' }],
      },
    ];
    const { rules: set } = loadRetail(rules);
    const events = [event(now - 1000, '40')];
    const small = evaluateRules(
      set,
      'retail',
      { context: { amount: '10', asset: 'USDC' }, nowMs: now },
      events,
    );
    assert.equal(small.effect, 'allow'); // 'tight' does not match
    const large = evaluateRules(
      set,
      'retail',
      { context: { amount: '11', asset: 'USDC' }, nowMs: now },
      events,
    );
    assert.deepEqual(large, {
      effect: 'deny',
      cause: 'velocity',
      ruleId: 'tight',
      reason: "velocity limit of rule 'tight': 51 USDC in 1h would exceed maxAmount 50",
    });
    // An hour later the event has left the window.
    const later = evaluateRules(
      set,
      'retail',
      { context: { amount: '11', asset: 'USDC' }, nowMs: now + hourMs },
      events,
    );
    assert.equal(later.effect, 'allow');
  });
});
