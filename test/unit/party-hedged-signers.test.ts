/**
 * Hedged first round on the party: sign-start names the candidates and how many of them sign
 * (`quorumSize`); the round-2 message fixes the signer set. A party checks that set as hostile
 * input before its share can leave: every refusal below (a party not asked, itself left out,
 * the wrong size, a set its own rules refuse) is a hard refusal, the session is dropped and its
 * nonce discarded, and no share leaves. The same party signs a valid final set (the double can
 * tell the refusals from a broken harness).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../../src/core/encoding.ts';
import { checkFinalSigners } from '../../src/party/signing.ts';
import { Refusal } from '../../src/party/refusal.ts';
import {
  canonicalApprovalMessage,
  loadPolicyWithRules,
  type ApprovalSubject,
} from '../../src/policy/rules/index.ts';
import { realEnv } from '../../src/core/env.ts';
import type { KeyShare, PartyEngine, PartySignerRole } from '../../src/protocol/engine.ts';
import { engines } from '../../src/protocol/frost.ts';
import { runKeygen } from '../../src/protocol/local-run.ts';
import { validateRefuse, type Envelope, type SignStartBody } from '../../src/transport/wire.ts';
import { faultyEngines } from '../helpers/faulty-engine.ts';
import {
  connectedParty,
  hedgedSignStartBody,
  testRng as rng,
  type PartyHarness,
} from '../helpers/party-harness.ts';

type Commitment = { hiding: string; binding: string };

/** Round-1 commitments of `others` for `messageHex`, from their own (local) signer roles. */
function commitmentsOf(
  keys: KeyShare[],
  others: string[],
  body: SignStartBody,
): Record<string, Commitment> {
  const out: Record<string, Commitment> = {};
  for (const partyId of others) {
    const key = keys.find((k) => k.partyId === partyId)!;
    const role = engines.ed25519.signer({
      key,
      message: utf8ToBytes(''),
      signers: body.signers,
      rng,
      sealer: { seal: () => '', open: () => new Uint8Array() },
    });
    const step = role.start();
    const payload = step.outgoing[0]?.payload as Commitment;
    out[partyId] = { hiding: payload.hiding, binding: payload.binding };
    role.wipe();
  }
  return out;
}

/** Drives one party through sign-start and round 2 with a chosen final set. */
function hedgedRun(h: PartyHarness, keys: KeyShare[], walletId: string) {
  let token = 0;
  return (
    sessionId: string,
    asked: string[],
    finalSet: string[],
    extra: Partial<SignStartBody> = {},
  ): { round1: Envelope | undefined; round2: Envelope | undefined } => {
    token += 1;
    const body = hedgedSignStartBody(walletId, sessionId, asked, extra);
    const at = { sessionId, attempt: 1, token };
    const [round1] = h.send({ kind: 'sign-start', ...at, round: 0, body: { ...body } });
    if (round1?.kind !== 'protocol') return { round1, round2: undefined };
    const mine = { hiding: String(round1.body['hiding']), binding: String(round1.body['binding']) };
    const others = commitmentsOf(
      keys,
      finalSet.filter((p) => p !== 'mobile'),
      body,
    );
    const commitments = finalSet.includes('mobile') ? { mobile: mine, ...others } : others;
    const [round2] = h.send({ kind: 'protocol', ...at, round: 2, body: { commitments } });
    return { round1, round2 };
  };
}

const codeOf = (e: Envelope | undefined) => {
  const body = validateRefuse(e?.body);
  return body.ok ? body.value : undefined;
};

function assertRefusedAndDropped(
  h: PartyHarness,
  sessionId: string,
  run: ReturnType<ReturnType<typeof hedgedRun>>,
  code: string,
  pattern: RegExp,
): void {
  assert.equal(run.round1?.kind, 'protocol', 'the party committed to the hedged sign-start');
  assert.equal(run.round2?.kind, 'refuse', JSON.stringify(run.round2?.body));
  const refusal = codeOf(run.round2);
  assert.equal(refusal?.code, code);
  assert.equal(refusal?.hard, true);
  assert.match(refusal?.reason ?? '', pattern);
  const nonces = h.journal.nonces().filter((n) => n.sessionId === sessionId);
  assert.equal(nonces.length, 1);
  assert.equal(nonces[0]?.state, 'discarded', 'its nonce is discarded, never consumed');
  assert.equal(h.party.activeSessions, 0, 'no session held');
}

