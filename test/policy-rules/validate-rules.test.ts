import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { QuorateError } from '../../src/core/errors.ts';
import { parsePolicyText } from '../../src/policy/parse-policy-text.ts';
import { loadPolicyDocumentWithRules, loadPolicyWithRules } from '../../src/policy/rules/index.ts';
import { approverKey, documentWith } from './rules-fixture.ts';

type Doc = Record<string, unknown>;
const good = { id: 'r1', when: 'amount <= 100 * unit', effect: 'allow' };

function rejects(load: () => unknown, path: string, problem: RegExp): void {
  assert.throws(load, (error: unknown) => {
    assert.ok(error instanceof QuorateError, String(error));
    assert.equal(error.code, 'QUORATE_E_POLICY_INVALID');
    assert.equal(error.detail['path'], path);
    assert.match(String(error.detail['problem']), problem);
    assert.equal(error.message, `${path}: ${String(error.detail['problem'])}`);
    return true;
  });
}

function rejectsRule(rule: Doc, path: string, problem: RegExp): void {
  rejects(() => loadPolicyDocumentWithRules(documentWith([good, rule])), path, problem);
}

function rejectsSection(section: Doc, path: string, problem: RegExp): void {
  rejects(() => loadPolicyDocumentWithRules(documentWith([good], section)), path, problem);
}

const p1 = 'rules.tiers.retail[1]';

