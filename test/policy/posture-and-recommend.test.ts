import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QuorateError } from '../../src/core/errors.ts';
import { analyzePolicyFile } from '../../src/policy/analyze-policy.ts';
import { custodyPosture } from '../../src/policy/custody-posture.ts';
import { dominates, paretoFrontier, sameObjectives } from '../../src/policy/pareto-frontier.ts';
import { parsePolicyText } from '../../src/policy/parse-policy-text.ts';
import type { ShareSpec } from '../../src/policy/policy-schema.ts';
import { recommendPolicies } from '../../src/policy/recommend-policies.ts';

function shares(domains: readonly string[], unenforced: readonly number[] = []): ShareSpec[] {
  return domains.map((domain, i) => ({
    id: `s${i}`,
    type: 'backend',
    domain,
    enforcesPolicy: !unenforced.includes(i),
    randomAvailability: 0.9,
    rates: null,
    groups: [],
    maintenance: null,
    outage: { distribution: 'exponential' },
    dailyOnline: null,
    index: i,
  }));
}

void describe('custody posture', () => {
  void it('2-of-3 over three domains: non-custodial, 2 colluding domains, intersecting', () => {
    const p = custodyPosture(shares(['user', 'operator', 'guardian']), 2);
    assert.deepEqual(p, {
      custodial: false,
      custodialDomains: [],
      minCollidingDomains: 2,
      lossTolerance: { shares: 1, domains: 1 },
      quorumIntersection: true,
      unenforcedQuorumShare: 0,
    });
  });

  void it('two operator backends in a 2-of-3 make it custodial', () => {
    const p = custodyPosture(shares(['user', 'operator', 'operator']), 2);
    assert.equal(p.custodial, true);
    assert.deepEqual(p.custodialDomains, ['operator']);
    assert.equal(p.minCollidingDomains, 1);
    // Losing the operator domain leaves 1 < 2 shares.
    assert.deepEqual(p.lossTolerance, { shares: 1, domains: 0 });
  });

  void it('2-of-4 does not guarantee quorum intersection; 3-of-5 does', () => {
    assert.equal(custodyPosture(shares(['a', 'b', 'c', 'd']), 2).quorumIntersection, false);
    assert.equal(custodyPosture(shares(['a', 'b', 'c', 'd', 'e']), 3).quorumIntersection, true);
  });

  void it('3-of-5 over domains a,a,b,c,d: 2 domains can collude, one whole domain may be lost', () => {
    const p = custodyPosture(shares(['a', 'a', 'b', 'c', 'd']), 3);
    assert.equal(p.minCollidingDomains, 2);
    assert.deepEqual(p.lossTolerance, { shares: 2, domains: 1 });
  });

  void it('unenforcedQuorumShare is C(u, t) / C(n, t)', () => {
    // 2-of-4 with two non-enforcing shares: 1 of the 6 quorums has no enforcing member.
    assert.equal(
      custodyPosture(shares(['a', 'b', 'c', 'd'], [0, 3]), 2).unenforcedQuorumShare,
      1 / 6,
    );
    assert.equal(custodyPosture(shares(['a', 'b', 'c'], [0]), 2).unenforcedQuorumShare, 0);
    assert.equal(custodyPosture(shares(['a', 'b', 'c'], [0, 1, 2]), 2).unenforcedQuorumShare, 1);
  });
});

void describe('Pareto frontier', () => {
  // Discrete values keep dominance exactly transitive, so the oracle is simple.
  const objective = fc.record({
    unavailability: fc.constantFrom(1e-4, 1e-3, 2e-3, 1e-2, 0.1),
    minCollidingDomains: fc.integer({ min: 1, max: 4 }),
    n: fc.integer({ min: 1, max: 6 }),
  });
  void it('keeps exactly the non-dominated candidates, one per objective vector (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(objective, { minLength: 1, maxLength: 40 }), (candidates) => {
        const frontier = paretoFrontier(candidates);
        for (const f of frontier)
          assert.ok(!candidates.some((c) => dominates(c, f)), 'frontier point is dominated');
        for (const c of candidates) {
          if (frontier.includes(c)) continue;
          assert.ok(
            frontier.some((f) => dominates(f, c) || sameObjectives(f, c)),
            'a dropped candidate is neither dominated nor a duplicate',
          );
        }
        for (let i = 0; i < frontier.length; i++) {
          for (let j = i + 1; j < frontier.length; j++)
            assert.ok(!sameObjectives(frontier[i]!, frontier[j]!));
        }
      }),
      { numRuns: 200 },
    );
  });
});

const poolYaml = `
slo: 0.999
groups:
  - { id: region, availability: 0.999 }
shares:
  - { id: mobile, type: mobile, domain: user, availability: 0.85 }
  - { id: backend-a, type: backend, domain: operator, availability: 0.998, groups: [region] }
  - { id: backend-b, type: backend, domain: operator, availability: 0.998, groups: [region] }
  - { id: guardian, type: guardian, domain: recovery, availability: 0.95 }
  - { id: hsm, type: hsm, domain: custodian, availability: 0.999 }
  - { id: web, type: web, domain: user, availability: 0.7, enforcesPolicy: false }
`;

