/**
 * The generic, round-based protocol engine interface. A protocol run is split into roles
 * (each party, and the coordinator that relays and aggregates). A role is a pure state
 * machine: `start()` then `handle(message)` repeatedly; each call returns the messages to
 * send plus, at the end, a result or an abort that names the blamed parties. Roles never do
 * I/O, so the same engine runs over WebSocket, in the simulator and in benchmarks.
 *
 * The shape fits multi-round protocols (threshold ECDSA): a party role addresses the
 * coordinator's role; a message meant for another party travels sealed to its recipient (the
 * {@link ShareSealer} every party role gets) and the coordinator's role relays it unread, as
 * FROST's DKG does with its round-2 shares. A round may repeat any number of times.
 *
 * One-time secrets (nonces) are the engine's to name: a signer role says which secret it holds
 * and at which round it is spent ({@link OneTimeSecret}), and the party's journal records it
 * before anything derived from it leaves and consumes it durably before that round runs (I2).
 */

/** Signature schemes Quorate serves. */
export type Scheme = 'ed25519' | 'bip340' | 'secp256k1' | 'ecdsa';
export const schemes: readonly Scheme[] = ['ed25519', 'bip340', 'secp256k1', 'ecdsa'];
/** The FROST schemes (the engines src/protocol/frost.ts builds). */
export type FrostScheme = Exclude<Scheme, 'ecdsa'>;
export const frostSchemes: readonly FrostScheme[] = ['ed25519', 'bip340', 'secp256k1'];

/** The coordinator's role id in protocol messages. */
export const coordinatorRole = 'coordinator';

/** JSON-serialisable payload (hex strings for bytes). */
export type Payload = { readonly [key: string]: unknown };

/** One protocol message between roles. */
export interface ProtocolMessage {
  from: string;
  to: string;
  round: number;
  payload: Payload;
}

/** Why a role gave up, and whom it blames (possibly nobody). */
export interface ProtocolAbort {
  reason: string;
  blamed: string[];
  evidence: Record<string, unknown>;
}

/** What one call into a role produced. */
export type ProtocolStep<Result> =
  | { kind: 'continue'; outgoing: ProtocolMessage[] }
  | { kind: 'done'; outgoing: ProtocolMessage[]; result: Result }
  | { kind: 'abort'; outgoing: ProtocolMessage[]; abort: ProtocolAbort };

/** The step that gives up: nothing sent, and who is blamed (possibly nobody) with evidence. */
export function abortWith<Result>(
  reason: string,
  blamed: string[],
  evidence: Record<string, unknown>,
): ProtocolStep<Result> {
  return { kind: 'abort', outgoing: [], abort: { reason, blamed, evidence } };
}

/** A role in a protocol run. */
export interface ProtocolRole<Result> {
  /** Round the role is waiting on (1-based); 0 before start, -1 when finished. */
  readonly round: number;
  start(): ProtocolStep<Result>;
  handle(message: ProtocolMessage): ProtocolStep<Result>;
  /** Best-effort erasure of any secret state (nonces, polynomial coefficients). */
  wipe(): void;
}

/** A party's long-lived key share for one wallet (secret parts must be encrypted at rest). */
export interface KeyShare {
  scheme: Scheme;
  walletId: string;
  partyId: string;
  threshold: number;
  parties: string[];
  /** Serialized FROST public package (hex fields). */
  publicPackage: Payload;
  /** Serialized secret package (hex). Never logged, never persisted in plaintext. */
  secretPackage: Payload;
  /** Group public key in the scheme's wire format (hex). */
  publicKey: string;
  /** Policy tier governing the wallet, recorded at key generation (absent: ungoverned). */
  tier?: string;
  /**
   * The key epoch this share belongs to (absent: 0, the key generation's). Refresh and reshare
   * make the next epoch's shares; a party signs only with its active epoch (docs/key-lifecycle.md).
   */
  epoch?: number;
}

/**
 * Authenticated encryption of a party-to-party message to one recipient (injected by the
 * runtime; src/protocol/sealed-box.ts): DKG secret shares, and any multi-round engine's
 * private messages. The coordinator relays sealed messages but cannot read them.
 */
export interface ShareSealer {
  seal(to: string, plaintext: Uint8Array): string;
  open(from: string, sealed: string): Uint8Array;
}

/** Inputs for a DKG participant. */
export interface KeygenParticipantArgs {
  walletId: string;
  partyId: string;
  parties: string[];
  threshold: number;
  rng: (length: number) => Uint8Array;
  sealer: ShareSealer;
}

/** Inputs for a signing participant. */
export interface SignerArgs {
  key: KeyShare;
  message: Uint8Array;
  /**
   * The parties asked to take part. For an engine that hedges its first round these are the
   * candidates, and the round that spends the one-time secret fixes which of them sign.
   */
  signers: string[];
  /** How many of `signers` sign (hedged first round); absent: all of them. */
  quorumSize?: number;
  rng: (length: number) => Uint8Array;
  /** Seals messages to other signers (for engines whose rounds need it; FROST does not). */
  sealer: ShareSealer;
  /**
   * Names this run the same way at every signer (wallet, session, attempt, token), for engines
   * whose transcript needs a common session id (DKLs23's sign id).
   */
  runId?: string;
  /** A child key (ecdsa): the non-hardened BIP32 indices of the key that signs. */
  derivationPath?: number[];
}

