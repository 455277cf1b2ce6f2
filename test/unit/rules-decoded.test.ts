/**
 * `decoded`: a rule can require that the facts it reads were decoded from the message itself (an
 * EVM transaction) by the evaluator, not claimed. examples/policies/rules-evm.yaml denies bare
 * digests with it; the coordinator sets it from the session's transaction and every party from
 * the transaction it decoded itself, so a coordinator cannot claim it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { checkPartyPolicy } from '../../src/party/party-policy.ts';
import { evaluateRules, loadPolicyWithRules } from '../../src/policy/rules/index.ts';

const policy = loadPolicyWithRules(
  readFileSync(new URL('../../examples/policies/rules-evm.yaml', import.meta.url), 'utf8'),
);
const small = {
  amount: '0.1',
  asset: 'ETH',
  destination: '0x1111111111111111111111111111111111111111',
};

test('the rules see decoded: a bare digest is denied, a decoded transaction allowed', () => {
  const at = (decoded: boolean) =>
    evaluateRules(policy.rules, 'evm-2of3', { context: small, nowMs: 0, decoded }, []);
  const bare = at(false);
  assert.equal(bare.effect, 'deny');
  assert.match(JSON.stringify(bare), /transactions-only/);
  assert.equal(at(true).effect, 'allow');
  // Absent means not decoded: an evaluator that does not say so gets the strict answer.
  const unsaid = evaluateRules(policy.rules, 'evm-2of3', { context: small, nowMs: 0 }, []);
  assert.equal(unsaid.effect, 'deny');
});

test('a party decides decoded itself: the same policy block is refused on a bare digest', () => {
  const input = (decoded: boolean) => ({
    tier: 'evm-2of3',
    block: { tier: 'evm-2of3', policyHash: policy.policyHash, context: small, approvals: [] },
    sessionId: 's1',
    walletId: 'w',
    intentKey: 'i',
    messageHash: '00'.repeat(32),
    signers: ['mobile', 'backend'],
    nowMs: 0,
    decoded,
  });
  const journal = new MemoryJournal(0);
  const refused = checkPartyPolicy(policy, journal, input(false));
  assert.equal(refused?.code, 'QUORATE_E_POLICY_DENIED');
  assert.match(refused?.reason ?? '', /transactions-only/);
  assert.equal(checkPartyPolicy(policy, journal, input(true)), undefined);
});
