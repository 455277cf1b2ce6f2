import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compilePlacement, indexPolicyFile } from '../../src/policy/compile-placement.ts';
import { exactImportance, exactUnavailabilities } from '../../src/policy/exact-availability.ts';
import { parsePolicyText } from '../../src/policy/parse-policy-text.ts';
import { binomial } from '../../src/policy/custody-posture.ts';

interface ShareDraft {
  a: number;
  groups: number[];
}

/** Builds a compiled model through the public parser, so the tests cover the whole path. */
function model(
  shares: readonly ShareDraft[],
  groups: readonly number[],
  parents: Record<number, number[]> = {},
) {
  const groupLines = groups.map((g, j) => {
    const parentList =
      parents[j] === undefined ? '' : `, groups: [${parents[j].map((p) => `g${p}`).join(', ')}]`;
    return `  - { id: g${j}, availability: ${g}${parentList} }`;
  });
  const shareLines = shares.map(
    (s, i) =>
      `  - { id: s${i}, type: backend, domain: d${i}, availability: ${s.a}, groups: [${s.groups.map((g) => `g${g}`).join(', ')}] }`,
  );
  const text = `groups:\n${groupLines.join('\n') || '  []'}\nshares:\n${shareLines.join('\n')}\n`;
  const file = parsePolicyText(text.replace('groups:\n  []', 'groups: []'));
  return compilePlacement(
    indexPolicyFile(file),
    shares.map((_, i) => `s${i}`),
    'test',
  );
}

function availability(shares: readonly ShareDraft[], groups: readonly number[], t: number): number {
  return 1 - (exactUnavailabilities(model(shares, groups))[t] as number);
}

function binomialAvailability(n: number, t: number, p: number): number {
  let sum = 0;
  for (let k = t; k <= n; k++) sum += binomial(n, k) * p ** k * (1 - p) ** (n - k);
  return sum;
}

const close = (actual: number, expected: number, tolerance = 1e-12): void => {
  assert.ok(Math.abs(actual - expected) <= tolerance, `expected ${expected}, got ${actual}`);
};

