/**
 * What the DKLs23 (`ecdsa`) roles share: the engine's typed entry points, how its results and
 * aborts are read, peer-message decoding with blame, and one signing run phase by phase (used
 * by the signer role and by key generation's test signatures). See ecdsa.ts for the engine.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { assert } from '../core/assert.ts';
import { sha256 } from '../core/openssl.ts';
import { limits, wireLimits } from '../core/limits.ts';
import { decodeShape, type Shape } from './dkls23-shapes.ts';
import { shapes } from './dkls23-messages.ts';
import {
  abortWith,
  type KeyShare,
  type MaybePromise,
  type Payload,
  type ProtocolStep,
} from './engine.ts';

/**
 * The engine's functions, as `@0xcarbon/dkls23-wasm` exports them (untyped: every argument and
 * result is validated on our side). One instance per party: its internal generator is secret
 * state (see src/party/dkls23-instance.ts). A result may arrive asynchronously: a party process
 * runs its instance in a worker thread, so seconds of key generation never stall its event loop.
 */
export interface Dkls23Api {
  keygenPhase1(data: unknown): MaybePromise<unknown>;
  keygenPhase2(data: unknown, fragments: unknown): MaybePromise<unknown>;
  keygenPhase3(data: unknown, zeroKept: unknown, chainKept: unknown): MaybePromise<unknown>;
  keygenPhase4(
    data: unknown,
    polyPoint: unknown,
    proofsCommitments: unknown,
    zeroKept: unknown,
    zeroReceived2: unknown,
    zeroReceived3: unknown,
    mulKept: unknown,
    mulReceived: unknown,
    chainReceived2: unknown,
    chainReceived3: unknown,
  ): MaybePromise<unknown>;
  signPhase1(party: unknown, data: unknown): MaybePromise<unknown>;
  signPhase2(
    party: unknown,
    data: unknown,
    uniqueKept: unknown,
    kept: unknown,
    received: unknown,
  ): MaybePromise<unknown>;
  signPhase3(
    party: unknown,
    data: unknown,
    uniqueKept: unknown,
    kept: unknown,
    received: unknown,
  ): MaybePromise<unknown>;
  signPhase4(
    party: unknown,
    data: unknown,
    x: unknown,
    received: unknown,
    normalize: boolean,
  ): MaybePromise<unknown>;
  deriveChild(party: unknown, index: number): MaybePromise<unknown>;
}

/** Thrown inside a role when a peer's message is malformed; turned into a blame abort. */
export class PeerFault extends Error {
  constructor(
    readonly peer: string,
    message: string,
  ) {
    super(message);
  }
}

/** The engine reported an abort (`{Err: {index, description}}`) or panicked. */
export class EngineAbort extends Error {
  constructor(
    readonly phase: string,
    readonly detail: Record<string, unknown>,
  ) {
    super(`engine abort in ${phase}: ${String(detail['description'] ?? detail['panic'])}`);
  }
}

/** Calls an engine phase; a panic (malformed input that got through) becomes an abort. */
export async function call(phase: string, fn: () => MaybePromise<unknown>): Promise<unknown> {
  try {
    return await fn();
  } catch (error) {
    throw new EngineAbort(phase, { panic: error instanceof Error ? error.message : String(error) });
  }
}

/** The `Ok` value of a `{Ok}`/`{Err}` engine result, or an abort with the engine's text. */
export function okOf(phase: string, result: unknown): unknown {
  if (typeof result === 'object' && result !== null && 'Ok' in result) return result.Ok;
  const err =
    typeof result === 'object' && result !== null && 'Err' in result ? result.Err : undefined;
  const index =
    typeof err === 'object' && err !== null && 'index' in err ? Number(err.index) : undefined;
  const description =
    typeof err === 'object' && err !== null && 'description' in err
      ? String(err.description).slice(0, wireLimits.reasonLengthMax)
      : 'malformed engine result';
  throw new EngineAbort(phase, { engineIndex: index ?? null, description });
}

/** `value` as an array of `n` entries (an engine result). */
export function tuple(value: unknown, n: number, what: string): unknown[] {
  assert(Array.isArray(value) && value.length === n, `engine ${what} returns ${n} values`);
  return value as unknown[];
}

/** An engine list (array) — its own output. */
export function arrayOf(value: unknown, what: string): unknown[] {
  assert(Array.isArray(value), `engine ${what} is a list`);
  return value as unknown[];
}

/** The receiver index an engine message is addressed to (its `parties.receiver`). */
export function receiverOf(message: unknown): number {
  const parties = (message as { parties?: { receiver?: unknown } }).parties;
  assert(typeof parties?.receiver === 'number', 'engine message names its receiver');
  return parties.receiver;
}

/** Checks a decoded peer message is from `sender` to `receiver` (indices), or blames `peer`. */
export function checkAddressed(
  message: unknown,
  sender: number,
  receiver: number,
  peer: string,
): void {
  const parties = (message as { parties: { sender: number; receiver: number } }).parties;
  if (parties.sender !== sender || parties.receiver !== receiver)
    throw new PeerFault(peer, 'engine message addressed to other parties');
}

