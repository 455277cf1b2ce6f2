/**
 * The trust anchor in key generation (issue 12 finding 2, A1 and A3), on real party runtimes
 * driven by a coordinator double that plays honest or malicious:
 * - a coordinator that substitutes its own box keys used to open and re-seal every round-2 share
 *   (the whole key, since t < n); parties that pin an operator key now refuse before sealing;
 * - the transcript confirmation: a share is stored only once every party's signed confirmation
 *   names the same transcript.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bytesToHex } from '@noble/hashes/utils.js';
import { readFileSync } from 'node:fs';
import { realEnv } from '../../src/core/env.ts';
import type { PartyOptions } from '../../src/party/runtime.ts';
import { loadPolicyWithRules } from '../../src/policy/rules/index.ts';
import type { KeyShare, Payload } from '../../src/protocol/engine.ts';
import { createSealer } from '../../src/protocol/sealed-box.ts';
import { issueCertificate, type PartyCertificate } from '../../src/transport/certificate.ts';
import { generateIdentity, type IdentityKeys } from '../../src/transport/identity.ts';
import {
  buildKeygenStart,
  buildProtocol,
  keygenActivateRound,
  keygenConfirmRound,
  validateRefuse,
  type Envelope,
  type KeygenStartBody,
} from '../../src/transport/wire.ts';
import { connectedParty, testRng, type PartyHarness } from '../helpers/party-harness.ts';

let parties = ['alpha', 'beta', 'gamma'];
const walletId = 'w-trust';
const keygenId = 'kg-trust';
const at = { sessionId: keygenId, attempt: 1, token: 1 };

interface Fixture {
  operator: IdentityKeys;
  identities: Record<string, IdentityKeys>;
  certificates: Record<string, PartyCertificate>;
  harnesses: Record<string, PartyHarness>;
}

function certify(operator: IdentityKeys, partyId: string, id: IdentityKeys): PartyCertificate {
  const subject = {
    partyId,
    identityKey: bytesToHex(id.signPublic),
    boxKey: bytesToHex(id.boxPublic),
  };
  return issueCertificate(operator.signSecret, operator.signPublic, subject, 1_700_000_000_000);
}

function fixture(anchored: boolean, extra: Partial<PartyOptions> = {}): Fixture {
  const operator = generateIdentity(testRng(64));
  const identities: Record<string, IdentityKeys> = {};
  const certificates: Record<string, PartyCertificate> = {};
  const harnesses: Record<string, PartyHarness> = {};
  for (const partyId of parties) {
    const identity = generateIdentity(testRng(64));
    identities[partyId] = identity;
    certificates[partyId] = certify(operator, partyId, identity);
  }
  for (const partyId of parties) {
    const certificate = certificates[partyId] as PartyCertificate;
    harnesses[partyId] = connectedParty(partyId, [], {
      env: realEnv({ logLevel: 'silent' }),
      identity: identities[partyId] as IdentityKeys,
      ...(anchored ? { trust: { operatorKey: operator.signPublic, certificate } } : {}),
      ...extra,
    });
  }
  return { operator, identities, certificates, harnesses };
}

const harnessOf = (f: Fixture, p: string): PartyHarness => f.harnesses[p] as PartyHarness;

function startBody(f: Fixture, overrides: Partial<KeygenStartBody> = {}): KeygenStartBody {
  const boxKeys = Object.fromEntries(
    parties.map((p) => [p, bytesToHex((f.identities[p] as IdentityKeys).boxPublic)]),
  );
  return {
    walletId,
    scheme: 'bip340',
    threshold: 2,
    parties,
    boxKeys,
    certificates: f.certificates,
    ...overrides,
  };
}

const protocolOf = (answers: Envelope[], round: number): Payload | undefined =>
  answers.find((e) => e.kind === 'protocol' && e.round === round)?.body;

const refusalOf = (answers: Envelope[]) => {
  const refuse = answers.find((e) => e.kind === 'refuse');
  if (!refuse) return undefined;
  const body = validateRefuse(refuse.body);
  assert.ok(body.ok, 'refusal body valid');
  return body.value;
};

/** Runs the engine's rounds 1–3 as an honest relay; returns each party's round-3 answers. */
function runEngineRounds(
  f: Fixture,
  body: KeygenStartBody | ((partyId: string) => KeygenStartBody),
): Record<string, Envelope[]> {
  const round1: Record<string, Payload> = {};
  for (const p of parties) {
    const start = typeof body === 'function' ? body(p) : body;
    const answers = harnessOf(f, p).send(buildKeygenStart(keygenId, start));
    const payload = protocolOf(answers, 1);
    assert.ok(payload, `${p} sent its round-1 package`);
    round1[p] = payload;
  }
  const sealedBy: Record<string, Record<string, string>> = {};
  for (const p of parties) {
    const answers = harnessOf(f, p).send(buildProtocol(at, 2, { round1 }));
    const payload = protocolOf(answers, 2);
    assert.ok(payload, `${p} sent its sealed shares`);
    sealedBy[p] = payload['sealed'] as Record<string, string>;
  }
  const last: Record<string, Envelope[]> = {};
  for (const to of parties) {
    const boxes = Object.fromEntries(
      parties.filter((from) => from !== to).map((from) => [from, sealedBy[from]?.[to]]),
    );
    last[to] = harnessOf(f, to).send(buildProtocol(at, 3, { sealed: boxes }));
  }
  return last;
}

