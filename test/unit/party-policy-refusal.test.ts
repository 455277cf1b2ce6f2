/**
 * Party-side enforcement: a test double plays a malicious coordinator that tries to make a
 * party sign what the party's own rules refuse. The party must refuse with POLICY_DENIED and
 * never commit a nonce; a request its rules allow goes through (so the double can tell).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { realEnv } from '../../src/core/env.ts';
import { canonicalJson, sha256Hex } from '../../src/core/encoding.ts';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { PartyRuntime } from '../../src/party/runtime.ts';
import {
  canonicalApprovalMessage,
  loadPolicyWithRules,
  type ApprovalSubject,
} from '../../src/policy/rules/index.ts';
import { runKeygen } from '../../src/protocol/local-run.ts';
import { coordinatorRole } from '../../src/protocol/engine.ts';
import { EnvelopeSender, type Envelope } from '../../src/transport/envelope.ts';
import { generateIdentity, signDetached } from '../../src/transport/identity.ts';
import { welcomeDomain, type Link } from '../../src/transport/link.ts';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const policy = loadPolicyWithRules(
  readFileSync(new URL('../../examples/policies/rules-retail.yaml', import.meta.url), 'utf8'),
);
const allowed = '0x1111111111111111111111111111111111111111';
const walletId = 'w_000000000000000000000009';

/** A connected pair of in-memory links (party side, coordinator side). */
function linkPair(): [Link, Link] {
  const make = () => {
    const frames: ((f: unknown) => void)[] = [];
    const closes: ((r: string) => void)[] = [];
    return { frames, closes, open: true };
  };
  const a = make();
  const b = make();
  const link = (self: typeof a, peer: typeof a): Link => ({
    get isOpen() {
      return self.open;
    },
    send: (frame) => {
      if (self.open && peer.open) for (const h of peer.frames) h(structuredClone(frame));
    },
    close: (reason) => {
      self.open = false;
      for (const h of self.closes) h(reason);
    },
    onFrame: (h) => self.frames.push(h),
    onClose: (h) => self.closes.push(h),
  });
  return [link(a, b), link(b, a)];
}

describe('a party refuses a malicious coordinator that bypasses the rules', () => {
  const env = realEnv({ logLevel: 'silent' });
  const journal = new MemoryJournal(Date.now());
  const coordinatorIdentity = generateIdentity(rng(64));
  const received: Envelope[] = [];
  let sender: EnvelopeSender;
  let token = 1;
  let sendToParty: (e: Envelope) => void = () => {};
  const keys = runKeygen('ed25519', ['mobile', 'backend', 'guardian'], 2, rng).map((k) => ({
    ...k,
    walletId,
    tier: 'retail-2of3',
  }));

  before(() => {
    const mobileShare = keys.find((k) => k.partyId === 'mobile')!;
    const sealer = {
      seal: (_l: string, p: Uint8Array) => bytesToHex(p),
      open: (_l: string, s: string) => Uint8Array.from(Buffer.from(s, 'hex')),
    };
    journal.putSealedShare(walletId, sealer.seal('', utf8ToBytes(JSON.stringify(mobileShare))));
    const party = new PartyRuntime({
      partyId: 'mobile',
      env,
      journal,
      sealer,
      identity: generateIdentity(rng(64)),
      policy,
    });
    const [partySide, coordSide] = linkPair();
    coordSide.onFrame((frame) => {
      const f = frame as { t: string; e?: Envelope };
      if (f.t === 'env' && f.e) received.push(f.e);
    });
    party.attach(partySide);
    const conn = 'c1';
    const nonce = 'n1';
    const coordinatorKey = bytesToHex(coordinatorIdentity.signPublic);
    coordSide.send({ t: 'challenge', conn, nonce, coordinatorKey });
    const proof = signDetached(
      welcomeDomain,
      utf8ToBytes(canonicalJson({ conn, nonce, partyId: 'mobile', coordinatorKey })),
      coordinatorIdentity.signSecret,
    );
    coordSide.send({ t: 'welcome', conn, proof: bytesToHex(proof) });
    sender = new EnvelopeSender(coordinatorRole, 'mobile', conn, coordinatorIdentity.signSecret);
    sendToParty = (e) => coordSide.send({ t: 'env', e });
  });

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
    const e = sender.build({
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
    const before = received.length;
    sendToParty(e);
    return received.slice(before).find((r) => r.sessionId === sessionId);
  }

  const refusedWithPolicy = (reply: Envelope | undefined) => {
    assert.ok(reply, 'the party answered');
    assert.equal(reply.kind, 'refuse');
    assert.equal((reply.body as { code: string }).code, 'QUORATE_E_POLICY_DENIED');
    assert.equal((reply.body as { hard: boolean }).hard, true);
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
    assert.equal(journal.nonces().length, 0);
    const reply = signStart('s_f', { amount: '10', asset: 'USDC', destination: allowed });
    assert.equal(reply?.kind, 'protocol', JSON.stringify(reply?.body));
    assert.equal(reply?.round, 1);
    assert.equal(journal.nonces().length, 1);
  });
});
