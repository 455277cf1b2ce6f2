/**
 * Deliverable 6 on the party (rules decide on facts bound to the exact (message, context)
 * pair): a governed wallet's intent lock binds the message AND the policy context the party's
 * rules were asked about. A coordinator that asks the same party to sign the same intent and
 * message under another context (a smaller amount after the first try was refused, a different
 * destination after one was allowed) is refused with QUORATE_E_INTENT_CONFLICT and no one-time
 * secret is drawn; an honest retry under the same context still signs. Ungoverned wallets keep
 * the message-only lock, and a governed lock taken before the binding (message hash only) is
 * honoured as it was.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../../src/core/encoding.ts';
import { intentLockValue } from '../../src/party/signing.ts';
import { loadPolicyWithRules } from '../../src/policy/rules/index.ts';
import { runKeygen } from '../../src/protocol/local-run.ts';
import { validateRefuse, type Envelope } from '../../src/transport/wire.ts';
import { connectedParty, testRng as rng, type PartyHarness } from '../helpers/party-harness.ts';

const policy = loadPolicyWithRules(
  readFileSync(new URL('../../examples/policies/rules-retail.yaml', import.meta.url), 'utf8'),
);
const tier = 'retail-2of3';
const allowed = '0x1111111111111111111111111111111111111111';
const alsoAllowed = '0x2222222222222222222222222222222222222222';
const members = ['mobile', 'backend', 'guardian'];
const usdc = (amount: string, destination = allowed) => ({ amount, asset: 'USDC', destination });

/** A party `mobile` holding a share of a fresh wallet (governed by `tier` when given). */
function mobileOf(walletId: string, walletTier?: string): PartyHarness {
  const keys = runKeygen('ed25519', members, 2, rng).map((k) => ({
    ...k,
    walletId,
    ...(walletTier === undefined ? {} : { tier: walletTier }),
  }));
  return connectedParty('mobile', [keys.find((k) => k.partyId === 'mobile')!], { policy });
}

/** Drives sign-starts at one party; every call is a new attempt (a higher token). */
function asker(h: PartyHarness, walletId: string) {
  let token = 0;
  return (
    intentKey: string,
    text: string,
    context: Record<string, string> | undefined,
  ): Envelope | undefined => {
    token += 1;
    const message = utf8ToBytes(text);
    const replies = h.send({
      kind: 'sign-start',
      sessionId: `s_${intentKey}`,
      attempt: token,
      token,
      round: 0,
      body: {
        walletId,
        intentKey,
        messageHex: bytesToHex(message),
        messageHash: sha256Hex(message),
        signers: ['mobile', 'backend'],
        deadlineMs: Date.now() + 30_000,
        remainingMs: 30_000,
        ...(context === undefined
          ? {}
          : { policy: { tier, policyHash: policy.policyHash, context, approvals: [] } }),
      },
    });
    return replies.at(-1);
  };
}

const codeOf = (reply: Envelope | undefined): string | undefined => {
  assert.ok(reply, 'the party answered');
  if (reply.kind !== 'refuse') return reply.kind;
  const body = validateRefuse(reply.body);
  assert.ok(body.ok);
  return body.value.code;
};

const commits = (reply: Envelope | undefined) => {
  assert.equal(codeOf(reply), 'protocol', JSON.stringify(reply?.body));
  assert.equal(reply?.round, 1);
};

const conflicts = (reply: Envelope | undefined) => {
  assert.equal(codeOf(reply), 'QUORATE_E_INTENT_CONFLICT', JSON.stringify(reply?.body));
  const body = validateRefuse(reply?.body);
  assert.ok(body.ok && body.value.hard, 'hard: never ask this party again for it');
};

describe('a governed intent is bound to its (message, context) pair', () => {
  const walletId = 'w_00000000000000000000000d';
  const h = mobileOf(walletId, tier);
  const ask = asker(h, walletId);
  after(() => h.close());

  test('refused for a large amount, then asked for a small one: INTENT_CONFLICT, no secret', () => {
    const first = ask('i-large', 'pay 5000 USDC to carol', usdc('5000'));
    assert.equal(codeOf(first), 'QUORATE_E_POLICY_DENIED', 'the rules refuse the large amount');
    conflicts(ask('i-large', 'pay 5000 USDC to carol', usdc('10')));
    assert.equal(h.journal.nonces().length, 0, 'no one-time secret was drawn');
  });

  test('allowed under one context, asked again under another: INTENT_CONFLICT', () => {
    commits(ask('i-small', 'pay 10 USDC to carol', usdc('10')));
    conflicts(ask('i-small', 'pay 10 USDC to carol', usdc('10', alsoAllowed)));
    conflicts(ask('i-small', 'pay 10 USDC to carol', { ...usdc('10'), memo: 'x' }));
    assert.equal(h.journal.nonces().length, 1, 'only the allowed attempt drew a secret');
  });

  test('the same intent, message and context asked again (an honest retry) still signs', () => {
    commits(ask('i-retry', 'pay 20 USDC to carol', usdc('20')));
    // Keys in another order: the lock reads the context canonically.
    commits(
      ask('i-retry', 'pay 20 USDC to carol', { destination: allowed, asset: 'USDC', amount: '20' }),
    );
  });

  test('the same intent with another message is still a conflict', () => {
    conflicts(ask('i-retry', 'pay 21 USDC to carol', usdc('20')));
  });

  test('a lock taken before the binding (the bare message hash) is honoured as it was', () => {
    const text = 'pay 30 USDC to carol';
    const messageHash = sha256Hex(utf8ToBytes(text));
    assert.ok(h.journal.lockIntent(walletId, 'i-legacy', messageHash, 's_old').ok);
    commits(ask('i-legacy', text, usdc('30')));
    conflicts(ask('i-legacy', 'pay 31 USDC to carol', usdc('30')));
  });
});

describe('an ungoverned intent keeps the message-only lock', () => {
  const walletId = 'w_00000000000000000000000e';
  const h = mobileOf(walletId);
  const ask = asker(h, walletId);
  after(() => h.close());

  test('the lock value is the message hash: journals written before the binding still match', () => {
    const messageHash = sha256Hex(utf8ToBytes('m'));
    assert.equal(intentLockValue(messageHash, undefined, undefined), messageHash);
    const block = { tier, policyHash: policy.policyHash, context: usdc('1'), approvals: [] };
    assert.equal(intentLockValue(messageHash, undefined, block), messageHash);
    assert.notEqual(intentLockValue(messageHash, tier, block), messageHash);
    assert.notEqual(
      intentLockValue(messageHash, tier, block),
      intentLockValue(messageHash, tier, { ...block, context: usdc('2') }),
    );
  });

  test('a context an ungoverned party does not evaluate does not split its intent', () => {
    commits(ask('u-1', 'pay 1 BTC to erin', undefined));
    commits(ask('u-1', 'pay 1 BTC to erin', usdc('1')));
    conflicts(ask('u-1', 'pay 2 BTC to erin', undefined));
  });
});
