/**
 * The party's side of the key lifecycle against a hostile coordinator (src/party/lifecycle.ts):
 * which epoch frames may promote or erase a share, and which requests a staged share answers.
 * The attacks are those of the security review of issue 15: a proof-of-concept of each erased
 * or promoted a share before the fix (see the issue's note).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bytesToHex } from '@noble/hashes/utils.js';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { KeyShares } from '../../src/party/key-shares.ts';
import { activeShareAt, applyEpoch } from '../../src/party/lifecycle.ts';
import type { KeyShare } from '../../src/protocol/engine.ts';
import { runKeygen, runReshare } from '../../src/protocol/local-run.ts';
import { issueCertificate } from '../../src/transport/certificate.ts';
import { generateIdentity, signDetached, type IdentityKeys } from '../../src/transport/identity.ts';
import {
  promotionDomain,
  promotionStatement,
  type EpochBody,
  type EpochEvidence,
} from '../../src/transport/wire.ts';

const rng = (n: number) => new Uint8Array(randomBytes(n));
/** Sealing is not under test here: shares are kept as they are. */
const plainSealer = {
  seal: (_label: string, p: Uint8Array) => Buffer.from(p).toString('base64'),
  open: (_label: string, s: string) => new Uint8Array(Buffer.from(s, 'base64')),
};
const operator = generateIdentity(rng(64));
const identities = new Map<string, IdentityKeys>();
const identityOf = (p: string): IdentityKeys => {
  const known = identities.get(p) ?? generateIdentity(rng(64));
  identities.set(p, known);
  return known;
};
const certificateOf = (p: string) =>
  issueCertificate(
    operator.signSecret,
    operator.signPublic,
    {
      partyId: p,
      identityKey: bytesToHex(identityOf(p).signPublic),
      boxKey: bytesToHex(identityOf(p).boxPublic),
    },
    1,
  );

/** A party `partyId` holding `share`, with its identity and the operator key pinned (or not). */
function partyWith(share: KeyShare, pinned = true) {
  const shares = new KeyShares(new MemoryJournal(0), plainSealer);
  shares.put(share);
  const deps = {
    shares,
    partyId: share.partyId,
    identity: identityOf(share.partyId),
    operatorKey: pinned ? operator.signPublic : undefined,
  };
  return { shares, deps };
}

/** Promotions of `signers` for (wallet, op, epoch) naming `parties` and `threshold`. */
function evidenceOf(
  at: { walletId: string; operationId: string; epoch: number },
  fields: { threshold: number; parties: string[]; publicKey: string },
  signers: string[],
): EpochEvidence {
  const signatures: Record<string, string> = {};
  for (const p of signers) {
    const statement = promotionStatement({ ...at, ...fields, partyId: p });
    signatures[p] = bytesToHex(signDetached(promotionDomain, statement, identityOf(p).signSecret));
  }
  const certificates = Object.fromEntries(signers.map((p) => [p, certificateOf(p)]));
  return { ...fields, signatures, certificates };
}

const commit = (walletId: string, evidence?: EpochEvidence): EpochBody => ({
  walletId,
  operationId: 'op1',
  epoch: 1,
  action: 'commit',
  ...(evidence === undefined ? {} : { evidence }),
});

test('a retired party erases against signed promotions of both thresholds, and only then', () => {
  const old = runKeygen('ed25519', ['p1', 'p2', 'p3'], 2, rng);
  const { walletId, publicKey } = old[0]!;
  const { shares, deps } = partyWith(old[0]!);
  const fields = { threshold: 2, parties: ['p2', 'p3', 'p4'], publicKey };
  const at = { walletId, operationId: 'op1', epoch: 1 };
  // One promotion is below both thresholds (t−1 colluders cannot fake a new epoch).
  assert.throws(
    () => applyEpoch(deps, commit(walletId, evidenceOf(at, fields, ['p4']))),
    /QUORATE_E_STALE_EPOCH|fewer promotions/,
  );
  // Promotions signed for another operation do not verify for this one.
  const other = evidenceOf({ ...at, operationId: 'op0' }, fields, ['p2', 'p4']);
  assert.throws(() => applyEpoch(deps, commit(walletId, other)), /does not verify/);
  // Signers that are not of the new epoch do not count.
  const outsiders = evidenceOf(at, { ...fields, parties: ['p2', 'p3', 'p4'] }, ['p2', 'x9']);
  assert.throws(
    () => applyEpoch(deps, commit(walletId, outsiders)),
    /not a party of the new epoch/,
  );
  // Another group key: refused.
  const wrongKey = evidenceOf(at, { ...fields, publicKey: '00'.repeat(32) }, ['p2', 'p4']);
  assert.throws(() => applyEpoch(deps, commit(walletId, wrongKey)), /another group key/);
  // No evidence at all: refused.
  assert.throws(() => applyEpoch(deps, commit(walletId)), /no evidence/);
  assert.equal(shares.has(walletId), true, 'the share survived every refusal');
  const ack = applyEpoch(deps, commit(walletId, evidenceOf(at, fields, ['p2', 'p4'])));
  assert.equal(ack.outcome, 'erased');
  assert.equal(shares.has(walletId), false);
});