test('finding 2: a coordinator that substitutes its own box keys gets no share: anchored parties refuse before sealing', () => {
  const f = fixture(true);
  const adversary = generateIdentity(testRng(64));
  const substituted = Object.fromEntries(parties.map((p) => [p, bytesToHex(adversary.boxPublic)]));
  let opened = 0;
  let refusedUntrusted = 0;
  // The attack as reproduced on main: keygen-start with the adversary's box keys, the genuine
  // certificates relayed beside them (they no longer match), then open whatever gets sealed.
  const round1: Record<string, Payload> = {};
  for (const p of parties) {
    const answers = harnessOf(f, p).send(
      buildKeygenStart(keygenId, startBody(f, { boxKeys: substituted })),
    );
    const refusal = refusalOf(answers);
    if (refusal?.code === 'QUORATE_E_UNTRUSTED_PEER') refusedUntrusted += 1;
    const payload = protocolOf(answers, 1);
    if (payload) round1[p] = payload;
  }
  for (const p of Object.keys(round1)) {
    const answers = harnessOf(f, p).send(buildProtocol(at, 2, { round1 }));
    const sealed = (protocolOf(answers, 2)?.['sealed'] ?? {}) as Record<string, string>;
    for (const [to, box] of Object.entries(sealed)) {
      const opener = createSealer({
        context: `${walletId}|${keygenId}`,
        self: to,
        boxSecret: adversary.boxSecret,
        peerBoxKeys: { [p]: bytesToHex((f.identities[p] as IdentityKeys).boxPublic) },
        randomBytes: testRng,
      });
      try {
        opener.open(p, box);
        opened += 1;
      } catch {
        // not readable by the adversary
      }
    }
  }
  assert.equal(opened, 0, 'the adversary opened no sealed share');
  assert.equal(refusedUntrusted, parties.length, 'every party refused with UNTRUSTED_PEER');
  for (const p of parties) harnessOf(f, p).close();
});

test('a keygen-start whose certificates are missing, forged or of another operator is refused', () => {
  const f = fixture(true);
  const rogue = generateIdentity(testRng(64));
  const adversary = generateIdentity(testRng(64));
  const forgedBeta = certify(rogue, 'beta', adversary);
  const cases: [string, Partial<KeygenStartBody>][] = [
    ['no certificates', { certificates: {} }],
    [
      'a rogue operator certifies the adversary key',
      {
        certificates: { ...f.certificates, beta: forgedBeta },
        boxKeys: { ...startBody(f).boxKeys, beta: bytesToHex(adversary.boxPublic) },
      },
    ],
    [
      "alpha's certificate under beta's name",
      { certificates: { ...f.certificates, beta: f.certificates['alpha'] as PartyCertificate } },
    ],
  ];
  for (const [name, overrides] of cases) {
    for (const p of parties) {
      const answers = harnessOf(f, p).send(
        buildKeygenStart(`${keygenId}-${name.length}`, startBody(f, overrides)),
      );
      const refusal = refusalOf(answers);
      assert.ok(refusal, `${name}: ${p} refused`);
      assert.ok(
        refusal.code === 'QUORATE_E_UNTRUSTED_PEER' || refusal.code === 'QUORATE_E_BAD_ENVELOPE',
        `${name}: ${p} refused with ${refusal.code}`,
      );
      assert.equal(protocolOf(answers, 1), undefined, `${name}: ${p} sent nothing of the DKG`);
    }
  }
  for (const p of parties) harnessOf(f, p).close();
});

