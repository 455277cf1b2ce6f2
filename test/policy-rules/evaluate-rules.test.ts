import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  evaluateRules,
  loadPolicyDocumentWithRules,
  loadPolicyWithRules,
  timeFieldsOf,
} from '../../src/policy/rules/index.ts';
import type {
  QuorumRequirement,
  RuleDecision,
  RuleRequestContext,
  VelocityEvent,
} from '../../src/policy/rules/index.ts';
import { destinations, documentWith, loadRetail, mondayMorningMs } from './rules-fixture.ts';

const ok = destinations[0];
const allowlisted = '0x1111111111111111111111111111111111111111';

function usdc(amount: string, destination: string = allowlisted): RuleRequestContext {
  return { amount, asset: 'USDC', destination };
}

void describe('rule evaluation: the retail example, table-driven', () => {
  const loaded = loadPolicyWithRules(readFileSync('examples/policies/rules-retail.yaml', 'utf8'));
  const now = mondayMorningMs;
  const spent = (amounts: string[]): VelocityEvent[] =>
    amounts.map((amount, i) => ({
      sessionId: `s${i}`,
      atMs: now - 60_000 * (i + 1),
      asset: 'USDC',
      amount,
    }));
  const cases: {
    name: string;
    context: RuleRequestContext;
    events?: VelocityEvent[];
    expect: Partial<Record<string, unknown>>;
    requirement?: Partial<QuorumRequirement>;
  }[] = [
    {
      name: 'small transfer, any 2',
      context: usdc('999.99'),
      expect: { effect: 'allow', ruleIds: ['small-transfer'] },
      requirement: { minSigners: 2, requiredTypes: [], approvals: [] },
    },
    {
      name: 'exactly 1000 is small',
      context: usdc('1000'),
      expect: { effect: 'allow', ruleIds: ['small-transfer'] },
    },
    {
      name: '1000.000001 is large: guardian + approval',
      context: usdc('1000.000001'),
      expect: { effect: 'allow', ruleIds: ['large-transfer'] },
      requirement: { minSigners: 2, requiredTypes: ['guardian'], requiredShares: [] },
    },
    {
      name: 'destination off the allowlist',
      context: usdc('1', '0x9999'),
      expect: { effect: 'deny', cause: 'deny-rule', ruleId: 'destination-allowlist' },
    },
    {
      name: 'deny wins over a matching allow even when large',
      context: usdc('5000', '0x9999'),
      expect: { effect: 'deny', cause: 'deny-rule', ruleId: 'destination-allowlist' },
    },
    {
      name: 'no destination: cannot be evaluated',
      context: { amount: '1', asset: 'USDC' },
      expect: { effect: 'deny', cause: 'evaluation-error', ruleId: 'destination-allowlist' },
    },
    {
      name: 'unknown asset',
      context: { amount: '1', asset: 'DOGE', destination: allowlisted },
      expect: { effect: 'deny', cause: 'invalid-request' },
    },
    {
      name: 'too many decimals',
      context: usdc('0.0000001'),
      expect: { effect: 'deny', cause: 'invalid-request' },
    },
    {
      name: 'small velocity: 2 000 + 500 = 2 500 still fits',
      context: usdc('500'),
      events: spent(['1000', '1000']),
      expect: { effect: 'allow' },
    },
    {
      name: 'small velocity: 2 000 + 500.01 trips',
      context: usdc('500.01'),
      events: spent(['1000', '1000']),
      expect: { effect: 'deny', cause: 'velocity', ruleId: 'small-transfer' },
    },
    {
      name: 'count limit: 10 small transfers already',
      context: usdc('1'),
      events: spent(Array.from({ length: 10 }, () => '0.01')),
      expect: { effect: 'deny', cause: 'velocity' },
    },
    {
      name: 'large transfers are not under the small limit',
      context: usdc('5000'),
      events: spent(['1000', '1000']),
      expect: { effect: 'allow', ruleIds: ['large-transfer'] },
    },
    {
      name: 'daily cap deny rule',
      context: usdc('5000'),
      events: spent(['10000', '5000.000001']),
      expect: { effect: 'deny', cause: 'deny-rule', ruleId: 'daily-cap' },
    },
    {
      name: 'daily cap exactly reached is fine',
      context: usdc('5000'),
      events: spent(['10000', '5000']),
      expect: { effect: 'allow' },
    },
    {
      name: 'events older than 24 h do not count',
      context: usdc('5000'),
      events: [{ sessionId: 'old', atMs: now - 86_400_000, asset: 'USDC', amount: '20000' }],
      expect: { effect: 'allow' },
    },
  ];
  for (const c of cases) {
    void it(c.name, () => {
      const decision = evaluateRules(
        loaded.rules,
        'retail-2of3',
        { context: c.context, nowMs: now },
        c.events ?? [],
      );
      for (const [key, value] of Object.entries(c.expect)) {
        assert.deepEqual(
          (decision as Record<string, unknown>)[key],
          value,
          JSON.stringify(decision),
        );
      }
      if (c.requirement !== undefined) {
        assert.equal(decision.effect, 'allow');
        if (decision.effect !== 'allow') return;
        for (const [key, value] of Object.entries(c.requirement)) {
          assert.deepEqual(
            (decision.requirement as unknown as Record<string, unknown>)[key],
            value,
          );
        }
      }
    });
  }

  void it('a large transfer asks for one of the two approvers', () => {
    const d = evaluateRules(loaded.rules, 'retail-2of3', { context: usdc('5000'), nowMs: now }, []);
    assert.equal(d.effect, 'allow');
    if (d.effect !== 'allow') return;
    assert.deepEqual(
      d.requirement.approvals.map((g) => [g.ruleIds, g.k, g.approvers.map((a) => a.id)]),
      [[['large-transfer'], 1, ['risk-officer', 'compliance']]],
    );
  });

  void it('a re-check of the same session excludes its own counted event', () => {
    const events = [
      { sessionId: 'a', atMs: now - 1000, asset: 'USDC', amount: '1000' },
      { sessionId: 'b', atMs: now - 500, asset: 'USDC', amount: '1000' },
    ];
    const request = { context: usdc('500'), nowMs: now };
    const own = [...events, { sessionId: 'me', atMs: now - 100, asset: 'USDC', amount: '500' }];
    assert.equal(
      evaluateRules(loaded.rules, 'retail-2of3', { ...request, sessionId: 'me' }, own).effect,
      'allow',
    );
    // Without the session id the own event would be counted twice: 2 000 + 500 + 500 > 2 500.
    assert.equal(evaluateRules(loaded.rules, 'retail-2of3', request, own).effect, 'deny');
  });

  void it('an unknown key has no rule set and denies', () => {
    const d = evaluateRules(loaded.rules, 'gold', { context: usdc('1'), nowMs: now }, []);
    assert.deepEqual(d, {
      effect: 'deny',
      cause: 'unknown-rule-set',
      reason: "no rules for 'gold' (not a tier or wallet)",
    });
  });
});