void describe('exact availability', () => {
  void it('identical independent shares equal the binomial sum (closed form)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (n, tRaw, p) => {
          const t = ((tRaw - 1) % n) + 1;
          const shares = Array.from({ length: n }, () => ({ a: p, groups: [] }));
          close(availability(shares, [], t), binomialAvailability(n, t, p), 1e-12);
        },
      ),
      { numRuns: 150 },
    );
  });

  void it('reference scenario: mobile 0.8 + backend 0.995 + guardian 0.7 in 2-of-3 is ab+ac+bc-2abc', () => {
    const [a, b, c] = [0.8, 0.995, 0.7];
    close(
      availability(
        [
          { a, groups: [] },
          { a: b, groups: [] },
          { a: c, groups: [] },
        ],
        [],
        2,
      ),
      a * b + a * c + b * c - 2 * a * b * c,
    );
  });

  void it('two shares in one group: hand-computed 2-of-3', () => {
    // s0, s1 need g0 (0.99); s2 independent. Given g0 up: ordinary 2-of-3; given g0 down only s2
    // is alive, so 2-of-3 fails.
    const [a, b, c, g] = [0.9, 0.95, 0.8, 0.99];
    const up23 = a * b + a * c + b * c - 2 * a * b * c;
    close(
      availability(
        [
          { a, groups: [0] },
          { a: b, groups: [0] },
          { a: c, groups: [] },
        ],
        [g],
        2,
      ),
      g * up23,
    );
    // 1-of-3: given g0 down, s2 alone carries it.
    const up13 = 1 - (1 - a) * (1 - b) * (1 - c);
    close(
      availability(
        [
          { a, groups: [0] },
          { a: b, groups: [0] },
          { a: c, groups: [] },
        ],
        [g],
        1,
      ),
      g * up13 + (1 - g) * c,
    );
  });

  void it('two independent groups: hand-computed 2-of-2', () => {
    // s0 needs g0, s1 needs g0 and g1: 2-of-2 needs both shares and both groups.
    const [a, b, g0, g1] = [0.9, 0.8, 0.97, 0.95];
    close(
      availability(
        [
          { a, groups: [0] },
          { a: b, groups: [0, 1] },
        ],
        [g0, g1],
        2,
      ),
      a * b * g0 * g1,
    );
  });

  void it('a parent group takes its child group down with it', () => {
    // g1 has parent g0; s0 needs only g1, so s0 is up with probability a·g1·g0.
    const m = model([{ a: 0.9, groups: [1] }], [0.8, 0.7], { 1: [0] });
    close(1 - (exactUnavailabilities(m)[1] as number), 0.9 * 0.7 * 0.8);
  });

  void it('unavailability is computed without cancellation for very reliable shares', () => {
    const a = 1 - 1e-6;
    const shares = Array.from({ length: 5 }, () => ({ a, groups: [] }));
    const u = exactUnavailabilities(model(shares, []))[1] as number;
    // 1 − A would be 0 in doubles; the lower-tail sum keeps the 1e-30 to full relative precision.
    const expected = (1 - a) ** 5;
    assert.ok(Math.abs(u - expected) <= 1e-12 * expected, `expected ${expected}, got ${u}`);
  });

  void it('Birnbaum importance matches finite differences', () => {
    const shares = [
      { a: 0.9, groups: [0] },
      { a: 0.8, groups: [0] },
      { a: 0.7, groups: [] },
      { a: 0.95, groups: [1] },
    ];
    const groups = [0.97, 0.9];
    const importance = exactImportance(model(shares, groups), 2);
    shares.forEach((_, i) => {
      const up = shares.map((s, k) => (k === i ? { ...s, a: 1 } : s));
      const down = shares.map((s, k) => (k === i ? { ...s, a: 1e-300 } : s));
      close(
        importance.shareBirnbaum[i] as number,
        availability(up, groups, 2) - availability(down, groups, 2),
        1e-12,
      );
    });
    groups.forEach((_, j) => {
      const up = groups.map((g, k) => (k === j ? 1 : g));
      close(
        importance.groupImprovement[j] as number,
        importance.unavailability - (1 - availability(shares, up, 2)),
        1e-12,
      );
    });
  });
});

const draftArbitrary = fc.record({
  shares: fc.array(
    fc.record({
      a: fc.double({ min: 0.05, max: 1, noNaN: true }),
      groups: fc.subarray([0, 1, 2, 3]),
    }),
    { minLength: 1, maxLength: 6 },
  ),
  groups: fc.array(fc.double({ min: 0.05, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }),
});

void describe('exact availability properties (fast-check)', () => {
  const slack = 1e-12;
  void it('raising t never raises availability', () => {
    fc.assert(
      fc.property(draftArbitrary, ({ shares, groups }) => {
        const u = exactUnavailabilities(model(shares, groups));
        for (let t = 2; t <= shares.length; t++)
          assert.ok((u[t] as number) >= (u[t - 1] as number) - slack);
      }),
      { numRuns: 120 },
    );
  });

  void it('adding a share to a policy at fixed t never lowers availability', () => {
    fc.assert(
      fc.property(draftArbitrary, fc.nat(), ({ shares, groups }, tSeed) => {
        fc.pre(shares.length >= 2);
        const smaller = shares.slice(0, -1);
        const t = (tSeed % smaller.length) + 1;
        assert.ok(availability(shares, groups, t) >= availability(smaller, groups, t) - slack);
      }),
      { numRuns: 120 },
    );
  });

  void it("a group's availability moving towards 1 never lowers availability", () => {
    fc.assert(
      fc.property(
        draftArbitrary,
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        ({ shares, groups }, tSeed, j, step) => {
          const t = (tSeed % shares.length) + 1;
          const before = groups[j] as number;
          const raised = groups.map((g, k) => (k === j ? before + (1 - before) * step : g));
          assert.ok(availability(shares, raised, t) >= availability(shares, groups, t) - slack);
        },
      ),
      { numRuns: 120 },
    );
  });
});