test('a party with no operator key pinned never erases on evidence', () => {
  const old = runKeygen('bip340', ['p1', 'p2', 'p3'], 2, rng);
  const { walletId, publicKey } = old[0]!;
  const { shares, deps } = partyWith(old[0]!, false);
  const fields = { threshold: 2, parties: ['p2', 'p3', 'p4'], publicKey };
  const evidence = evidenceOf({ walletId, operationId: 'op1', epoch: 1 }, fields, ['p2', 'p4']);
  assert.throws(() => applyEpoch(deps, commit(walletId, evidence)), /no operator key pinned/);
  assert.equal(shares.has(walletId), true);
});

test('a party of the new epoch only promotes: after an abandon, a commit erases nothing', () => {
  const old = runKeygen('ed25519', ['p1', 'p2', 'p3'], 2, rng);
  const { walletId, publicKey } = old[0]!;
  const fresh = runReshare(old, ['p2', 'p3'], ['p1', 'p2', 'p3'], 2, rng);
  const { shares, deps } = partyWith(old[0]!);
  shares.stage({ operationId: 'op1', share: fresh[0]! });
  const abandon: EpochBody = { walletId, operationId: 'op1', epoch: 1, action: 'abandon' };
  assert.equal(applyEpoch(deps, abandon).outcome, 'erased');
  assert.equal(shares.staged(walletId), undefined);
  const fields = { threshold: 2, parties: ['p1', 'p2', 'p3'], publicKey };
  const evidence = evidenceOf({ walletId, operationId: 'op1', epoch: 1 }, fields, ['p2', 'p3']);
  assert.throws(() => applyEpoch(deps, commit(walletId, evidence)), /of the new epoch/);
  assert.equal(shares.get(walletId).epoch ?? 0, 0, 'the epoch-0 share is still active');
});

test('a staged share becomes active by its own commit only, and signs a promotion', () => {
  const old = runKeygen('ed25519', ['p1', 'p2', 'p3'], 2, rng);
  const { walletId } = old[0]!;
  const fresh = runReshare(old, ['p2', 'p3'], ['p1', 'p2', 'p3'], 2, rng);
  const { shares, deps } = partyWith(old[0]!);
  shares.stage({ operationId: 'op1', share: fresh[0]! });
  // A sign request naming the staged epoch is refused (softly) and promotes nothing.
  assert.throws(() => activeShareAt(shares, walletId, 1), /not committed here yet/);
  assert.equal(shares.get(walletId).epoch ?? 0, 0);
  // Another operation's commit for the same epoch number does not promote this staged share.
  const otherOp = { ...commit(walletId), operationId: 'op2' };
  assert.throws(() => applyEpoch(deps, otherOp), /no evidence/);
  assert.equal(shares.get(walletId).epoch ?? 0, 0);
  const ack = applyEpoch(deps, commit(walletId));
  assert.equal(ack.outcome, 'promoted');
  assert.match(ack.promotion ?? '', /^[0-9a-f]{128}$/);
  assert.equal(activeShareAt(shares, walletId, 1).epoch, 1);
  assert.throws(() => activeShareAt(shares, walletId, 0), /QUORATE_E_STALE_EPOCH|not the active/);
  // A repeated commit (its acknowledgement lost) signs the promotion again.
  const again = applyEpoch(deps, commit(walletId));
  assert.equal(again.outcome, 'kept');
  assert.equal(again.promotion, ack.promotion);
});