describe('a party checks the final signer set of a hedged round as hostile input', () => {
  const walletId = 'w_0000000000000000000000h1';
  const members = ['mobile', 'backend', 'guardian', 'hsm'];
  const keys = runKeygen('ed25519', members, 2, rng).map((k) => ({ ...k, walletId }));
  const h = connectedParty('mobile', [keys.find((k) => k.partyId === 'mobile')!]);
  after(() => h.close());
  const run = hedgedRun(h, keys, walletId);
  const asked = ['mobile', 'backend', 'guardian'];

  test('a final set naming a party that was not asked: refused', () => {
    const r = run('s_h_foreign', asked, ['mobile', 'hsm']);
    assertRefusedAndDropped(h, 's_h_foreign', r, 'QUORATE_E_BAD_ENVELOPE', /not asked/);
  });

  test('a final set without this party: refused', () => {
    const r = run('s_h_without', asked, ['backend', 'guardian']);
    assertRefusedAndDropped(h, 's_h_without', r, 'QUORATE_E_BAD_ENVELOPE', /leaves this party/);
  });

  test('a final set of the wrong size: refused', () => {
    const r = run('s_h_size', asked, ['mobile', 'backend', 'guardian']);
    assertRefusedAndDropped(h, 's_h_size', r, 'QUORATE_E_BAD_ENVELOPE', /3 signers, 2 agreed/);
  });

  test('a quorum size below the threshold is refused at sign-start, before any nonce', () => {
    const r = run('s_h_below', asked, ['mobile', 'backend'], { quorumSize: 1 });
    assert.equal(r.round1?.kind, 'refuse');
    assert.equal(codeOf(r.round1)?.code, 'QUORATE_E_BAD_ENVELOPE');
    assert.equal(h.journal.nonces().filter((n) => n.sessionId === 's_h_below').length, 0);
  });

  test('a valid final set (a subset of the candidates, with this party, of the agreed size) signs', () => {
    const r = run('s_h_ok', asked, ['mobile', 'guardian']);
    assert.equal(r.round2?.kind, 'protocol', JSON.stringify(r.round2?.body));
    assert.equal(typeof r.round2?.body['share'], 'string');
  });

  test('a set naming a party twice never passes (the check on its own)', () => {
    assert.throws(
      () => checkFinalSigners('mobile', { signers: asked, quorumSize: 2 }, ['mobile', 'mobile']),
      (e: unknown) => e instanceof Refusal && e.hard && /twice/.test(e.message),
    );
  });
});