void describe('rule evaluation: semantics', () => {
  const now = mondayMorningMs;
  const evalRetail = (
    rules: Record<string, unknown>[],
    context: RuleRequestContext,
    nowMs = now,
  ): RuleDecision => evaluateRules(loadRetail(rules).rules, 'retail', { context, nowMs }, []);

  void it('no matching rule denies', () => {
    const d = evalRetail([{ id: 'big', when: 'amount > 10 * unit', effect: 'allow' }], usdc('1'));
    assert.equal(d.effect === 'deny' && d.cause, 'no-matching-rule');
  });

  void it('several matching allows combine to the strictest requirement', () => {
    const d = evalRetail(
      [
        {
          id: 'base',
          when: 'true',
          effect: 'allow',
          approvals: { k: 1, approvers: ['alice', 'bob'] },
        },
        {
          id: 'mid',
          when: 'amount > 10 * unit',
          effect: 'allow',
          quorum: { requireTypes: ['guardian'] },
          approvals: { k: 1, approvers: ['bob', 'alice'] },
        },
        {
          id: 'big',
          when: 'amount > 100 * unit',
          effect: 'allow',
          quorum: { minSigners: 3, requireShares: ['mobile'] },
          approvals: { k: 2, approvers: ['alice', 'bob', 'carol'] },
        },
        { id: 'never', when: 'false', effect: 'allow', quorum: { requireShares: ['backend'] } },
      ],
      usdc('500'),
    );
    assert.equal(d.effect, 'allow');
    if (d.effect !== 'allow') return;
    assert.deepEqual(d.ruleIds, ['base', 'mid', 'big']);
    assert.equal(d.requirement.minSigners, 3);
    assert.deepEqual(d.requirement.requiredTypes, ['guardian']);
    assert.deepEqual(d.requirement.requiredShares, ['mobile']);
    // base and mid ask for the same group (order of approvers aside): merged.
    assert.deepEqual(
      d.requirement.approvals.map((g) => [g.ruleIds, g.k, g.approvers.map((a) => a.id)]),
      [
        [['base', 'mid'], 1, ['alice', 'bob']],
        [['big'], 2, ['alice', 'bob', 'carol']],
      ],
    );
  });

  void it('a deny rule wins wherever it is in the file', () => {
    const allow = { id: 'all', when: 'true', effect: 'allow' };
    const denyRule = {
      id: 'no',
      when: "initiator == 'mallory'",
      effect: 'deny',
      description: 'mallory is blocked',
    };
    for (const rules of [
      [allow, denyRule],
      [denyRule, allow],
    ]) {
      const d = evalRetail(rules, { initiator: 'mallory' });
      assert.deepEqual(d, {
        effect: 'deny',
        cause: 'deny-rule',
        ruleId: 'no',
        reason: "denied by rule 'no' (mallory is blocked)",
      });
    }
  });

  void it('an allow whose condition errors denies (it might have added a requirement)', () => {
    const d = evalRetail(
      [
        { id: 'all', when: 'true', effect: 'allow' },
        {
          id: 'big',
          when: 'amount > 100 * unit',
          effect: 'allow',
          quorum: { requireTypes: ['guardian'] },
        },
      ],
      { destination: ok },
    );
    assert.equal(d.effect, 'deny');
    if (d.effect !== 'deny') return;
    assert.equal(d.cause, 'evaluation-error');
    assert.equal(d.ruleId, 'big');
    assert.match(d.reason, /the request has no amount, asset, initiator/);
  });

  void it('present.* guards optional fields; CEL || and && absorb errors as the spec says', () => {
    const rules = [{ id: 'a', when: '!present.amount || amount <= 10 * unit', effect: 'allow' }];
    assert.equal(evalRetail(rules, { destination: ok }).effect, 'allow');
    assert.equal(evalRetail(rules, usdc('10')).effect, 'allow');
    assert.equal(evalRetail(rules, usdc('11')).effect, 'deny');
  });

  void it('a runtime error (int overflow) denies with the CEL error', () => {
    const d = evalRetail([{ id: 'o', when: 'amount * 1000000000000 > 1', effect: 'allow' }], {
      amount: '1000000',
      asset: 'USDC',
    });
    assert.equal(d.effect === 'deny' && d.cause, 'evaluation-error');
    assert.match(d.effect === 'deny' ? d.reason : '', /overflow/);
  });

  void it('amounts are exact integers in minor units (no double rounding)', () => {
    // 2^53 + 1 wei: as a double it would equal 2^53.
    const rules = [{ id: 'a', when: 'amount == 9007199254740993', effect: 'allow' }];
    assert.equal(
      evalRetail(rules, { amount: '0.009007199254740993', asset: 'WEI' }).effect,
      'allow',
    );
    const units = [
      { id: 'u', when: 'amount > 1 * unit && decimals == 8 && unit == 100000000', effect: 'allow' },
    ];
    assert.equal(evalRetail(units, { amount: '1.00000001', asset: 'BTC' }).effect, 'allow');
    assert.equal(evalRetail(units, { amount: '1', asset: 'BTC' }).effect, 'deny');
  });

  void it('business hours are expressible in UTC', () => {
    const rules = [
      {
        id: 'office',
        when: 'time.weekdayUtc >= 1 && time.weekdayUtc <= 5 && time.hourUtc >= 9 && time.hourUtc < 17',
        effect: 'allow',
      },
    ];
    assert.equal(evalRetail(rules, {}, Date.UTC(2024, 0, 1, 9, 0)).effect, 'allow'); // Monday 09:00
    assert.equal(evalRetail(rules, {}, Date.UTC(2024, 0, 1, 16, 59)).effect, 'allow');
    assert.equal(evalRetail(rules, {}, Date.UTC(2024, 0, 1, 17, 0)).effect, 'deny');
    assert.equal(evalRetail(rules, {}, Date.UTC(2024, 0, 6, 12, 0)).effect, 'deny'); // Saturday
  });

  void it('time fields match the UTC calendar', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (ms) => {
        const fields = timeFieldsOf(ms);
        const date = new Date(ms);
        assert.equal(fields.get('hourUtc'), BigInt(date.getUTCHours()));
        assert.equal(fields.get('minuteUtc'), BigInt(date.getUTCMinutes()));
        assert.equal(fields.get('weekdayUtc'), BigInt(date.getUTCDay()));
        assert.equal(fields.get('ms'), BigInt(ms));
      }),
    );
  });

  void it('the patterns of docs/policy.md load and behave as documented', () => {
    const doc = documentWith([
      { id: 'base', effect: 'allow', when: 'true' },
      {
        id: 'very-large',
        effect: 'allow',
        when: 'amount > 10000 * unit',
        quorum: { minSigners: 3 },
        approvals: { k: 2, approvers: ['alice', 'bob', 'carol'] },
      },
      { id: 'hourly-count', effect: 'deny', when: 'velocity.count1h >= 30' },
    ]);
    (doc['rules'] as Record<string, unknown>)['tiers'] = {
      retail: (doc['rules'] as { tiers: { retail: unknown } }).tiers.retail,
      vault: [
        {
          id: 'admin',
          effect: 'allow',
          when: "!present.amount && initiator == 'ops'",
          quorum: { requireShares: ['hsm'] },
        },
      ],
    };
    const { rules } = loadPolicyDocumentWithRules(doc);
    const at = (key: string, context: RuleRequestContext, events: VelocityEvent[] = []) =>
      evaluateRules(rules, key, { context, nowMs: now }, events);
    const big = at('retail', usdc('10000.01'));
    assert.equal(big.effect === 'allow' && big.requirement.minSigners, 3);
    const edge = at('retail', usdc('10000'));
    assert.equal(edge.effect === 'allow' && edge.requirement.minSigners, 2);
    const busy = Array.from({ length: 30 }, (_, i) => ({
      sessionId: `e${i}`,
      atMs: now - i,
      asset: null,
      amount: null,
    }));
    assert.equal(at('retail', usdc('1'), busy).effect, 'deny');
    const admin = at('vault', { initiator: 'ops' });
    assert.deepEqual(admin.effect === 'allow' && admin.requirement.requiredShares, ['hsm']);
    assert.equal(at('vault', { initiator: 'ops', amount: '1', asset: 'USDC' }).effect, 'deny');
  });

  void it('wallets resolve to their tier through rules.wallets', () => {
    const doc = documentWith([{ id: 'a', when: 'true', effect: 'allow' }], {
      wallets: { 'wallet-7': 'retail' },
    });
    const { rules } = loadPolicyDocumentWithRules(doc);
    assert.equal(evaluateRules(rules, 'wallet-7', { context: {}, nowMs: now }, []).effect, 'allow');
    assert.equal(evaluateRules(rules, 'wallet-8', { context: {}, nowMs: now }, []).effect, 'deny');
  });

  void it('rejects a malformed request as invalid, not as a rule outcome', () => {
    const rules = [{ id: 'a', when: 'true', effect: 'allow' }];
    for (const context of [
      { amount: '1' },
      { amount: '1e3', asset: 'USDC' },
      { amount: '-1', asset: 'USDC' },
      { amount: '99999999999999', asset: 'USDC' },
      { destination: 'x'.repeat(257) },
    ]) {
      const d = evalRetail(rules, context);
      assert.equal(d.effect === 'deny' && d.cause, 'invalid-request', JSON.stringify(context));
    }
  });
});

