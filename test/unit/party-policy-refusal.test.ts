/**
 * Party-side enforcement: a test double plays a malicious coordinator that tries to make a
 * party sign what the party's own rules refuse. The party must refuse with POLICY_DENIED and
 * never commit a nonce; a request its rules allow goes through (so the double can tell).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../../src/core/encoding.ts';
import {
  canonicalApprovalMessage,
  loadPolicyWithRules,
  type ApprovalSubject,
} from '../../src/policy/rules/index.ts';
import { runKeygen } from '../../src/protocol/local-run.ts';
import { validateRefuse, type Envelope } from '../../src/transport/wire.ts';
import { connectedParty, testRng as rng, type PartyHarness } from '../helpers/party-harness.ts';

const policy = loadPolicyWithRules(
  readFileSync(new URL('../../examples/policies/rules-retail.yaml', import.meta.url), 'utf8'),
);
const allowed = '0x1111111111111111111111111111111111111111';
const walletId = 'w_000000000000000000000009';

describe('a party refuses a malicious coordinator that bypasses the rules', () => {
  let harness: PartyHarness;
  let token = 1;
  const keys = runKeygen('ed25519', ['mobile', 'backend', 'guardian'], 2, rng).map((k) => ({
    ...k,
    walletId,
    tier: 'retail-2of3',
  }));

  before(() => {
    const mobileShare = keys.find((k) => k.partyId === 'mobile')!;
    harness = connectedParty('mobile', [mobileShare], { policy });
  });
  after(() => harness.close());

  function signStart(
    sessionId: string,
    context: Record<string, string>,
    opts: { signers?: string[]; policy?: unknown; approvals?: unknown[] } = {},
  ): Envelope | undefined {
    const message = bytesToHex(utf8ToBytes(`pay ${sessionId}`));
    token += 1;
    const policyBlock =
      'policy' in opts
        ? opts.policy
        : {
            tier: 'retail-2of3',
            policyHash: policy.policyHash,
            context,
            approvals: opts.approvals ?? [],
          };
    const replies = harness.send({
      kind: 'sign-start',
      sessionId,
      attempt: 1,
      token,
      round: 0,
      body: {
        walletId,
        intentKey: sessionId,
        messageHex: message,
        messageHash: sha256Hex(utf8ToBytes(`pay ${sessionId}`)),
        signers: opts.signers ?? ['mobile', 'backend'],
        deadlineMs: Date.now() + 30_000,
        remainingMs: 30_000,
        ...(policyBlock === undefined ? {} : { policy: policyBlock }),
      },
    });
    return replies.find((r) => r.sessionId === sessionId);
  }

  const refusedWithPolicy = (reply: Envelope | undefined) => {
    assert.ok(reply, 'the party answered');
    assert.equal(reply.kind, 'refuse');
    const body = validateRefuse(reply.body);
    assert.ok(body.ok, 'a valid refusal body');
    assert.equal(body.value.code, 'QUORATE_E_POLICY_DENIED');
    assert.equal(body.value.hard, true);
  };

  test('no policy block for a governed wallet → refused', () => {
    refusedWithPolicy(
      signStart(
        's_a',
        { amount: '10', asset: 'USDC', destination: allowed },
        { policy: undefined },
      ),
    );
  });

  test('a different policy version (hash) → refused', () => {
    refusedWithPolicy(
      signStart(
        's_b',
        {},
        {
          policy: {
            tier: 'retail-2of3',
            policyHash: 'ab'.repeat(32),
            context: { amount: '10', asset: 'USDC', destination: allowed },
            approvals: [],
          },
        },
      ),
    );
  });

  test('a destination outside the allowlist → refused', () => {
    refusedWithPolicy(
      signStart('s_c', {
        amount: '10',
        asset: 'USDC',
        destination: '0x9999999999999999999999999999999999999999',
      }),
    );
  });

  test('a large transfer without the approval → refused', () => {
    refusedWithPolicy(
      signStart(
        's_d',
        { amount: '5000', asset: 'USDC', destination: allowed },
        { signers: ['mobile', 'guardian'] },
      ),
    );
  });

  test('a large transfer with a valid approval but without the guardian in the quorum → refused', () => {
    const context = { amount: '5000', asset: 'USDC', destination: allowed };
    const subject: ApprovalSubject = {
      sessionId: 's_e',
      walletId,
      intentKey: 's_e',
      messageHash: sha256Hex(utf8ToBytes('pay s_e')),
      context,
      policyHash: policy.policyHash,
    };
    const signature = bytesToHex(
      ed25519.sign(
        canonicalApprovalMessage(subject),
        sha256(utf8ToBytes('quorate example approver risk-officer')),
      ),
    );
    refusedWithPolicy(
      signStart('s_e', context, {
        signers: ['mobile', 'backend'],
        approvals: [{ approverId: 'risk-officer', signature }],
      }),
    );
  });

  test('no nonce was committed for any refused request; an allowed small transfer commits', () => {
    assert.equal(harness.journal.nonces().length, 0);
    const reply = signStart('s_f', { amount: '10', asset: 'USDC', destination: allowed });
    assert.equal(reply?.kind, 'protocol', JSON.stringify(reply?.body));
    assert.equal(reply?.round, 1);
    assert.equal(harness.journal.nonces().length, 1);
  });

  test('a velocity record the party cannot read back → refused (fails closed)', () => {
    harness.journal.setMeta(`velocity:${walletId}`, '[{"sessionId":1}]');
    refusedWithPolicy(signStart('s_g', { amount: '10', asset: 'USDC', destination: allowed }));
    assert.equal(harness.journal.nonces().length, 1, 'no nonce committed for it');
  });
});
