/**
 * The generic, round-based protocol engine interface. A protocol run is split into roles
 * (each party, and the coordinator that relays and aggregates). A role is a pure state
 * machine: `start()` then `handle(message)` repeatedly; each call returns the messages to
 * send plus, at the end, a result or an abort that names the blamed parties. Roles never do
 * I/O, so the same engine runs over WebSocket, in the simulator and in benchmarks.
 *
 * The shape fits multi-round protocols (threshold ECDSA): any role may address any other
 * role by id, and the coordinator relays party-to-party messages it cannot read.
 */

/** Signature schemes Quorate serves. */
export type Scheme = 'ed25519' | 'bip340' | 'secp256k1';
export const schemes: readonly Scheme[] = ['ed25519', 'bip340', 'secp256k1'];

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
}

/** Authenticated encryption of DKG secret shares to one recipient (injected by the runtime). */
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
  signers: string[];
  rng: (length: number) => Uint8Array;
}

/** Inputs for the coordinator's aggregation role. */
export interface AggregatorArgs {
  publicPackage: Payload;
  message: Uint8Array;
  signers: string[];
}

/** The outcome of DKG, as the coordinator sees it. */
export interface KeygenResult {
  publicKey: string;
  publicPackage: Payload;
}

/** A signature scheme's protocol engine. */
export interface SignatureEngine {
  readonly scheme: Scheme;
  keygenParticipant(args: KeygenParticipantArgs): ProtocolRole<KeyShare>;
  keygenCoordinator(args: { parties: string[]; threshold: number }): ProtocolRole<KeygenResult>;
  signer(args: SignerArgs): ProtocolRole<{ commitment: string }>;
  aggregator(args: AggregatorArgs): ProtocolRole<{ signature: string }>;
  /** Verifies a full signature against the wallet's public key (wire format). */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}
