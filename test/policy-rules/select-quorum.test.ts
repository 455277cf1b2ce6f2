import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { QuorumRequirement } from '../../src/policy/rules/index.ts';
import {
  quorumSatisfies,
  selectQuorumUnderRequirement,
  type QuorumCandidate,
} from '../../src/session/quorum-requirement.ts';
import type { ShareType } from '../../src/policy/policy-schema.ts';

const retailTypes = new Map<string, ShareType>([
  ['mobile', 'mobile'],
  ['backend', 'backend'],
  ['guardian', 'guardian'],
]);

function requirement(partial: Partial<QuorumRequirement> = {}): QuorumRequirement {
  return { minSigners: 2, requiredTypes: [], requiredShares: [], approvals: [], ...partial };
}

function ranked(...alive: [string, boolean][]): QuorumCandidate[] {
  return alive.map(([partyId, up]) => ({ partyId, alive: up }));
}

void describe('quorum selection under a requirement', () => {
  void it('any 2 of 3: the best-ranked alive parties', () => {
    const r = selectQuorumUnderRequirement(
      requirement(),
      2,
      ranked(['backend', true], ['mobile', false], ['guardian', true]),
      retailTypes,
    );
    assert.deepEqual(r, { ok: true, parties: ['backend', 'guardian'] });
  });

  void it('guardian required: it is chosen even when ranked last', () => {
    const r = selectQuorumUnderRequirement(
      requirement({ requiredTypes: ['guardian'] }),
      2,
      ranked(['backend', true], ['mobile', true], ['guardian', true]),
      retailTypes,
    );
    assert.deepEqual(r, { ok: true, parties: ['backend', 'guardian'] });
  });

  void it('guardian required and down: unavailable names the guardian, never a quorum without it', () => {
    const byType = selectQuorumUnderRequirement(
      requirement({ requiredTypes: ['guardian'] }),
      2,
      ranked(['mobile', true], ['backend', true], ['guardian', false]),
      retailTypes,
    );
    assert.deepEqual(byType, {
      ok: false,
      unavailable: ['guardian'],
      reason: "no party of required type 'guardian' is alive",
    });
    const byShare = selectQuorumUnderRequirement(
      requirement({ requiredShares: ['guardian'] }),
      2,
      ranked(['mobile', true], ['backend', true], ['guardian', false]),
      retailTypes,
    );
    assert.deepEqual(byShare, {
      ok: false,
      unavailable: ['guardian'],
      reason: "required share 'guardian' is down",
    });
  });

  void it('a required share missing from the candidates is unavailable', () => {
    const r = selectQuorumUnderRequirement(
      requirement({ requiredShares: ['guardian'] }),
      2,
      ranked(['mobile', true], ['backend', true]),
      retailTypes,
    );
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.unavailable, ['guardian']);
  });

  void it('minSigners above t takes more signers; too few alive names who is down', () => {
    const three = requirement({ minSigners: 3 });
    const all = selectQuorumUnderRequirement(
      three,
      2,
      ranked(['mobile', true], ['backend', true], ['guardian', true]),
      retailTypes,
    );
    assert.deepEqual(all, { ok: true, parties: ['mobile', 'backend', 'guardian'] });
    const short = selectQuorumUnderRequirement(
      three,
      2,
      ranked(['mobile', false], ['backend', true], ['guardian', true]),
      retailTypes,
    );
    assert.deepEqual(short, {
      ok: false,
      unavailable: ['mobile'],
      reason: '2 of 3 parties alive, the rule needs 3 signers',
    });
  });

  void it('required parties beyond t raise the quorum size', () => {
    const r = selectQuorumUnderRequirement(
      requirement({ requiredTypes: ['mobile', 'guardian'], requiredShares: ['backend'] }),
      2,
      ranked(['guardian', true], ['mobile', true], ['backend', true]),
      retailTypes,
    );
    assert.deepEqual(r, { ok: true, parties: ['guardian', 'mobile', 'backend'] });
  });

  void it('party-side check lists every way a quorum falls short', () => {
    assert.deepEqual(
      quorumSatisfies(
        requirement({ requiredTypes: ['guardian'] }),
        ['mobile', 'guardian'],
        retailTypes,
      ),
      { ok: true },
    );
    const bad = quorumSatisfies(
      requirement({ minSigners: 3, requiredTypes: ['guardian'], requiredShares: ['mobile'] }),
      ['backend', 'backend', 'ghost'],
      retailTypes,
    );
    assert.deepEqual(bad, {
      ok: false,
      problems: [
        'a party is listed twice',
        'unknown parties: ghost',
        '2 signers, the rule needs at least 3',
        "required share 'mobile' is not in the quorum",
        "no party of required type 'guardian' is in the quorum",
      ],
    });
  });

  // Random wallets of up to 7 parties with random types, liveness and requirements.
  const types: ShareType[] = ['mobile', 'web', 'backend', 'guardian', 'hsm'];
  const walletArb = fc
    .array(fc.tuple(fc.constantFrom(...types), fc.boolean()), { minLength: 1, maxLength: 7 })
    .chain((parties) => {
      const ids = parties.map((_, i) => `p${i}`);
      const n = parties.length;
      return fc.record({
        parties: fc.shuffledSubarray(
          ids.map((id, i) => ({ partyId: id, alive: parties[i]![1] })),
          { minLength: n, maxLength: n },
        ),
        shareInfo: fc.constant(new Map(ids.map((id, i) => [id, parties[i]![0]]))),
        threshold: fc.integer({ min: 1, max: n }),
        extra: fc.integer({ min: 0, max: n }),
        requiredTypes: fc.subarray([...new Set(parties.map((p) => p[0]))]),
        requiredShares: fc.subarray(ids, { maxLength: Math.min(3, n) }),
      });
    });

  function subsets<T>(items: readonly T[]): T[][] {
    return items.reduce<T[][]>((acc, item) => [...acc, ...acc.map((s) => [...s, item])], [[]]);
  }

  void it('never returns a quorum that violates the rule, and finds one whenever one exists', () => {
    fc.assert(
      fc.property(walletArb, (w) => {
        const req = requirement({
          minSigners: Math.max(w.threshold, Math.min(w.extra, w.parties.length)),
          requiredTypes: types.filter((t) => w.requiredTypes.includes(t)),
          requiredShares: w.requiredShares,
        });
        const result = selectQuorumUnderRequirement(req, w.threshold, w.parties, w.shareInfo);
        const alive = w.parties.filter((p) => p.alive).map((p) => p.partyId);
        const feasible = subsets(alive).some(
          (s) => s.length >= w.threshold && quorumSatisfies(req, s, w.shareInfo).ok,
        );
        if (result.ok) {
          assert.ok(quorumSatisfies(req, result.parties, w.shareInfo).ok);
          assert.ok(result.parties.every((p) => alive.includes(p)));
          assert.ok(result.parties.length >= w.threshold);
        } else {
          assert.equal(feasible, false, JSON.stringify({ req, result }));
          assert.ok(result.unavailable.length > 0);
          assert.ok(
            result.unavailable.every((p) => !alive.includes(p)),
            'only down parties are named',
          );
        }
        assert.equal(result.ok, feasible);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