void describe('recommender', () => {
  void it('every pick meets the SLO, is on the frontier and is explained in one sentence', () => {
    const result = recommendPolicies(parsePolicyText(poolYaml));
    assert.equal(result.nMin, 3);
    assert.equal(result.nMax, 5);
    assert.ok(result.picks.length > 0);
    for (const pick of result.picks) {
      assert.ok(pick.availability >= 0.999);
      assert.ok(pick.n >= 3 && pick.n <= 5);
      assert.match(pick.explanation, new RegExp(`^${pick.threshold}-of-${pick.n} on .*\\.$`));
      assert.equal(pick.explanation.split('. ').length, 1, 'one sentence');
    }
    const ranks = result.picks.map((p) => p.rank);
    assert.deepEqual(
      ranks,
      ranks.map((_, i) => i + 1),
    );
  });

  void it('--require-non-custodial removes custodial placements; without it custodial ones appear', () => {
    const file = parsePolicyText(poolYaml);
    const free = recommendPolicies(file, { sharesMin: 3, sharesMax: 4 });
    assert.ok(free.picks.some((p) => p.custodial));
    const strict = recommendPolicies(file, {
      sharesMin: 3,
      sharesMax: 4,
      requireNonCustodial: true,
    });
    assert.ok(strict.picks.length > 0);
    assert.ok(strict.picks.every((p) => !p.custodial));
    assert.ok(strict.feasible < free.feasible);
  });

  void it('counts every t-of-n placement: C(6,3)·3 + C(6,4)·4 + C(6,5)·5', () => {
    assert.equal(recommendPolicies(parsePolicyText(poolYaml)).evaluated, 20 * 3 + 15 * 4 + 6 * 5);
  });

  void it('reports the closest miss when nothing meets the SLO', () => {
    const result = recommendPolicies(
      parsePolicyText(poolYaml.replace('slo: 0.999', 'slo: 0.999999999999')),
      { sharesMin: 3, sharesMax: 3 },
    );
    assert.equal(result.picks.length, 0);
    assert.ok(result.closestMiss !== null);
    assert.ok(result.closestMiss.availability < 0.999999999999);
  });
});

void describe('analyze', () => {
  void it('reports the issue fields for the reference 2-of-3', () => {
    const analysis = analyzePolicyFile(
      parsePolicyText(`slo: 0.9995
shares:
  - { id: mobile, type: mobile, domain: user, availability: 0.8 }
  - { id: backend, type: backend, domain: operator, availability: 0.995 }
  - { id: guardian, type: guardian, domain: recovery-co, availability: 0.7 }
policies:
  - { id: ref, threshold: 2, shares: [mobile, backend, guardian] }
`),
    );
    const p = analysis.policies[0];
    assert.ok(p !== undefined);
    const expected = 0.8 * 0.995 + 0.8 * 0.7 + 0.995 * 0.7 - 2 * 0.8 * 0.995 * 0.7;
    assert.ok(Math.abs(p.availability - expected) < 1e-12);
    assert.ok(Math.abs(p.downtimeMinutesPerMonth - (1 - expected) * 43200) < 1e-6);
    assert.equal(p.meetsSlo, false);
    assert.equal(p.outagesPerMonth, null);
    assert.equal(p.monteCarlo, null);
    assert.equal(p.downtimeByCause[0]?.id, 'guardian');
    // Improvement potential of the guardian: U - U(guardian perfect) = (1 - 0.7)·P(exactly one of mobile, backend up).
    const pivotal = 0.8 * 0.005 + 0.2 * 0.995;
    assert.ok(
      Math.abs((p.downtimeByCause[0]?.minutesPerMonth ?? 0) - 0.3 * pivotal * 43200) < 1e-6,
    );
    assert.ok(analysis.heatmap !== null);
    assert.equal(analysis.heatmap.cells.length, 6);
  });

  void it('names the policy when it depends on more groups than exact analysis enumerates', () => {
    const groups = Array.from(
      { length: 21 },
      (_, j) => `  - { id: g${j}, availability: 0.99 }`,
    ).join('\n');
    const list = Array.from({ length: 21 }, (_, j) => `g${j}`).join(', ');
    const file = parsePolicyText(
      `groups:\n${groups}\nshares:\n  - { id: a, type: backend, domain: d, availability: 0.9, groups: [${list}] }\npolicies:\n  - { id: p, threshold: 1, shares: [a] }\n`,
    );
    assert.throws(
      () => analyzePolicyFile(file),
      (e: unknown) =>
        e instanceof QuorateError &&
        e.detail['path'] === 'policies[0]' &&
        /at most 20/.test(String(e.detail['problem'])),
    );
  });
});