// ---- properties -------------------------------------------------------------------------------

const atoms = [
  'true',
  'false',
  'amount > 100 * unit',
  'amount <= 1000 * unit',
  'destination in lists.ok',
  "destination == '0xccc'",
  'time.hourUtc >= 12',
  'velocity.count24h >= 2',
  'velocity.amount1h + amount > 500 * unit',
  "initiator == 'alice'",
  '!present.amount',
];
/** Always a divide-by-zero at runtime: exercises the "unevaluable condition denies" rule. */
const erroringAtom = 'amount / (amount - amount) > 0';
const atomArb = fc.oneof(
  { arbitrary: fc.constantFrom(...atoms), weight: 12 },
  { arbitrary: fc.constant(erroringAtom), weight: 1 },
);
const conditionArb: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atomArb,
    fc
      .tuple(tie('c'), fc.constantFrom('&&', '||'), tie('c'))
      .map(([a, op, b]) => `(${a}) ${op} (${b})`),
    tie('c').map((a) => `!(${a})`),
  ),
})).c;

type RuleDoc = Record<string, unknown>;
const quorumArb = fc.record(
  {
    minSigners: fc.constantFrom(2, 3),
    requireTypes: fc.subarray(['mobile', 'backend', 'guardian']),
    requireShares: fc.subarray(['mobile', 'backend', 'guardian']),
  },
  { requiredKeys: [] },
);
const approvalsArb = fc
  .subarray(['alice', 'bob', 'carol'], { minLength: 1 })
  .chain((approvers) =>
    fc.integer({ min: 1, max: approvers.length }).map((k) => ({ k, approvers })),
  );