test('anchored parties finish an honest key generation only after every confirmation checks', () => {
  const f = fixture(true);
  const last = runEngineRounds(f, startBody(f));
  const confirmations: Record<string, Payload> = {};
  for (const p of parties) {
    const confirm = protocolOf(last[p] ?? [], keygenConfirmRound);
    assert.ok(confirm, `${p} confirmed`);
    confirmations[p] = confirm['confirm'] as Payload;
    assert.equal(harnessOf(f, p).journal.getSealedShare(walletId), undefined, 'not stored yet');
  }
  const keys = new Set<string>();
  for (const p of parties) {
    const answers = harnessOf(f, p).send(buildProtocol(at, keygenActivateRound, { confirmations }));
    assert.ok(protocolOf(answers, keygenActivateRound), `${p} acknowledged`);
    const stored = harnessOf(f, p).journal.getSealedShare(walletId);
    assert.ok(stored, `${p} stored its share`);
    const share = JSON.parse(Buffer.from(stored, 'hex').toString('utf8')) as KeyShare;
    keys.add(share.publicKey);
  }
  assert.equal(keys.size, 1, 'one group key');
  for (const p of parties) harnessOf(f, p).close();
});

test('equivocated or forged confirmations: no party stores a share', () => {
  const f = fixture(true);
  const last = runEngineRounds(f, startBody(f));
  const confirmations: Record<string, Record<string, string>> = {};
  for (const p of parties)
    confirmations[p] = protocolOf(last[p] ?? [], keygenConfirmRound)?.['confirm'] as Record<
      string,
      string
    >;
  const beta = confirmations['beta'] as Record<string, string>;
  const otherTranscript = bytesToHex(testRng(32));
  // To alpha: beta "confirmed" another transcript (a forged signature: beta never signed it).
  const forged = { ...confirmations, beta: { ...beta, transcript: otherTranscript } };
  const toAlpha = harnessOf(f, 'alpha').send(
    buildProtocol(at, keygenActivateRound, { confirmations: forged }),
  );
  assert.equal(refusalOf(toAlpha)?.code, 'QUORATE_E_UNTRUSTED_PEER');
  // To gamma: only two of three confirmations.
  const { gamma: _dropped, ...short } = confirmations;
  const toGamma = harnessOf(f, 'gamma').send(
    buildProtocol(at, keygenActivateRound, { confirmations: short }),
  );
  assert.equal(refusalOf(toGamma)?.code, 'QUORATE_E_UNTRUSTED_PEER');
  for (const p of ['alpha', 'gamma'])
    assert.equal(harnessOf(f, p).journal.getSealedShare(walletId), undefined, `${p} stored none`);
  for (const p of parties) harnessOf(f, p).close();
});

describe("the wallet rules come from each party's own policy, not from the coordinator", () => {
  const policy = loadPolicyWithRules(
    readFileSync(new URL('../../examples/policies/rules-retail.yaml', import.meta.url), 'utf8'),
  );
  const retail = ['mobile', 'backend', 'guardian'];
  const refusedEverywhere = (f: Fixture, body: KeygenStartBody, id: string) => {
    for (const p of parties) {
      const answers = harnessOf(f, p).send(buildKeygenStart(id, body));
      assert.equal(refusalOf(answers)?.code, 'QUORATE_E_POLICY_DENIED', `${p} refused`);
      assert.equal(protocolOf(answers, 1), undefined, `${p} sent nothing of the DKG`);
    }
  };

  test('a party that enforces a policy refuses a wallet without a tier, or one the tier does not define', () => {
    parties = retail;
    const f = fixture(true, { policy });
    refusedEverywhere(f, startBody(f), 'kg-no-tier');
    refusedEverywhere(f, startBody(f, { tier: 'retail-2of3', threshold: 3 }), 'kg-threshold');
    for (const p of parties) harnessOf(f, p).close();
    // With --allow-ungoverned its operator accepts wallets without a tier.
    const open = fixture(true, { policy, allowUngoverned: true });
    for (const p of parties) {
      const answers = harnessOf(open, p).send(buildKeygenStart('kg-open', startBody(open)));
      assert.ok(protocolOf(answers, 1), `${p} takes part`);
      harnessOf(open, p).close();
    }
  });

  test('parties told different tiers confirm different transcripts: none stores a share', () => {
    parties = retail;
    const f = fixture(true, { policy, allowUngoverned: true });
    // mobile is told the wallet is governed; backend and guardian that it is not.
    const bodyFor = (p: string) =>
      p === 'mobile' ? startBody(f, { tier: 'retail-2of3' }) : startBody(f);
    const last = runEngineRounds(f, bodyFor);
    const confirmations = Object.fromEntries(
      parties.map((p) => [p, protocolOf(last[p] ?? [], keygenConfirmRound)?.['confirm']]),
    );
    for (const p of parties) {
      const answers = harnessOf(f, p).send(
        buildProtocol(at, keygenActivateRound, { confirmations }),
      );
      assert.equal(refusalOf(answers)?.code, 'QUORATE_E_UNTRUSTED_PEER', `${p} refused`);
      assert.equal(harnessOf(f, p).journal.getSealedShare(walletId), undefined, `${p} stored none`);
      harnessOf(f, p).close();
    }
  });
});
