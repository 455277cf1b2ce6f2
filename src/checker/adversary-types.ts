/**
 * What the adversarial harness records for the checker (check-adversary.ts): the shares honest
 * parties released and the verdict of their own rules on each request, the key shares parties
 * stored (activated), the keygens and how they ended, and what the adversary obtained and tried
 * with it (opened boxes, reconstructions, forgeries). Shapes only; no runtime imports.
 */

/** The party's own rules on one sign request, as the harness's judge reads them. */
export interface SignVerdict {
  /** True if the wallet is governed (the party's rules apply). */
  governed: boolean;
  /** True if the party's own rules allow the request as it was put to the party. */
  permitted: boolean;
  /** Why not, or which rule allowed it. */
  reason: string;
  /**
   * True if what refuses it is the party's own check of the final signer set (hedged first
   * round: a subset of the parties asked, itself included, the agreed size), which applies to
   * every wallet, governed or not.
   */
  structural?: boolean;
}

/** One signature share a party sent (observed on its link). */
export interface AdversaryRelease extends SignVerdict {
  partyId: string;
  honest: boolean;
  sessionId: string;
  attempt: number;
  walletId: string;
  messageHash: string;
  /** The party's round-1 commitment (hiding‖binding hex) in that attempt; '' if unseen. */
  commitment: string;
  /** The share (hex). */
  share: string;
}

/** A key share a party stored: the wallet became active at that party. */
export interface AdversaryActivation {
  partyId: string;
  honest: boolean;
  walletId: string;
  publicKey: string;
  /** sha256 of the canonical public package the party stored. */
  packageHash: string;
}

/** A key generation the harness started, and how it ended. */
export interface AdversaryKeygen {
  walletId: string;
  /** The attacks run against it ('' for none). */
  attacks: string[];
  outcome: 'active' | 'aborted';
  /** Why it was aborted (the refusals seen), if it was. */
  note: string;
}

/**
 * A sealed box the adversary opened: a plaintext DKG share (a polynomial evaluation), or (ecdsa)
 * a signer's message to another signer.
 */
export interface OpenedShare {
  walletId: string;
  /** The dealer whose polynomial it evaluates (ecdsa: the signer that sealed it). */
  dealer: string;
  /** The party it was sealed to. */
  recipient: string;
  /** True if the recipient is one of the adversary's own parties (it may read those). */
  ownRecipient: boolean;
}

/** An attempt to rebuild a wallet's group secret from what the adversary holds. */
export interface Reconstruction {
  walletId: string;
  /** Plaintext values used (own shares and opened boxes). */
  sharesUsed: number;
  /** True if the rebuilt secret's public key is the wallet's group key. */
  matched: boolean;
}

/** A signature the adversary produced without the parties' agreement, and whether it verifies. */
export interface Forgery {
  walletId: string;
  messageHash: string;
  /**
   * How it was made: aggregated collected shares, signed with a rebuilt secret, or (ecdsa) t
   * signers' round-3 broadcasts combined as phase 4 does.
   */
  method: 'aggregate' | 'reconstructed-key' | 'ecdsa-combine';
  verified: boolean;
  /**
   * ecdsa-combine: whether every signer whose broadcast went into it was given this message. A
   * signature that verifies on a message some contributor was not given is a forgery even if
   * another honest party agreed to the message.
   */
  everyContributorAgreed?: boolean;
}

/** What the adversary holds at the end and what it tried. */
export interface AdversaryLoot {
  openedShares: OpenedShare[];
  reconstructions: Reconstruction[];
  forgeries: Forgery[];
}

/** Everything the adversarial checker reads about one run. */
export interface AdversaryCheckInput {
  seed: number;
  mode: 'coordinator' | 'parties';
  /** Threshold of each wallet the run used, by wallet id. */
  thresholds: Record<string, number>;
  releases: AdversaryRelease[];
  activations: AdversaryActivation[];
  keygens: AdversaryKeygen[];
  loot: AdversaryLoot;
  /** Errors thrown by callbacks of the run (a real process would have crashed). */
  crashes: string[];
  /**
   * Commitments and shares an honest party sent under a token lower than one it had already
   * received for that session in a valid sign-start or discard (seen at its link). Optional:
   * inputs recorded before this check existed have none.
   */
  staleActions?: AdversaryStaleAction[];
}

/** An honest party's commitment or share under a token below one it had received (I3). */
export interface AdversaryStaleAction {
  partyId: string;
  sessionId: string;
  round: number;
  token: number;
  highestReceived: number;
}

/** One broken invariant of an adversarial run. */
export interface AdversaryViolation {
  invariant: 'A1' | 'A2' | 'A3' | 'I2' | 'I3' | 'I7' | 'CRASH';
  message: string;
  detail: Record<string, unknown>;
}