const velocityArb = fc.array(
  fc.record(
    {
      window: fc.constantFrom('1h', '24h', '90m'),
      maxAmount: fc.constantFrom('100', '1000', '2500.5'),
      maxCount: fc.integer({ min: 1, max: 4 }),
    },
    { requiredKeys: ['window', 'maxCount'] },
  ),
  { maxLength: 2 },
);
const allowArb: fc.Arbitrary<RuleDoc> = fc.record(
  {
    when: conditionArb,
    effect: fc.constant('allow'),
    quorum: quorumArb,
    approvals: approvalsArb,
    velocity: velocityArb,
  },
  { requiredKeys: ['when', 'effect'] },
);
const denyArb: fc.Arbitrary<RuleDoc> = fc.record({
  when: conditionArb,
  effect: fc.constant('deny'),
});
const ruleArb = fc.oneof({ arbitrary: allowArb, weight: 3 }, { arbitrary: denyArb, weight: 1 });
const rulesArb = fc.array(ruleArb, { maxLength: 5 });

const contextArb: fc.Arbitrary<RuleRequestContext> = fc.record(
  {
    amount: fc
      .bigInt({ min: 0n, max: 5_000_000_000n })
      .map((minor) => (Number(minor) / 1e6).toFixed(6)),
    asset: fc.constant('USDC'),
    destination: fc.constantFrom(...destinations),
    initiator: fc.constantFrom('alice', 'bob'),
  },
  { requiredKeys: ['asset', 'destination'] },
);
const nowArb = fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_000 + 7 * 86_400_000 });
const eventsArb = (nowMs: number): fc.Arbitrary<VelocityEvent[]> =>
  fc.array(
    fc.record({
      sessionId: fc.string({ minLength: 1, maxLength: 4 }),
      atMs: fc.integer({ min: nowMs - 2 * 86_400_000, max: nowMs }),
      asset: fc.constantFrom('USDC', 'BTC', null),
      amount: fc.constantFrom('1', '99.5', '400', null),
    }),
    { maxLength: 6 },
  );
