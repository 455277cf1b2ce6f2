/**
 * What the REAL coordinator must make of t−1 malicious parties (parties mode), judged from its
 * answers and session records, beside the party-side invariants of check-adversary.ts:
 *
 * - **I5** every signing request ends `signed` or `failed` with a Quorate code (or is refused at
 *   admission with one); nothing hangs, nothing throws.
 * - **I4** a signed request's signature verifies under the wallet key, by a quorum of its parties.
 * - **BLAME-HONEST** no honest party is ever excluded from a session (blamed or refusing).
 * - **BLAME-CHEATER** every malicious party that sent a corrupted commitment or share in a session
 *   is excluded from it, unless the session still signed with a valid signature (corruptions
 *   that cancel out in the aggregate are harmless and undetectable there).
 * - **HONEST-QUORUM** when the wallet's honest parties are a quorum, the request is signed.
 * - **KEYGEN** a key generation a malicious party disrupted fails with `QUORATE_E_KEYGEN_FAILED`
 *   and creates no wallet; one where every party followed the protocol creates its wallet.
 *
 * Pure: the harness verifies signatures and hands in the verdicts.

 *
 * HONEST-QUORUM once found a real gap: a malicious party's invalid round-1 commitment was relayed
 * unchecked, the honest co-signer that could not decode it refused and was ranked last, and
 * nobody was blamed, so the coordinator spent whole sessions on quorums that included the cheater.
 * The aggregator now blames an invalid commitment (src/protocol/frost.ts).
 */

/** One signing request as the coordinator answered it. */
export interface SigningOutcome {
  walletId: string;
  threshold: number;
  parties: string[];
  /** The session id, or '' if admission refused it. */
  sessionId: string;
  /** The session's status, or `refused` if admission failed. */
  status: 'pending' | 'running' | 'signed' | 'failed' | 'refused';
  /** The failure's code (session error or admission refusal), if any. */
  code?: string;
  signers: string[];
  excluded: string[];
  /** True if the returned signature verifies under the wallet key (false if none). */
  signatureVerifies: boolean;
}

/** One key generation run through the coordinator. */
export interface KeygenOutcome {
  /** The malicious parties' attack on it, or '' if they followed the protocol. */
  attack: string;
  /** True if the attack really ran (the malicious parties acted on it). */
  attempted: boolean;
  created: boolean;
  code?: string;
}

/** Everything the outcome checks read about one run. */
export interface OutcomeCheckInput {
  malicious: string[];
  /** The malicious parties' attack while the requests were signed. */
  signingAttack: string;
  /** `${sessionId}|${partyId}` of each attempt a malicious party spoiled. */
  cheated: string[];
  requests: SigningOutcome[];
  keygens: KeygenOutcome[];
}

/** One broken expectation of the coordinator's handling. */
export interface OutcomeViolation {
  invariant: 'I4' | 'I5' | 'BLAME-HONEST' | 'BLAME-CHEATER' | 'HONEST-QUORUM' | 'KEYGEN';
  message: string;
  detail: Record<string, unknown>;
}

const isQuorateCode = (code: string | undefined): boolean =>
  code !== undefined && code.startsWith('QUORATE_E_');

/** Runs every outcome check. */
export function checkOutcomes(input: OutcomeCheckInput): OutcomeViolation[] {
  return [
    ...input.requests.flatMap((r) => checkRequest(input, r)),
    ...input.keygens.flatMap(checkKeygen),
  ];
}

function checkRequest(input: OutcomeCheckInput, r: SigningOutcome): OutcomeViolation[] {
  const out: OutcomeViolation[] = [];
  const bad = (invariant: OutcomeViolation['invariant'], message: string) =>
    out.push({ invariant, message, detail: { ...r } });
  const terminal = r.status === 'signed' || r.status === 'failed' || r.status === 'refused';
  if (!terminal || (r.status !== 'signed' && !isQuorateCode(r.code)))
    bad('I5', 'a signing request did not end signed or failed with a Quorate code');
  if (r.status === 'signed') {
    const quorum =
      new Set(r.signers).size === r.signers.length &&
      r.signers.length >= r.threshold &&
      r.signers.every((p) => r.parties.includes(p));
    if (!r.signatureVerifies || !quorum)
      bad('I4', 'a signed request has no valid signature by a quorum of the wallet');
  }
  const malicious = new Set(input.malicious);
  if (r.excluded.some((p) => !malicious.has(p)))
    bad('BLAME-HONEST', 'an honest party was excluded from a session');
  const cheaters = input.cheated
    .filter((c) => r.sessionId !== '' && c.startsWith(`${r.sessionId}|`))
    .map((c) => c.slice(r.sessionId.length + 1));
  // Spoiled shares that still add up to a valid signature (two cheaters whose changes cancel,
  // found at seed 938) harm nobody and show nothing to blame: FROST checks shares one by one
  // only when the aggregate fails.
  const harmless = r.status === 'signed' && r.signatureVerifies;
  if (!harmless && cheaters.some((p) => !r.excluded.includes(p)))
    bad('BLAME-CHEATER', 'a party that spoiled an attempt was not excluded');
  const honest = r.parties.filter((p) => !malicious.has(p)).length;
  if (honest >= r.threshold && r.status !== 'signed')
    bad('HONEST-QUORUM', 'the honest parties were a quorum, yet the request was not signed');
  return out;
}

function checkKeygen(k: KeygenOutcome): OutcomeViolation[] {
  const detail = { ...k };
  if (k.attempted && (k.created || k.code !== 'QUORATE_E_KEYGEN_FAILED'))
    return [
      {
        invariant: 'KEYGEN',
        message: 'a disrupted key generation did not fail with QUORATE_E_KEYGEN_FAILED',
        detail,
      },
    ];
  if (k.attack === '' && !k.created)
    return [
      { invariant: 'KEYGEN', message: 'an undisturbed key generation created no wallet', detail },
    ];
  return [];
}