/**
 * A one-time secret a signer role holds (a nonce). Using one twice can leak the key share, and
 * the curve library accepts a restored copy, so the party journal is the only guard (I2).
 */
export interface OneTimeSecret {
  /** Public, unique id of the secret, never the secret (FROST: commitment hiding‖binding hex). */
  id: string;
  /** The round whose incoming message spends it: consumed durably before that step runs. */
  spentAtRound: number;
}

/** What a signing participant ends with (public: FROST's round-1 commitment id). */
export interface SignerResult {
  commitment: string;
}

/** A signing participant: a protocol role that names its one-time secret. */
export interface SignerRole extends ProtocolRole<SignerResult> {
  /** The one-time secret this role holds now (after `start()`), if any. */
  oneTimeSecret(): OneTimeSecret | undefined;
  /** See {@link PartySignerRole.finalSigners}. */
  finalSigners?(message: ProtocolMessage): string[] | undefined;
}

/** A value, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** True if a step's outcome is still pending (an asynchronous role). */
export const isPromise = <T>(value: MaybePromise<T>): value is Promise<T> =>
  value instanceof Promise;

/**
 * A role as a party drives it: like {@link ProtocolRole}, but a step may be computed
 * asynchronously (a share held in an HSM, a remote signer). Every ProtocolRole is one. The
 * coordinator's roles stay synchronous.
 */
export interface PartyRole<Result> {
  start(): MaybePromise<ProtocolStep<Result>>;
  handle(message: ProtocolMessage): MaybePromise<ProtocolStep<Result>>;
  /** Best-effort erasure; may be called while a step is pending (the step's output is dropped). */
  wipe(): void;
}

/** A signing participant as a party drives it (see {@link SignerRole}). */
export interface PartySignerRole extends PartyRole<SignerResult> {
  oneTimeSecret(): OneTimeSecret | undefined;
  /**
   * The signer set `message` fixes, as the message claims it (only its shape is read), or
   * undefined if it fixes none. The party re-checks this set (a subset of the parties it was
   * asked with, itself included, of the agreed size, and its own rules) before the step runs:
   * it is hostile input until then.
   */
  finalSigners?(message: ProtocolMessage): string[] | undefined;
}

/** The party's half of an engine. Every {@link SignatureEngine} is one. */
export interface PartyEngine {
  readonly scheme: Scheme;
  keygenParticipant(args: KeygenParticipantArgs): PartyRole<KeyShare>;
  signer(args: SignerArgs): PartySignerRole;
}

/** Inputs for the coordinator's aggregation role. */
export interface AggregatorArgs {
  publicPackage: Payload;
  message: Uint8Array;
  /** The parties asked for round 1 (hedged: the candidates). */
  signers: string[];
  /**
   * Hedged first round: given the parties whose round-1 answers arrived (in arrival order),
   * the signer set to continue with, or undefined to wait for more. The role sends the next
   * round to exactly that set and ignores the others from then on. Absent: every party of
   * `signers` must answer.
   */
  chooseSigners?: (answered: readonly string[]) => string[] | undefined;
}

/** What an aggregator ends with: the signature (hex), and for ECDSA its recovery id. */
export interface AggregateResult {
  signature: string;
  recoveryId?: number;
}

/** The outcome of DKG, as the coordinator sees it. */
export interface KeygenResult {
  publicKey: string;
  publicPackage: Payload;
}

/** A signature scheme's protocol engine (every role synchronous). */
export interface SignatureEngine extends PartyEngine {
  /**
   * True if the engine's signing rounds send party-to-party messages sealed to their recipient:
   * the coordinator then puts the signers' pinned box keys in sign-start, and relays what the
   * aggregator role sends on. FROST has none.
   */
  readonly signingSealsPeerMessages?: boolean;
  /**
   * True if the aggregator role returns a signature only after verifying it under the group
   * key of the public package: the coordinator then does not verify it a second time (I4).
   */
  readonly aggregateVerifies?: boolean;
  /**
   * True if the signer set may be fixed after round 1 (the first round hedges: more parties
   * than needed are asked, and the next round names who signs). An engine whose set is fixed
   * from its first phase on (threshold ECDSA) leaves it unset: its attempts ask exactly the
   * quorum, as before.
   */
  readonly hedgesFirstRound?: boolean;
  keygenParticipant(args: KeygenParticipantArgs): ProtocolRole<KeyShare>;
  keygenCoordinator(args: {
    parties: string[];
    threshold: number;
    walletId?: string;
  }): ProtocolRole<KeygenResult>;
  signer(args: SignerArgs): SignerRole;
  aggregator(args: AggregatorArgs): ProtocolRole<AggregateResult>;
  /** Verifies a full signature against the wallet's public key (wire format). */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}