export function decodeFrom(shape: Shape, bytes: Uint8Array, peer: string, what: string): unknown {
  try {
    return decodeShape(shape, bytes);
  } catch (error) {
    throw new PeerFault(peer, `${what}: ${error instanceof Error ? error.message : 'malformed'}`);
  }
}

export function stringField(payload: Payload, key: string, from: string, maxChars: number): string {
  const value = payload[key];
  if (typeof value !== 'string' || value.length > maxChars || !/^(?:[0-9a-f]{2})+$/.test(value))
    throw new PeerFault(from, `field ${key} is not lower-case hex`);
  return value;
}

export function recordField(payload: Payload, key: string, from: string): Record<string, unknown> {
  const value = payload[key];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new PeerFault(from, `field ${key} is not an object`);
  return value as Record<string, unknown>;
}

export function abortStep<R>(error: unknown, fallback: string | undefined): ProtocolStep<R> {
  if (error instanceof PeerFault)
    return abortWith(error.message, [error.peer], { fault: error.message });
  // The engine's index names the party that detected the fault, not the culprit: evidence only.
  if (error instanceof EngineAbort) return abortWith(error.message, [], { engine: error.detail });
  const message = error instanceof Error ? error.message : String(error);
  return abortWith(message, fallback === undefined ? [] : [fallback], { fault: message });
}

/** The 1-based engine index of each party, by its position in the wallet's party list. */
export function indexOf(parties: readonly string[], partyId: string): number {
  const at = parties.indexOf(partyId);
  assert(at >= 0, 'a party of the wallet has an engine index');
  return at + 1;
}

export const sealedHexCharsMax = limits.frameBytesMax;

/** The compressed public key (lower-case hex) of an engine point. */
export const compressed = (enginePoint: string): string => enginePoint.toLowerCase();

/** True if `signature` (64 bytes r‖s, low-S) verifies for the 32-byte digest under `publicKey`. */
export function verifyEcdsa(
  signature: Uint8Array,
  digest: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (signature.length !== 64 || digest.length !== 32) return false;
  try {
    return secp256k1.verify(signature, digest, publicKey, { prehash: false, lowS: true });
  } catch {
    return false;
  }
}

/** The recovery id (0 or 1) under which `signature` recovers `publicKey`, or undefined. */
export function recoveryIdOf(
  signature: Uint8Array,
  digest: Uint8Array,
  publicKey: Uint8Array,
): number | undefined {
  const expected = bytesToHex(publicKey);
  for (const bit of [0, 1]) {
    try {
      const recovered = secp256k1.Signature.fromBytes(signature, 'compact')
        .addRecoveryBit(bit)
        .recoverPublicKey(digest)
        .toBytes(true);
      if (bytesToHex(recovered) === expected) return bit;
    } catch {
      // this bit does not recover a point
    }
  }
  return undefined;
}

/** The public package of an `ecdsa` wallet. */
export interface EcdsaPublic {
  publicKey: string;
  ethereumAddress: string;
}

export function publicOf(pkg: Payload): EcdsaPublic {
  const publicKey = pkg['publicKey'];
  const address = pkg['ethereumAddress'];
  assert(typeof publicKey === 'string' && typeof address === 'string', 'an ecdsa public package');
  return { publicKey, ethereumAddress: address };
}

/** The key share's engine `Party`, decoded from its (decrypted) secret package. */
export function partyOf(key: KeyShare): unknown {
  const encoded = key.secretPackage['party'];
  assert(typeof encoded === 'string', 'an ecdsa key share holds an engine party');
  return decodeShape(shapes.party, hexToBytes(encoded));
}

/** The digest a key generation's test signature by `subset` signs. */
export function keygenCheckDigest(walletId: string, subset: readonly string[]): Uint8Array {
  return sha256(utf8ToBytes(`quorate-ecdsa-keygen-check-v1|${walletId}|${subset.join(',')}`));
}

/** Every `t`-subset of `parties` (in list order), bounded by limits.ecdsaSubsetsMax. */
export function subsetsOf(parties: readonly string[], t: number): string[][] {
  assert(
    binomial(parties.length, t) <= limits.ecdsaSubsetsMax,
    'an ecdsa wallet has few t-subsets',
  );
  const out: string[][] = [];
  const pick = (from: number, chosen: string[]): void => {
    if (chosen.length === t) {
      out.push([...chosen]);
      return;
    }
    for (let i = from; i < parties.length; i++) pick(i + 1, [...chosen, parties[i] as string]);
  };
  pick(0, []);
  return out;
}

/** C(n, k). */
function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return Math.round(c);
}

/**
 * True if the `u` values of phase 3's broadcasts (engine hex) sum to zero: phase 4 inverts the
 * sum and the engine would panic (a coordinator can choose such values).
 */
export function uSumIsZero(us: readonly string[]): boolean {
  const Fn = secp256k1.Point.Fn;
  const sum = us.reduce((acc, u) => Fn.add(acc, Fn.create(BigInt(`0x${u}`))), Fn.ZERO);
  return Fn.is0(sum);
}