const scenarioArb = fc
  .record({ rules: rulesArb, context: contextArb, nowMs: nowArb })
  .chain((s) => eventsArb(s.nowMs).map((events) => ({ ...s, events })));

function withIds(rules: readonly RuleDoc[], prefix = 'r'): RuleDoc[] {
  return rules.map((rule, i) => ({ id: `${prefix}${i}`, ...rule }));
}

function decide(
  rules: readonly RuleDoc[],
  s: { context: RuleRequestContext; nowMs: number; events: VelocityEvent[] },
): RuleDecision {
  return evaluateRules(
    loadRetail(rules).rules,
    'retail',
    { context: s.context, nowMs: s.nowMs },
    s.events,
  );
}

/** True if requirement `a` is at least as strict as `b`. */
function atLeastAsStrict(a: QuorumRequirement, b: QuorumRequirement): boolean {
  const key = (g: QuorumRequirement['approvals'][number]): string =>
    `${g.k}:${g.approvers
      .map((x) => x.id)
      .sort()
      .join(',')}`;
  const groupsA = new Set(a.approvals.map(key));
  return (
    a.minSigners >= b.minSigners &&
    b.requiredTypes.every((t) => a.requiredTypes.includes(t)) &&
    b.requiredShares.every((s) => a.requiredShares.includes(s)) &&
    b.approvals.every((g) => groupsA.has(key(g)))
  );
}