void describe('rule file validation', () => {
  void it('loads the retail example with its model, rules and hash', () => {
    const text = readFileSync('examples/policies/rules-retail.yaml', 'utf8');
    const loaded = loadPolicyWithRules(text);
    assert.equal(loaded.file.policies[0]?.id, 'retail-2of3');
    const tier = loaded.rules.tiers.get('retail-2of3');
    assert.deepEqual(
      tier?.rules.map((r) => [r.id, r.effect]),
      [
        ['destination-allowlist', 'deny'],
        ['daily-cap', 'deny'],
        ['small-transfer', 'allow'],
        ['large-transfer', 'allow'],
      ],
    );
    assert.match(loaded.policyHash, /^[0-9a-f]{64}$/);
    // The policy lab still reads the same file (it ignores `rules`).
    assert.equal(parsePolicyText(text).policies[0]?.threshold, 2);
  });

  void it('accepts a file without rules (every key then has no rule set)', () => {
    const doc = documentWith([]);
    delete doc['rules'];
    assert.equal(loadPolicyDocumentWithRules(doc).rules.tiers.size, 0);
  });

  const ruleCases: [string, Doc, string, RegExp][] = [
    [
      'CEL syntax error',
      { id: 'bad', when: 'amount >', effect: 'allow' },
      `${p1}.when`,
      /^rule 'bad': CEL syntax error at line 1, column 8: found > but expecting end of input$/,
    ],
    [
      'unknown variable',
      { id: 'typo', when: 'ammount > 1', effect: 'deny' },
      `${p1}.when`,
      /^rule 'typo': unknown variable 'ammount'/,
    ],
    [
      'unknown time field',
      { id: 't', when: 'time.hour > 9', effect: 'deny' },
      `${p1}.when`,
      /^rule 't': unknown field of time 'hour'.*hourUtc/,
    ],
    [
      'unknown velocity field',
      { id: 'v', when: 'velocity.amount2h > 1', effect: 'deny' },
      `${p1}.when`,
      /^rule 'v': unknown field of velocity 'amount2h'/,
    ],
    [
      'unknown list',
      { id: 'l', when: 'destination in lists.nope', effect: 'deny' },
      `${p1}.when`,
      /^rule 'l': unknown list 'nope' .*known: ok/,
    ],
    [
      'non-bool condition',
      { id: 'n', when: 'amount + 1', effect: 'deny' },
      `${p1}.when`,
      /^rule 'n': condition must evaluate to a bool, got an int/,
    ],
    [
      'type error',
      { id: 'x', when: 'amount > "5"', effect: 'deny' },
      `${p1}.when`,
      /^rule 'x': CEL error: found no matching overload/,
    ],
    [
      'unknown function',
      { id: 'f', when: 'isBig(amount)', effect: 'deny' },
      `${p1}.when`,
      /^rule 'f': CEL error: unbound function: isBig/,
    ],
    [
      'message literal',
      {
        id: 'm',
        when: 'google.protobuf.Timestamp{} == google.protobuf.Timestamp{}',
        effect: 'deny',
      },
      `${p1}.when`,
      /message literal/,
    ],
    ['missing when', { id: 'w', effect: 'deny' }, `${p1}.when`, /^rule 'w': is required/],
    ['empty when', { id: 'w', when: ' ', effect: 'deny' }, `${p1}.when`, /non-empty CEL string/],
    [
      'bad effect',
      { id: 'e', when: 'true', effect: 'permit' },
      `${p1}.effect`,
      /^rule 'e': must be one of allow\|deny, got "permit"/,
    ],
    [
      'unknown key (no priorities)',
      { id: 'p', when: 'true', effect: 'allow', priority: 1 },
      `${p1}.priority`,
      /unknown key 'priority'/,
    ],
    ['duplicate id', { ...good }, `${p1}.id`, /^duplicate rule id 'r1'/],
    ['bad id', { id: 'has space', when: 'true', effect: 'allow' }, `${p1}.id`, /must be an id/],
    [
      'unknown required share',
      { id: 'q', when: 'true', effect: 'allow', quorum: { requireShares: ['ghost'] } },
      `${p1}.quorum.requireShares[0]`,
      /^rule 'q': share 'ghost' is not in policy 'retail'/,
    ],
    [
      'share of another policy',
      { id: 'q', when: 'true', effect: 'allow', quorum: { requireShares: ['hsm'] } },
      `${p1}.quorum.requireShares[0]`,
      /not in policy 'retail'/,
    ],
    [
      'type absent from the policy',
      { id: 'q', when: 'true', effect: 'allow', quorum: { requireTypes: ['hsm'] } },
      `${p1}.quorum.requireTypes[0]`,
      /^rule 'q': no share of policy 'retail' has type 'hsm'/,
    ],
    [
      'unknown type',
      { id: 'q', when: 'true', effect: 'allow', quorum: { requireTypes: ['laptop'] } },
      `${p1}.quorum.requireTypes[0]`,
      /must be one of mobile\|web\|backend\|guardian\|hsm/,
    ],
    [
      'duplicate type',
      {
        id: 'q',
        when: 'true',
        effect: 'allow',
        quorum: { requireTypes: ['guardian', 'guardian'] },
      },
      `${p1}.quorum.requireTypes[1]`,
      /listed twice/,
    ],
    [
      'minSigners below threshold',
      { id: 'q', when: 'true', effect: 'allow', quorum: { minSigners: 1 } },
      `${p1}.quorum.minSigners`,
      /^rule 'q': 1 is below the threshold 2/,
    ],
    [
      'minSigners above n',
      { id: 'q', when: 'true', effect: 'allow', quorum: { minSigners: 4 } },
      `${p1}.quorum.minSigners`,
      /integer in \[1, 3\]/,
    ],
    [
      'unknown approver',
      { id: 'a', when: 'true', effect: 'allow', approvals: { k: 1, approvers: ['mallory'] } },
      `${p1}.approvals.approvers[0]`,
      /^rule 'a': unknown approver 'mallory'/,
    ],
    [
      'k above m',
      { id: 'a', when: 'true', effect: 'allow', approvals: { k: 3, approvers: ['alice', 'bob'] } },
      `${p1}.approvals.k`,
      /^rule 'a': must be an integer in \[1, 2\]/,
    ],
    [
      'k missing',
      { id: 'a', when: 'true', effect: 'allow', approvals: { approvers: ['alice'] } },
      `${p1}.approvals.k`,
      /is required/,
    ],
    [
      'no approvers',
      { id: 'a', when: 'true', effect: 'allow', approvals: { k: 1, approvers: [] } },
      `${p1}.approvals.approvers`,
      /at least one approver/,
    ],
    [
      'deny with quorum',
      { id: 'd', when: 'true', effect: 'deny', quorum: { minSigners: 2 } },
      `${p1}.quorum`,
      /^rule 'd': a deny rule takes no 'quorum'/,
    ],
    [
      'deny with velocity',
      { id: 'd', when: 'true', effect: 'deny', velocity: [{ window: '1h', maxCount: 1 }] },
      `${p1}.velocity`,
      /a deny rule takes no 'velocity'/,
    ],
    [
      'bad window',
      { id: 'v', when: 'true', effect: 'allow', velocity: [{ window: '2w', maxCount: 1 }] },
      `${p1}.velocity[0].window`,
      /^rule 'v': must be like 90m, 24h or 7d/,
    ],
    [
      'window too long',
      { id: 'v', when: 'true', effect: 'allow', velocity: [{ window: '31d', maxCount: 1 }] },
      `${p1}.velocity[0].window`,
      /between 1m and 30d/,
    ],
    [
      'numeric maxAmount',
      { id: 'v', when: 'true', effect: 'allow', velocity: [{ window: '24h', maxAmount: 10000 }] },
      `${p1}.velocity[0].maxAmount`,
      /quoted decimal string/,
    ],
    [
      'negative maxAmount',
      { id: 'v', when: 'true', effect: 'allow', velocity: [{ window: '24h', maxAmount: '-1' }] },
      `${p1}.velocity[0].maxAmount`,
      /quoted decimal string/,
    ],
    [
      'zero maxCount',
      { id: 'v', when: 'true', effect: 'allow', velocity: [{ window: '24h', maxCount: 0 }] },
      `${p1}.velocity[0].maxCount`,
      /integer in \[1, /,
    ],
    [
      'empty limit',
      { id: 'v', when: 'true', effect: 'allow', velocity: [{ window: '24h' }] },
      `${p1}.velocity[0]`,
      /^rule 'v': needs maxAmount, maxCount or both/,
    ],
  ];
  for (const [name, rule, path, problem] of ruleCases) {
    void it(`names the rule and the problem: ${name}`, () => rejectsRule(rule, path, problem));
  }

  void it('rejects a tier that names no policy', () => {
    const doc = documentWith([good]);
    (doc['rules'] as Doc)['tiers'] = { retial: [good] };
    rejects(
      () => loadPolicyDocumentWithRules(doc),
      'rules.tiers.retial',
      /tier 'retial' names no policies\[\]\.id \(known: retail, vault\)/,
    );
  });

  void it('rejects a tier that is not a list', () => {
    const doc = documentWith([good]);
    (doc['rules'] as Doc)['tiers'] = { retail: { id: 'r1' } };
    rejects(() => loadPolicyDocumentWithRules(doc), 'rules.tiers.retail', /must be a list/);
  });

  const sectionCases: [string, Doc, string, RegExp][] = [
    ['unknown section key', { limits: {} }, 'rules.limits', /unknown key 'limits'/],
    [
      'asset decimals above 18',
      { assets: { X: { decimals: 19 } } },
      'rules.assets.X.decimals',
      /integer in \[0, 18\]/,
    ],
    ['asset without decimals', { assets: { X: {} } }, 'rules.assets.X.decimals', /is required/],
    ['empty list entry', { lists: { ok: ['0xaaa', ''] } }, 'rules.lists.ok[1]', /non-empty string/],
    [
      'approver key not hex',
      { approvers: [{ id: 'a', publicKey: 'zz' }] },
      'rules.approvers[0].publicKey',
      /32-byte Ed25519 public key/,
    ],
    [
      'approver key small order',
      { approvers: [{ id: 'a', publicKey: '01' + '00'.repeat(31) }] },
      'rules.approvers[0].publicKey',
      /small-order/,
    ],
    [
      'approver key off curve',
      { approvers: [{ id: 'a', publicKey: '02' + '00'.repeat(31) }] },
      'rules.approvers[0].publicKey',
      /not a valid Ed25519 point/,
    ],
    [
      'approver key reused',
      {
        approvers: [
          { id: 'a', publicKey: approverKey('x').publicKey },
          { id: 'b', publicKey: approverKey('x').publicKey },
        ],
      },
      'rules.approvers[1].publicKey',
      /same key as approver 'a'/,
    ],
    [
      'wallet bound to unknown tier',
      { wallets: { 'w-1': 'gold' } },
      'rules.wallets.w-1',
      /must name a tier \(known: retail\)/,
    ],
    [
      'wallet id equal to a tier id',
      { wallets: { retail: 'retail' } },
      'rules.wallets.retail',
      /also a tier id/,
    ],
  ];
  for (const [name, section, path, problem] of sectionCases) {
    void it(`rejects the section: ${name}`, () => rejectsSection(section, path, problem));
  }

  void it('reports the line of a YAML syntax error and the rule of a CEL error in YAML text', () => {
    const text = readFileSync('examples/policies/rules-retail.yaml', 'utf8');
    const broken = text.replace('amount <= 1000 * unit', 'amount <= 1000 * unit &&');
    rejects(
      () => loadPolicyWithRules(broken),
      'rules.tiers.retail-2of3[2].when',
      /^rule 'small-transfer': CEL syntax error/,
    );
  });

  void describe('condition cost budget (cel-cost.ts)', () => {
    const big = Array.from({ length: 10_000 }, (_, i) => `0x${i.toString(16).padStart(40, '0')}`);
    const withLists = (rules: Doc[]) =>
      loadPolicyDocumentWithRules(
        documentWith(rules, { lists: { ok: ['0xaaa', '0xbbb'], big, small: big.slice(0, 50) } }),
      );
    const costOf = (when: string) =>
      withLists([{ id: 'r', effect: 'allow', when }]).rules.tiers.get('retail')!.rules[0]!.condition
        .cost;

    void it('counts nodes exactly for simple conditions and |L| for `in`', () => {
      assert.equal(costOf('amount > 5'), 3); // call + ident + const
      // call(1) + |ok|(2) + ident destination(1) + select lists.ok(1 + ident 1)
      assert.equal(costOf('destination in lists.ok'), 6);
      assert.equal(costOf('destination in lists.big'), 10_004);
    });

    void it('multiplies a comprehension by its range: nested ones over big lists are refused', () => {
      const one = costOf('lists.big.exists(d, d == destination)');
      assert.ok(one > 10_000 && one <= 100_000, String(one));
      // 50 × 50 nested is fine; 10 000 × 50 is not.
      assert.ok(costOf('lists.small.all(a, lists.small.exists(b, a == b))') < 100_000);
      rejects(
        () =>
          withLists([
            good,
            {
              id: 'nested',
              effect: 'allow',
              when: 'lists.big.all(a, lists.small.exists(b, a != b))',
            },
          ]),
        `${p1}.when`,
        /^rule 'nested': costs up to \d+ evaluation steps \(limit 100000\)/,
      );
      // A range the estimate cannot size counts as the largest list a file may hold.
      rejects(
        () =>
          withLists([
            good,
            {
              id: 'unsized',
              effect: 'allow',
              when: 'lists.small.map(a, [a, a]).all(l, l.all(x, lists.small.exists(y, x == y)))',
            },
          ]),
        `${p1}.when`,
        /costs up to \d+ evaluation steps/,
      );
    });

    void it('bounds the sum over a tier, naming the tier', () => {
      const scan = (i: number) => ({
        id: `scan-${i}`,
        effect: 'deny',
        when: 'lists.big.exists(d, d == destination)',
      });
      assert.doesNotThrow(() => withLists([good, scan(1), scan(2), scan(3)]));
      rejects(
        () => withLists([good, scan(1), scan(2), scan(3), scan(4)]),
        'rules.tiers.retail',
        /^the conditions of tier 'retail' cost up to \d+ evaluation steps per request together \(limit 250000\)/,
      );
    });
  });
});
