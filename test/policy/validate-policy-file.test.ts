import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { QuorateError } from '../../src/core/errors.ts';
import { parsePolicyText } from '../../src/policy/parse-policy-text.ts';

const base = {
  groups: [{ id: 'region', availability: 0.999 }],
  shares: [
    { id: 'mobile', type: 'mobile', domain: 'user', availability: 0.8 },
    {
      id: 'backend',
      type: 'backend',
      domain: 'operator',
      mttfHours: 2000,
      mttrHours: 2,
      groups: ['region'],
    },
    { id: 'guardian', type: 'guardian', domain: 'recovery', availability: 0.7 },
  ],
  policies: [{ id: 'p', threshold: 2, shares: ['mobile', 'backend', 'guardian'] }],
};

type Doc = Record<string, unknown>;

function rejects(doc: Doc | string, path: string, problem: RegExp): void {
  const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
  assert.throws(
    () => parsePolicyText(text),
    (error: unknown) => {
      assert.ok(error instanceof QuorateError);
      assert.equal(error.code, 'QUORATE_E_POLICY_INVALID');
      assert.equal(error.detail['path'], path);
      assert.match(String(error.detail['problem']), problem);
      return true;
    },
  );
}

function edit(mutate: (doc: Doc & typeof base) => void): Doc {
  const doc = structuredClone(base) as Doc & typeof base;
  mutate(doc);
  return doc;
}