/** A one-byte round tag inside every sealed box: a box replayed into another round is refused. */
export function tagged(round: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = round;
  out.set(body, 1);
  return out;
}

/**
 * The body of a box sealed for `round`; a box of another round was moved by whoever relayed it,
 * not made wrong by its sealer: blamed on the relay (`relay`).
 */
export function untagged(round: number, plain: Uint8Array, relay: string): Uint8Array {
  if (plain[0] !== round) throw new PeerFault(relay, `a sealed message of another round`);
  return plain.subarray(1);
}

/** Sign data for the engine: a run id both sides derive, the counterparties, the digest. */
export function signData(
  runId: string,
  me: number,
  signers: number[],
  digest: Uint8Array,
): unknown {
  return {
    sign_id: Array.from(signIdOf(runId)),
    counterparties: signers.filter((i) => i !== me),
    message_hash: Array.from(digest),
  };
}

/**
 * The engine's sign id of a run. It is one-time too: the multiplication's pads depend only on
 * the parties' long-term seeds and this id, so a party that ran phase 2 twice under one id
 * would let its peer solve for its key share (found by review; `test/unit/ecdsa-sign-id.test.ts`).
 */
export function signIdOf(runId: string): Uint8Array {
  return sha256(utf8ToBytes(`quorate-ecdsa-sign-v1|${runId}`));
}

/**
 * One DKLs23 signing run at a party, phase by phase, for the signer role and for key
 * generation's test signatures. Holds the one-time state between phases and drops it as soon
 * as the next phase has used it.
 */
export class SigningRun {
  private unique: unknown;
  private kept: unknown;
  private x: string | undefined;
  private wiped = false;

  private constructor(
    private readonly api: Dkls23Api,
    private readonly party: unknown,
    private readonly data: unknown,
    /** The phase-1 instance point (public): names the one-time secret. */
    readonly secretId: string,
    /** Messages to each counterparty index, after phase 1. */
    readonly phase1Out: Map<number, unknown>,
    kept: { unique: unknown; kept: unknown },
  ) {
    this.unique = kept.unique;
    this.kept = kept.kept;
  }

  /** Phase 1: draws the one-time secret (inside the engine) and the messages to each peer. */
  static async open(api: Dkls23Api, party: unknown, data: unknown): Promise<SigningRun> {
    const [unique, kept, transmit] = tuple(
      await call('sign phase 1', () => api.signPhase1(party, data)),
      3,
      'sign phase 1',
    );
    const point = (unique as { instance_point: unknown }).instance_point;
    const out = new Map(arrayOf(transmit, 'sign phase 1').map((m) => [receiverOf(m), m]));
    return new SigningRun(api, party, data, `dkls23:${String(point).toLowerCase()}`, out, {
      unique,
      kept,
    });
  }

  async phase2(received: unknown[]): Promise<Map<number, unknown>> {
    const { party, data, unique, kept } = this;
    assert(unique !== undefined, 'phase 2 runs once, after phase 1');
    const [nextUnique, nextKept, transmit] = tuple(
      okOf(
        'sign phase 2',
        await call('sign phase 2', () => this.api.signPhase2(party, data, unique, kept, received)),
      ),
      3,
      'sign phase 2',
    );
    // Wiped while the engine ran (a dropped session): its state is not put back.
    if (this.wiped) throw new Error('signing run wiped');
    this.unique = nextUnique;
    this.kept = nextKept;
    return new Map(arrayOf(transmit, 'sign phase 2').map((m) => [receiverOf(m), m]));
  }

  /** Phase 3: spends the one-time secret (its state is dropped before the engine runs). */
  async phase3(received: unknown[]): Promise<{ x: string; u: string; w: string }> {
    const { party, data, unique, kept } = this;
    this.unique = undefined;
    this.kept = undefined;
    assert(unique !== undefined, 'I2: phase 3 runs once per signing run');
    const [x, broadcast] = tuple(
      okOf(
        'sign phase 3',
        await call('sign phase 3', () => this.api.signPhase3(party, data, unique, kept, received)),
      ),
      2,
      'sign phase 3',
    );
    const b = broadcast as { u: string; w: string };
    this.x = String(x);
    return { x: this.x, u: b.u, w: b.w };
  }

  /** Phase 4: the signature `s` (low-S) and its recovery id, from every signer's broadcast. */
  async phase4(broadcasts: unknown[]): Promise<{ s: string; recid: number }> {
    const x = this.x;
    assert(x !== undefined, 'phase 4 follows phase 3');
    const [s, recid] = tuple(
      okOf(
        'sign phase 4',
        await call('sign phase 4', () =>
          this.api.signPhase4(this.party, this.data, x, broadcasts, true),
        ),
      ),
      2,
      'sign phase 4',
    );
    return { s: String(s), recid: Number(recid) };
  }

  wipe(): void {
    this.wiped = true;
    this.unique = undefined;
    this.kept = undefined;
  }
}
