/**
 * The adversarial invariants (ARCHITECTURE §4) over what the harness recorded of one run:
 *
 * - **A1** the adversary never holds a plaintext share of an honest party nor enough to sign:
 *   no box it opened held an honest party's DKG share, no reconstruction of a group secret
 *   matched the group key, no signature it made verifies on a message no honest party agreed to
 *   (released a share for), nor (ecdsa) on a message some signer whose broadcast went into it
 *   was not given.
 * - **A2** no honest party released a signature share for a governed wallet that its own rules
 *   refuse (the judge's verdict on the request as the party received it, on the final signer
 *   set of a hedged round), nor under a final signer set its own check refuses (any wallet).
 * - **I2** no honest party released two shares under one commitment (nonce).
 * - **A3** no wallet is active (stored) at two honest parties with different public keys or
 *   public packages.
 * - **I3** no honest party sent a commitment or share under a token lower than one it had
 *   already received for that session in a valid sign-start or discard (seen at its link, so a
 *   token the party holds only in memory, a parked hedge start's, counts too).
 *
 * Pure: no I/O, no clock. Aborted keygens are not violations; the harness notes them.
 */
import type { AdversaryCheckInput, AdversaryViolation } from './adversary-types.ts';

/** Runs A1, A2, I2, A3 and I3, and reports every crash of the run. */
export function checkAdversary(input: AdversaryCheckInput): AdversaryViolation[] {
  return [
    ...checkA1(input),
    ...checkA2(input),
    ...checkNonceReuse(input),
    ...checkA3(input),
    ...(input.staleActions ?? []).map((a): AdversaryViolation => ({
      invariant: 'I3',
      message: `party acted on token ${a.token} after receiving ${a.highestReceived}`,
      detail: { ...a },
    })),
    ...input.crashes.map((crash): AdversaryViolation => ({
      invariant: 'CRASH',
      message: 'a callback threw',
      detail: { crash },
    })),
  ];
}

/** A1: nothing secret opened, nothing rebuilt, nothing forged. */
function checkA1(input: AdversaryCheckInput): AdversaryViolation[] {
  const violations: AdversaryViolation[] = [];
  for (const opened of input.loot.openedShares) {
    if (opened.ownRecipient) continue;
    violations.push({
      invariant: 'A1',
      message:
        'the adversary opened a box sealed to an honest party (a DKG share or a signing message)',
      detail: { ...opened },
    });
  }
  for (const r of input.loot.reconstructions) {
    if (!r.matched) continue;
    violations.push({
      invariant: 'A1',
      message: 'the adversary rebuilt a wallet group secret',
      detail: { ...r },
    });
  }
  const agreed = new Set(
    input.releases.filter((r) => r.honest).map((r) => `${r.walletId}|${r.messageHash}`),
  );
  for (const f of input.loot.forgeries) {
    const unagreed =
      !agreed.has(`${f.walletId}|${f.messageHash}`) || f.everyContributorAgreed === false;
    if (!f.verified || !unagreed) continue;
    violations.push({
      invariant: 'A1',
      message: 'the adversary made a valid signature on a message no honest party agreed to',
      detail: { ...f },
    });
  }
  return violations;
}

/** A2: every share an honest party released for a governed wallet passed its own rules. */
function checkA2(input: AdversaryCheckInput): AdversaryViolation[] {
  return input.releases
    .filter((r) => r.honest && !r.permitted && (r.governed || r.structural === true))
    .map((r) => ({
      invariant: 'A2' as const,
      message: 'an honest party released a share its own rules refuse',
      detail: {
        partyId: r.partyId,
        sessionId: r.sessionId,
        attempt: r.attempt,
        walletId: r.walletId,
        reason: r.reason,
      },
    }));
}

/** I2: at most one share per (honest party, commitment); a release with no commitment seen too. */
function checkNonceReuse(input: AdversaryCheckInput): AdversaryViolation[] {
  const violations: AdversaryViolation[] = [];
  const seen = new Map<string, { sessionId: string; attempt: number }>();
  for (const r of input.releases) {
    if (!r.honest) continue;
    const key = `${r.partyId}|${r.commitment}`;
    const first = seen.get(key);
    if (r.commitment === '' || first) {
      violations.push({
        invariant: 'I2',
        message:
          r.commitment === ''
            ? 'a share left without a commitment from the same attempt'
            : 'an honest party released two shares under one commitment',
        detail: { partyId: r.partyId, commitment: r.commitment, first, second: r },
      });
      continue;
    }
    seen.set(key, { sessionId: r.sessionId, attempt: r.attempt });
  }
  return violations;
}

/** A3: one public key and package per wallet among the honest parties that activated it. */
function checkA3(input: AdversaryCheckInput): AdversaryViolation[] {
  const views = new Map<string, Map<string, string[]>>();
  for (const a of input.activations) {
    if (!a.honest) continue;
    const byView = views.get(a.walletId) ?? new Map<string, string[]>();
    const view = `${a.publicKey}|${a.packageHash}`;
    byView.set(view, [...(byView.get(view) ?? []), a.partyId]);
    views.set(a.walletId, byView);
  }
  const violations: AdversaryViolation[] = [];
  for (const [walletId, byView] of views) {
    if (byView.size <= 1) continue;
    violations.push({
      invariant: 'A3',
      message: 'honest parties activated one wallet with different keys',
      detail: { walletId, views: Object.fromEntries(byView) },
    });
  }
  return violations;
}
