import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { QuorateError } from '../../src/core/errors.ts';
import {
  canonicalApprovalMessage,
  checkApprovals,
  evaluateRules,
  loadPolicyWithRules,
  policyHash,
  signApproval,
  verifyApproval,
} from '../../src/policy/rules/index.ts';
import type { ApprovalGroup, ApprovalSubject } from '../../src/policy/rules/index.ts';
import { approverKey, mondayMorningMs } from './rules-fixture.ts';

const subject: ApprovalSubject = {
  sessionId: 'sess-1',
  walletId: 'wallet-1',
  intentKey: 'pay-42',
  messageHash: 'ab'.repeat(32),
  context: { destination: '0xaaa', amount: '1500', asset: 'USDC' },
  policyHash: 'cd'.repeat(32),
};

const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((id) => ({ id, ...approverKey(id) }));

function group(
  k: number,
  members: { id: string; publicKey: string }[],
  ruleId = 'r',
): ApprovalGroup {
  return {
    ruleIds: [ruleId],
    k,
    approvers: members.map(({ id, publicKey }) => ({ id, publicKey })),
  };
}

void describe('approvals', () => {
  void it('the canonical message is the domain tag and sorted-key JSON', () => {
    const text = new TextDecoder().decode(canonicalApprovalMessage(subject));
    assert.equal(
      text,
      'quorate/approval/v1\n' +
        '{"context":{"amount":"1500","asset":"USDC","destination":"0xaaa"},"intentKey":"pay-42",' +
        `"messageHash":"${'ab'.repeat(32)}","policyHash":"${'cd'.repeat(32)}","sessionId":"sess-1","walletId":"wallet-1"}`,
    );
  });

  void it('verifies the approver signature and nothing else', () => {
    const signature = signApproval(subject, alice!.secretKey);
    assert.equal(verifyApproval(alice!, subject, signature), true);
    assert.equal(verifyApproval(bob!, subject, signature), false, 'another approver key');
    const tampered: ApprovalSubject[] = [
      { ...subject, sessionId: 'sess-2' },
      { ...subject, walletId: 'wallet-2' },
      { ...subject, intentKey: 'pay-43' },
      { ...subject, messageHash: 'ac'.repeat(32) },
      { ...subject, policyHash: 'ce'.repeat(32) }, // a policy change invalidates approvals
      { ...subject, context: { ...subject.context, amount: '1500.01' } },
      { ...subject, context: { ...subject.context, destination: '0xbbb' } },
    ];
    for (const other of tampered)
      assert.equal(verifyApproval(alice!, other, signature), false, JSON.stringify(other));
    for (const malformed of ['', 'zz', signature.slice(2), `${signature}00`]) {
      assert.equal(verifyApproval(alice!, subject, malformed), false);
    }
  });

  void it('counts k of m distinct approvers per group', () => {
    const groups = [group(2, [alice!, bob!, carol!], 'two'), group(1, [carol!], 'carol')];
    const sign = (who: typeof alice) => ({
      approverId: who!.id,
      signature: signApproval(subject, who!.secretKey),
    });
    const once = checkApprovals(groups, subject, [sign(alice), sign(alice)]);
    assert.equal(once.satisfied, false);
    assert.deepEqual(
      once.groups.map((g) => [g.approvedBy, g.missing]),
      [
        [['alice'], 1],
        [[], 1],
      ],
    );
    const withForgery = checkApprovals(groups, subject, [
      sign(alice),
      { approverId: 'bob', signature: sign(alice).signature },
      { approverId: 'mallory', signature: sign(alice).signature },
    ]);
    assert.equal(withForgery.satisfied, false);
    assert.deepEqual(withForgery.rejected, [
      { approverId: 'bob', problem: 'signature does not verify' },
      { approverId: 'mallory', problem: 'not an approver of this request' },
    ]);
    const done = checkApprovals(groups, subject, [sign(carol), sign(bob)]);
    assert.equal(done.satisfied, true);
    assert.deepEqual(
      done.groups.map((g) => g.approvedBy),
      [['bob', 'carol'], ['carol']],
    );
    assert.equal(checkApprovals([], subject, []).satisfied, true);
  });

  void it('the example large transfer is approved by one example approver', () => {
    const text = readFileSync('examples/policies/rules-retail.yaml', 'utf8');
    const loaded = loadPolicyWithRules(text);
    const context = {
      amount: '5000',
      asset: 'USDC',
      destination: '0x1111111111111111111111111111111111111111',
    };
    const d = evaluateRules(loaded.rules, 'retail-2of3', { context, nowMs: mondayMorningMs }, []);
    assert.equal(d.effect, 'allow');
    if (d.effect !== 'allow') return;
    const s = { ...subject, context, policyHash: loaded.policyHash };
    const secret = Buffer.from(
      '1a416d401110c2ec59753ff8be298f9e872e1f788fd1f1d63f3fecd9dca515a1',
      'hex',
    );
    const status = checkApprovals(d.requirement.approvals, s, [
      { approverId: 'risk-officer', signature: signApproval(s, secret) },
    ]);
    assert.equal(status.satisfied, true);
  });
});

void describe('policy hash', () => {
  const yaml =
    'slo: 0.999 # target\nshares:\n  - { id: a, type: hsm, domain: d, availability: 1 }\nrules: { tiers: {} }\n';

  void it('ignores layout, comments, key order and YAML vs JSON', () => {
    const json = JSON.stringify({
      rules: { tiers: {} },
      shares: [{ availability: 1, domain: 'd', type: 'hsm', id: 'a' }],
      slo: 0.999,
    });
    assert.equal(policyHash(yaml), policyHash(json));
    assert.equal(policyHash(yaml), policyHash(JSON.parse(json) as Record<string, unknown>));
    assert.match(policyHash(yaml), /^[0-9a-f]{64}$/);
  });

  void it('changes with any data change', () => {
    const base = policyHash(yaml);
    assert.notEqual(policyHash(yaml.replace('0.999', '0.9991')), base);
    assert.notEqual(policyHash(yaml.replace('id: a', 'id: b')), base);
    assert.notEqual(
      policyHash(yaml.replace('rules: { tiers: {} }', 'rules: { tiers: {}, wallets: {} }')),
      base,
    );
  });

  void it('rejects values canonical JSON cannot carry exactly', () => {
    assert.throws(
      () => policyHash('slo: .nan\n'),
      (e: unknown) => e instanceof QuorateError && e.detail['path'] === 'slo',
    );
    assert.throws(
      () => policyHash('a: [1, .inf]\n'),
      (e: unknown) => e instanceof QuorateError && e.detail['path'] === 'a[1]',
    );
    assert.throws(
      () => policyHash('a: [\n'),
      (e: unknown) => e instanceof QuorateError && e.code === 'QUORATE_E_POLICY_INVALID',
    );
  });

  void it('is what loadPolicyWithRules pins', () => {
    const text = readFileSync('examples/policies/rules-retail.yaml', 'utf8');
    assert.equal(loadPolicyWithRules(text).policyHash, policyHash(text));
  });
});