void describe('policy file validation', () => {
  void it('accepts the valid base document (YAML and JSON) and fills defaults', () => {
    const file = parsePolicyText(JSON.stringify(base));
    assert.equal(file.slo, 0.999);
    assert.equal(file.shares[0]?.enforcesPolicy, true);
    assert.equal(file.shares[1]?.randomAvailability, 2000 / 2002);
    assert.equal(file.recommend.sharesMin, 3);
    const yaml = parsePolicyText('shares:\n  - { id: a, type: hsm, domain: d, availability: 1 }\n');
    assert.equal(yaml.shares[0]?.type, 'hsm');
  });

  void it('rejects an unknown share in a policy, naming the path', () => {
    rejects(
      edit((d) => {
        d.policies[0]!.shares[2] = 'ghost';
      }),
      'policies[0].shares[2]',
      /unknown share 'ghost'/,
    );
  });

  void it('rejects t > n', () => {
    rejects(
      edit((d) => {
        d.policies[0]!.threshold = 4;
      }),
      'policies[0].threshold',
      /threshold 4 exceeds n = 3/,
    );
  });

  void it('rejects t < 1 and a non-integer t', () => {
    rejects(
      edit((d) => {
        d.policies[0]!.threshold = 0;
      }),
      'policies[0].threshold',
      /integer/,
    );
    rejects(
      edit((d) => {
        d.policies[0]!.threshold = 1.5;
      }),
      'policies[0].threshold',
      /integer/,
    );
  });

  for (const bad of [0, -0.1, 1.01, '0.9']) {
    void it(`rejects availability ${JSON.stringify(bad)} outside (0, 1]`, () => {
      rejects(
        edit((d) => {
          (d.shares[0] as Doc)['availability'] = bad;
        }),
        'shares[0].availability',
        /\(0, 1\]/,
      );
    });
  }

  void it('accepts availability exactly 1', () => {
    assert.equal(
      parsePolicyText(
        JSON.stringify(
          edit((d) => {
            (d.shares[0] as Doc)['availability'] = 1;
          }),
        ),
      ).shares[0]?.randomAvailability,
      1,
    );
  });

  void it('rejects a group availability outside (0, 1]', () => {
    rejects(
      edit((d) => {
        d.groups[0]!.availability = 0;
      }),
      'groups[0].availability',
      /\(0, 1\]/,
    );
  });

  void it('rejects an unknown group on a share and on a group', () => {
    rejects(
      edit((d) => {
        (d.shares[1] as Doc)['groups'] = ['region', 'nowhere'];
      }),
      'shares[1].groups[1]',
      /unknown group 'nowhere'/,
    );
    rejects(
      edit((d) => {
        (d.groups[0] as Doc)['groups'] = ['nowhere'];
      }),
      'groups[0].groups[0]',
      /unknown group 'nowhere'/,
    );
  });

  void it('rejects a group cycle, naming the cycle', () => {
    const doc = edit((d) => {
      d.groups = [
        { id: 'a', availability: 0.9, groups: ['b'] },
        { id: 'b', availability: 0.9, groups: ['c'] },
        { id: 'c', availability: 0.9, groups: ['a'] },
      ] as unknown as typeof d.groups;
      (d.shares[1] as Doc)['groups'] = ['a'];
    });
    rejects(doc, 'groups[2].groups', /group cycle: a -> b -> c -> a/);
    rejects(
      edit((d) => {
        (d.groups[0] as Doc)['groups'] = ['region'];
      }),
      'groups[0].groups',
      /group cycle: region -> region/,
    );
  });

  void it('rejects unknown keys everywhere except top-level rules', () => {
    rejects(
      edit((d) => {
        (d.shares[0] as Doc)['colour'] = 'red';
      }),
      'shares[0].colour',
      /unknown key 'colour'/,
    );
    rejects(
      edit((d) => {
        (d as Doc)['extra'] = 1;
      }),
      'extra',
      /unknown key 'extra'/,
    );
    rejects(
      edit((d) => {
        (d.policies[0] as Doc)['t'] = 2;
      }),
      'policies[0].t',
      /unknown key/,
    );
    const withRules = parsePolicyText(
      JSON.stringify({ ...base, rules: { maxAmount: 5, anything: ['goes'] } }),
    );
    assert.equal(withRules.policies.length, 1);
  });

  void it('rejects both availability and rates, or half the rates', () => {
    rejects(
      edit((d) => {
        (d.shares[0] as Doc)['mttfHours'] = 10;
      }),
      'shares[0]',
      /either availability or mttfHours\+mttrHours/,
    );
    rejects(
      edit((d) => {
        delete (d.shares[1] as Doc)['mttrHours'];
      }),
      'shares[1].mttrHours',
      /required/,
    );
    rejects(
      edit((d) => {
        delete (d.shares[0] as Doc)['availability'];
      }),
      'shares[0]',
      /needs availability/,
    );
  });

  void it('rejects duplicate ids, duplicate shares in a policy and bad types', () => {
    rejects(
      edit((d) => {
        d.shares[2]!.id = 'mobile';
      }),
      'shares[2].id',
      /duplicate id/,
    );
    rejects(
      edit((d) => {
        d.policies[0]!.shares[1] = 'mobile';
      }),
      'policies[0].shares[1]',
      /listed twice/,
    );
    rejects(
      edit((d) => {
        d.shares[0]!.type = 'laptop';
      }),
      'shares[0].type',
      /mobile\|web\|backend\|guardian\|hsm/,
    );
    rejects(
      edit((d) => {
        (d.shares[0] as Doc)['enforcesPolicy'] = 'no';
      }),
      'shares[0].enforcesPolicy',
      /true or false/,
    );
  });

  void it('validates time structure', () => {
    rejects(
      edit((d) => {
        (d.shares[1] as Doc)['maintenance'] = { everyHours: 24, durationHours: 24 };
      }),
      'shares[1].maintenance.durationHours',
      /number in/,
    );
    rejects(
      edit((d) => {
        (d.shares[1] as Doc)['outage'] = { distribution: 'weibull' };
      }),
      'shares[1].outage.shape',
      /required/,
    );
    rejects(
      edit((d) => {
        (d.shares[1] as Doc)['outage'] = { distribution: 'exponential', sigma: 1 };
      }),
      'shares[1].outage.sigma',
      /does not apply/,
    );
    rejects(
      edit((d) => {
        (d.shares[0] as Doc)['dailyOnline'] = { fromHour: 8, toHour: 8 };
      }),
      'shares[0].dailyOnline',
      /empty/,
    );
    rejects(
      edit((d) => {
        (d as Doc)['simulation'] = { months: 10 };
      }),
      'simulation.months',
      /integer in \[100/,
    );
  });

  void it('reports YAML syntax errors with a line and column', () => {
    rejects('shares: [\n  { id: a', 'line 2, column 10', /./);
    rejects('slo: 1\nslo: 2\nshares: []', 'line 2, column 1', /unique/i);
  });

  void it('rejects a document that is not a mapping and shares that are not a list', () => {
    rejects('shares: 3', 'shares', /list/);
    rejects('[]', '(root)', /mapping/);
  });
});