const runs = { numRuns: 300, seed: 7 };

void describe('rule evaluation: properties', () => {
  void it('deny always wins: adding a deny rule whose condition holds denies, anywhere in the file', () => {
    fc.assert(
      fc.property(scenarioArb, conditionArb, fc.nat(), (s, when, at) => {
        const probe = decide([{ id: 'probe', when, effect: 'allow' }], s);
        fc.pre(probe.effect === 'allow'); // the condition holds for this request
        const rules = withIds(s.rules);
        rules.splice(at % (rules.length + 1), 0, { id: 'blocker', when, effect: 'deny' });
        const d = decide(rules, s);
        assert.equal(d.effect, 'deny');
        assert.equal(d.effect === 'deny' && d.cause, 'deny-rule');
      }),
      runs,
    );
  });

  void it('adding an allow rule never turns a rule-made deny into an allow', () => {
    // Rule-made: by a deny rule, an unevaluable condition, a velocity limit or an invalid request.
    // A "no matching rule" deny is the documented exception: it exists exactly so that an allow
    // rule can lift it.
    let lifted = 0;
    fc.assert(
      fc.property(scenarioArb, allowArb, fc.nat(), (s, extra, at) => {
        const rules = withIds(s.rules);
        const before = decide(rules, s);
        rules.splice(at % (rules.length + 1), 0, { id: 'extra', ...extra });
        const after = decide(rules, s);
        if (before.effect === 'deny' && before.cause !== 'no-matching-rule') {
          assert.equal(after.effect, 'deny', `${before.cause} became ${JSON.stringify(after)}`);
        }
        if (
          before.effect === 'deny' &&
          before.cause === 'no-matching-rule' &&
          after.effect === 'allow'
        )
          lifted += 1;
      }),
      runs,
    );
    assert.ok(lifted > 0, 'the generator exercises the no-match exception');
  });

  void it('adding an allow rule never relaxes an allow', () => {
    fc.assert(
      fc.property(scenarioArb, allowArb, (s, extra) => {
        const rules = withIds(s.rules);
        const before = decide(rules, s);
        const after = decide([...rules, { id: 'extra', ...extra }], s);
        if (before.effect === 'allow' && after.effect === 'allow') {
          assert.ok(atLeastAsStrict(after.requirement, before.requirement));
        }
      }),
      runs,
    );
  });

  void it('file order never changes the effect, the cause or the requirement', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const rules = withIds(s.rules);
        const a = decide(rules, s);
        const b = decide([...rules].reverse(), s);
        assert.equal(a.effect, b.effect);
        if (a.effect === 'deny' && b.effect === 'deny') assert.equal(a.cause, b.cause);
        if (a.effect === 'allow' && b.effect === 'allow') {
          assert.deepEqual([...a.ruleIds].sort(), [...b.ruleIds].sort());
          assert.ok(
            atLeastAsStrict(a.requirement, b.requirement) &&
              atLeastAsStrict(b.requirement, a.requirement),
          );
        }
      }),
      runs,
    );
  });

  void it('is deterministic and the requirement is never below the threshold', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const rules = withIds(s.rules);
        const a = decide(rules, s);
        assert.deepEqual(decide(rules, s), a);
        if (a.effect === 'allow')
          assert.ok(a.requirement.minSigners >= 2 && a.requirement.minSigners <= 3);
      }),
      { ...runs, numRuns: 60 },
    );
  });
});