describe('a party re-evaluates its own rules on the final set, not on the candidates', () => {
  const policy = loadPolicyWithRules(
    readFileSync(new URL('../../examples/policies/rules-retail.yaml', import.meta.url), 'utf8'),
  );
  const walletId = 'w_0000000000000000000000h2';
  const members = ['mobile', 'backend', 'guardian'];
  const keys = runKeygen('ed25519', members, 2, rng).map((k) => ({
    ...k,
    walletId,
    tier: 'retail-2of3',
  }));
  const h = connectedParty('mobile', [keys.find((k) => k.partyId === 'mobile')!], { policy });
  after(() => h.close());
  const run = hedgedRun(h, keys, walletId);
  const context = {
    amount: '5000',
    asset: 'USDC',
    destination: '0x1111111111111111111111111111111111111111',
  };

  /** The large transfer's policy block with the risk officer's approval of `sessionId`. */
  const blockFor = (sessionId: string): Partial<SignStartBody> => {
    const subject: ApprovalSubject = {
      sessionId,
      walletId,
      intentKey: sessionId,
      messageHash: sha256Hex(utf8ToBytes(`pay ${sessionId}`)),
      context,
      policyHash: policy.policyHash,
    };
    const secret = sha256(utf8ToBytes('quorate example approver risk-officer'));
    const signature = bytesToHex(ed25519.sign(canonicalApprovalMessage(subject), secret));
    return {
      policy: {
        tier: 'retail-2of3',
        policyHash: policy.policyHash,
        context,
        approvals: [{ approverId: 'risk-officer', signature }],
      },
    };
  };

  test('candidates include the guardian the rule requires, the final set does not: refused', () => {
    const r = run('s_g_noguard', members, ['mobile', 'backend'], blockFor('s_g_noguard'));
    assertRefusedAndDropped(h, 's_g_noguard', r, 'QUORATE_E_POLICY_DENIED', /guardian/);
  });

  test('the same request whose final set holds the guardian signs', () => {
    const r = run('s_g_guard', members, ['mobile', 'guardian'], blockFor('s_g_guard'));
    assert.equal(r.round2?.kind, 'protocol', JSON.stringify(r.round2?.body));
    assert.equal(typeof r.round2?.body['share'], 'string');
  });

  // Review finding (A2): a party whose engine is wrapped (an asynchronous or HSM engine, the
  // test's faulty engine) re-ran its rules on the candidates when the wrapper did not pass on
  // the final set, and the guardian-less set above got a share.
  const mobileKey = keys.find((k) => k.partyId === 'mobile')!;
  const wrappedParty = (wrap: (role: PartySignerRole) => PartySignerRole) => {
    const wrapped = (engine: PartyEngine): PartyEngine => ({
      scheme: engine.scheme,
      keygenParticipant: (args) => engine.keygenParticipant(args),
      signer: (args) => wrap(engine.signer(args)),
    });
    const h = connectedParty('mobile', [mobileKey], {
      policy,
      engines: {
        ed25519: wrapped(engines.ed25519),
        bip340: wrapped(engines.bip340),
        secp256k1: wrapped(engines.secp256k1),
      },
    });
    after(() => h.close());
    return h;
  };
  const forwardAllBut = (role: PartySignerRole): PartySignerRole => ({
    start: () => role.start(),
    handle: (message) => role.handle(message),
    wipe: () => role.wipe(),
    oneTimeSecret: () => role.oneTimeSecret(),
  });

  test('an engine that cannot name the final set: a hedged sign-start is refused before any nonce', () => {
    const w = wrappedParty(forwardAllBut);
    const r = hedgedRun(w, keys, walletId)('s_w_bare', members, ['mobile', 'backend'], {
      ...blockFor('s_w_bare'),
    });
    assert.equal(r.round1?.kind, 'refuse', JSON.stringify(r.round1?.body));
    assert.equal(codeOf(r.round1)?.code, 'QUORATE_E_PARTY_REFUSED');
    assert.equal(codeOf(r.round1)?.hard, true);
    assert.equal(w.journal.nonces().filter((n) => n.sessionId === 's_w_bare').length, 0);
    assert.equal(w.party.activeSessions, 0);
  });

  test('the same engine still signs a sign-start that is not hedged', () => {
    const w = wrappedParty(forwardAllBut);
    const asked = ['mobile', 'guardian'];
    const r = hedgedRun(w, keys, walletId)('s_w_plain', asked, asked, {
      ...blockFor('s_w_plain'),
      quorumSize: 2,
    });
    assert.equal(r.round2?.kind, 'protocol', JSON.stringify(r.round2?.body));
  });

  test('a round that names no final set in a hedged session: refused, never the candidates', () => {
    const w = wrappedParty((role) => ({ ...forwardAllBut(role), finalSigners: () => undefined }));
    const r = hedgedRun(w, keys, walletId)('s_w_silent', members, ['mobile', 'backend'], {
      ...blockFor('s_w_silent'),
    });
    assertRefusedAndDropped(w, 's_w_silent', r, 'QUORATE_E_BAD_ENVELOPE', /not named/);
  });

  test('the faulty-engine wrapper passes the final set on: the guardian-less set is refused', () => {
    const env = realEnv({ logLevel: 'silent' });
    const w = connectedParty('mobile', [mobileKey], {
      policy,
      env,
      engines: faultyEngines(engines, env, {}),
    });
    after(() => w.close());
    const r = hedgedRun(w, keys, walletId)('s_w_faulty', members, ['mobile', 'backend'], {
      ...blockFor('s_w_faulty'),
    });
    assertRefusedAndDropped(w, 's_w_faulty', r, 'QUORATE_E_POLICY_DENIED', /guardian/);
  });
});
