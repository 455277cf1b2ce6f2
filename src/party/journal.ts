/**
 * A party's durable journal: the nonce ledger, intent locks, highest fencing token per session,
 * sealed key shares, and pinned coordinator keys. The ledger holds every engine's one-time
 * secrets (nonces) by their public id and state only; the secrets themselves live in memory
 * only (ARCHITECTURE §3 step 6), so a restarted party cannot reuse one: every `issued` entry
 * becomes `void` on open. The driver keeps the order (src/party/secret-ledger.ts): recorded
 * before anything derived leaves, consumed before the spending step runs (I2).
 */

/** Nonce ledger states. `issued` → `consumed` (spending step run) or `discarded`/`void`. */
export type NonceState = 'issued' | 'consumed' | 'discarded' | 'void';

/** A nonce ledger row (no secrets). */
export interface NonceEntry {
  /**
   * The one-time secret's public id, as its engine names it (FROST: the round-1 commitment,
   * hiding‖binding hex). Named `commitment` on disk and in the checker's view.
   */
  commitment: string;
  sessionId: string;
  attempt: number;
  token: number;
  state: NonceState;
  issuedMs: number;
  closedMs?: number;
}

/**
 * Result of asking for the intent lock. `lockedMessageHash` is the value the intent is bound to
 * (see {@link PartyJournal.lockIntent}); the name predates context binding.
 */
export type IntentLockResult = { ok: true } | { ok: false; lockedMessageHash: string };

/** The journal contract (synchronous: it is local and every call is a durable commit). */
export interface PartyJournal {
  /**
   * Takes or confirms the lock `(walletId, intentKey) → value`. The value is what the intent is
   * bound to (`intentLockValue` in signing.ts): the message hash for an ungoverned wallet, a
   * digest of the message hash and the policy context for a governed one. The parameter and the
   * SQLite column keep the name `messageHash` so that existing journals read unchanged.
   */
  lockIntent(
    walletId: string,
    intentKey: string,
    messageHash: string,
    sessionId: string,
  ): IntentLockResult;
  /**
   * Raises the highest token seen for `sessionId` to `token`; false (and no change) if a
   * higher token was already seen (I3).
   */
  observeToken(sessionId: string, token: number, nowMs: number): boolean;
  highestToken(sessionId: string): number;
  /** Records a freshly issued one-time secret; false if its id was ever recorded (RNG fault). */
  recordNonce(entry: Omit<NonceEntry, 'state' | 'closedMs'>): boolean;
  /**
   * Moves `issued → consumed` durably. Called before the step that spends the secret runs, so
   * before anything derived from that step leaves the process. Returns false if the entry is
   * not `issued` (already used, discarded or void): the secret must then never be used.
   */
  consumeNonce(secretId: string, nowMs: number): boolean;
  /** Moves every `issued` one-time secret of a session (or of one attempt) to `discarded`. */
  discardNonces(sessionId: string, nowMs: number, attempt?: number): number;
  nonces(): NonceEntry[];
  countIssued(): number;
  putSealedShare(walletId: string, sealed: string): void;
  getSealedShare(walletId: string): string | undefined;
  /** Erases a sealed share (its row overwritten on disk: `secure_delete`); true iff one was there. */
  deleteSealedShare(walletId: string): boolean;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  /** Drops token/nonce bookkeeping for sessions idle since `beforeMs` (closed nonces are kept). */
  expireSessionsBefore(beforeMs: number): number;
  close(): void;
  /**
   * Runs `fn` with every journal write it makes in one durable transaction: one sync to disk
   * instead of one per write. Committed before it returns, also when `fn` throws (what `fn`
   * wrote before throwing stays, so an observed token is never forgotten); a failed commit
   * throws. The caller holds back every message derived from those writes until it returns
   * (src/party/runtime.ts). Optional: a journal without it commits each write on its own.
   *
   * A journal may commit without a sync to disk when `fn` wrote only the end of memory-only
   * secrets (`consumeNonce`, `discardNonces`) and its op log: a crash that loses such a record
   * loses the secret with it (the secrets never touch disk, ARCHITECTURE §3 steps 6-7), so no
   * nonce can be used again either way (and a reopened journal voids every `issued` entry, so
   * an engine whose secret outlives the process, an HSM, cannot use it again either). Every
   * other write is synced before this returns. A journal that ever persists a secret
   * (preprocessing) must sync its consumption too.
   */
  atomically?(fn: () => void): void;
}
