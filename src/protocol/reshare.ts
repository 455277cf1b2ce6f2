/**
 * Resharing a FROST key to a new threshold and party set without changing the group key
 * (Desmedt and Jajodia 1997; the verifiable form of Wong, Wang and Wing 2002), which is also how
 * Quorate refreshes shares (the same t and parties: Herzberg et al. 1995's proactive refresh,
 * in redistribution form). docs/key-lifecycle.md states the construction and every check.
 *
 * A t-quorum Q of the current epoch deals. Dealer i, holding share sᵢ with verifying share
 * Yᵢ = sᵢ·G, draws a random polynomial fᵢ of degree t′−1 with fᵢ(0) = λᵢ·sᵢ (λᵢ its Lagrange
 * coefficient at 0 over Q), commits to its coefficients (Cᵢₖ = aᵢₖ·G) and seals fᵢ(j) to each
 * new party j. Since Σ λᵢ·sᵢ = s, the new shares s′ⱼ = Σᵢ fᵢ(j) share the same secret s, so the
 * group key Y = Σ Cᵢ₀ is unchanged; and they are a fresh random sharing, independent of the old
 * one, so old and new shares never combine.
 *
 * Checks: Cᵢ₀ = λᵢ·Yᵢ for every dealer (the coordinator's role and every participant check it:
 * a dealer cannot move the group key), Σ Cᵢ₀ = Y, every commitment a valid non-identity point
 * of the right count, and every receiver's fᵢ(j) against Cᵢ (noble's `validateSecret`, the
 * RFC 9591 vss_verify). Only noble's exposed primitives are composed: the scalar field, point
 * arithmetic, `utils.generateSecretPolynomial` and `validateSecret`. Pure: no I/O.
 */
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr_FROST, secp256k1, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import type { FROST } from '@noble/curves/abstract/frost.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { assert, isAssertionFailure } from '../core/assert.ts';
import { canonicalJson } from '../core/encoding.ts';
import { limits } from '../core/limits.ts';
import type {
  FrostScheme,
  KeyShare,
  KeygenResult,
  Payload,
  ProtocolMessage,
  ProtocolRole,
  ProtocolStep,
  ShareSealer,
} from './engine.ts';
import { abortWith, coordinatorRole } from './engine.ts';
import { frostIdentifier, wirePublicKey } from './frost.ts';

const suites: Record<FrostScheme, FROST> = {
  ed25519: ed25519_FROST,
  bip340: schnorr_FROST,
  secp256k1: secp256k1_FROST,
};

/** The rounds of a reshare run (keygen-start opens it; the confirmation rounds follow). */
export const reshareRounds = { deal: 1, relay: 2, result: 3 } as const;

/** Who takes part, and the public state of the epoch being replaced. */
export interface ReshareSpec {
  scheme: FrostScheme;
  walletId: string;
  /** A t-quorum of the current epoch (its threshold many parties): they deal. */
  dealers: string[];
  /** The new epoch's parties: they receive. */
  receivers: string[];
  /** The new threshold t′. */
  threshold: number;
  /** The current epoch's public package (a party that holds a share uses its own copy). */
  oldPublicPackage: Payload;
}

/** Everyone in a reshare run: the dealers, then the receivers that are not dealers. */
export function reshareParticipants(
  dealers: readonly string[],
  receivers: readonly string[],
): string[] {
  return [...new Set([...dealers, ...receivers])];
}

/** A participant's inputs: the spec, itself, its share if it deals, randomness and sealing. */
export interface ReshareParticipantArgs extends ReshareSpec {
  partyId: string;
  /** This party's current share; required of a dealer. */
  oldShare: KeyShare | undefined;
  /** The new epoch number, recorded in the new share. */
  epoch: number;
  rng: (length: number) => Uint8Array;
  sealer: ShareSealer;
}

/** What a participant ends with: the new public result, and its new share if it receives. */
export interface ReshareOutcome {
  publicKey: string;
  publicPackage: Payload;
  share: KeyShare | undefined;
}

/** A malformed or dishonest contribution, blamed on `peer`. */
class ReshareFault extends Error {
  constructor(
    readonly peer: string,
    message: string,
  ) {
    super(message);
  }
}

/** The point operations the construction needs; both noble point classes have them. */
interface CurvePoint<P> {
  add(other: P): P;
  multiply(scalar: bigint): P;
  equals(other: P): boolean;
  is0(): boolean;
  toBytes(): Uint8Array;
}

/** An opaque point of one scheme's group (only that group's functions touch it). */
type Point = { toBytes(): Uint8Array };

/** Point arithmetic of one scheme's group, through noble's exposed point classes. */
interface Group {
  decode(bytes: Uint8Array): Point;
  add(a: Point, b: Point): Point;
  mul(p: Point, scalar: bigint): Point;
  equals(a: Point, b: Point): boolean;
}

/** The group over one noble point class: every point it takes was made by it. */
function groupFrom<P extends CurvePoint<P>>(cls: { fromBytes(bytes: Uint8Array): P }): Group {
  const own = (p: Point): P => p as P; // only points this group decoded or computed reach here
  return {
    decode: (bytes) => {
      const p = cls.fromBytes(bytes);
      if (p.is0()) throw new Error('identity point');
      return p;
    },
    add: (a, b) => own(a).add(own(b)),
    mul: (p, s) => own(p).multiply(s),
    equals: (a, b) => own(a).equals(own(b)),
  };
}

const groups = { ed25519: groupFrom(ed25519.Point), secp256k1: groupFrom(secp256k1.Point) };

function groupOf(scheme: FrostScheme): Group {
  return scheme === 'ed25519' ? groups.ed25519 : groups.secp256k1;
}

/** A party's FROST identifier as a scalar (noble serialises identifiers as Fn bytes, hex). */
function identifierScalar(scheme: FrostScheme, partyId: string): bigint {
  return suites[scheme].utils.Fn.fromBytes(hexToBytes(frostIdentifier(scheme, partyId)));
}

/** λᵢ: the Lagrange coefficient at 0 of `dealer` over the dealer set (RFC 9591 §4.2). */
export function lagrangeAtZero(scheme: FrostScheme, dealers: string[], dealer: string): bigint {
  const Fn = suites[scheme].utils.Fn;
  const xi = identifierScalar(scheme, dealer);
  let num = Fn.ONE;
  let den = Fn.ONE;
  for (const other of dealers) {
    if (other === dealer) continue;
    const xj = identifierScalar(scheme, other);
    num = Fn.mul(num, xj);
    den = Fn.mul(den, Fn.sub(xj, xi));
  }
  return Fn.div(num, den);
}

/** Σₖ cₖ·xᵏ over the scalar field (Horner). */
function evaluate(scheme: FrostScheme, coefficients: bigint[], x: bigint): bigint {
  const Fn = suites[scheme].utils.Fn;
  let acc = Fn.ZERO;
  for (let k = coefficients.length - 1; k >= 0; k--)
    acc = Fn.add(Fn.mul(acc, x), coefficients[k] as bigint);
  return acc;
}

/** Σₖ Cₖ·xᵏ: the verifying share at x of the polynomial committed to by `commitment`. */
function evaluateCommitment(
  group: Group,
  scheme: FrostScheme,
  commitment: Point[],
  x: bigint,
): Point {
  const Fn = suites[scheme].utils.Fn;
  let acc: Point | undefined;
  let power = Fn.ONE;
  for (const c of commitment) {
    const term = group.mul(c, power);
    acc = acc === undefined ? term : group.add(acc, term);
    power = Fn.mul(power, x);
  }
  assert(acc !== undefined, 'a commitment has at least one point');
  return acc;
}

/** The old epoch's verifying share of `partyId` and its group key, from a public package. */
function oldKeysOf(
  scheme: FrostScheme,
  group: Group,
  oldPublicPackage: Payload,
  partyId: string,
): { verifyingShare: Point; groupKey: Point } {
  const shares = oldPublicPackage['verifyingShares'];
  const commitments = oldPublicPackage['commitments'];
  if (typeof shares !== 'object' || shares === null || !Array.isArray(commitments))
    throw new ReshareFault(coordinatorRole, 'the old public package is malformed');
  const id = frostIdentifier(scheme, partyId);
  const y = (shares as Record<string, unknown>)[id];
  const c0: unknown = commitments[0];
  if (typeof y !== 'string' || typeof c0 !== 'string')
    throw new ReshareFault(coordinatorRole, `the old public package has no share of ${partyId}`);
  return { verifyingShare: group.decode(hexToBytes(y)), groupKey: group.decode(hexToBytes(c0)) };
}

/** A dealer's commitment list: exactly t′ valid, non-identity points, or a fault on `dealer`. */
function commitmentOf(group: Group, raw: unknown, threshold: number, dealer: string): Point[] {
  if (!Array.isArray(raw) || raw.length !== threshold)
    throw new ReshareFault(dealer, `commitment is not ${threshold} points`);
  return raw.map((c: unknown) => {
    if (typeof c !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(c))
      throw new ReshareFault(dealer, 'commitment point is not lowercase hex');
    try {
      return group.decode(hexToBytes(c));
    } catch {
      throw new ReshareFault(dealer, 'commitment point is not a point of the group');
    }
  });
}

/**
 * The check every verifier runs on the dealers' commitments: each dealer's constant term is
 * λᵢ·Yᵢ (so no dealer moves the group key), and they sum to the old group key. Returns the
 * decoded commitments by dealer; throws a fault naming the first dishonest dealer.
 */
export function checkDealerCommitments(
  spec: ReshareSpec,
  raw: Record<string, unknown>,
): Map<string, Point[]> {
  const group = groupOf(spec.scheme);
  const decoded = new Map<string, Point[]>();
  let sum: Point | undefined;
  let groupKey: Point | undefined;
  for (const dealer of spec.dealers) {
    const commitment = commitmentOf(group, raw[dealer], spec.threshold, dealer);
    const old = oldKeysOf(spec.scheme, group, spec.oldPublicPackage, dealer);
    const lambda = lagrangeAtZero(spec.scheme, spec.dealers, dealer);
    const c0 = commitment[0] as Point;
    if (!group.equals(c0, group.mul(old.verifyingShare, lambda)))
      throw new ReshareFault(dealer, 'dealt constant term is not λ·Y of its old verifying share');
    sum = sum === undefined ? c0 : group.add(sum, c0);
    groupKey = old.groupKey;
    decoded.set(dealer, commitment);
  }
  assert(sum !== undefined && groupKey !== undefined, 'a reshare has at least one dealer');
  if (!group.equals(sum, groupKey))
    throw new ReshareFault(coordinatorRole, 'the dealers do not share the old group key');
  return decoded;
}

/** The new epoch's public package: summed commitments and every receiver's verifying share. */
function newPublicPackage(spec: ReshareSpec, commitments: Map<string, Point[]>): Payload {
  const group = groupOf(spec.scheme);
  const summed: Point[] = [];
  for (const list of commitments.values())
    list.forEach((c, k) => (summed[k] = summed[k] === undefined ? c : group.add(summed[k], c)));
  const verifyingShares: Record<string, string> = {};
  for (const receiver of spec.receivers) {
    const x = identifierScalar(spec.scheme, receiver);
    const y = evaluateCommitment(group, spec.scheme, summed, x);
    verifyingShares[frostIdentifier(spec.scheme, receiver)] = bytesToHex(y.toBytes());
  }
  return {
    signers: { min: spec.threshold, max: spec.receivers.length },
    commitments: summed.map((c) => bytesToHex(c.toBytes())),
    verifyingShares,
  };
}

function blame<R>(error: unknown, fallback: string): ProtocolStep<R> {
  if (error instanceof ReshareFault)
    return abortWith(error.message, error.peer === coordinatorRole ? [] : [error.peer], {
      fault: error.message,
    });
  const message = error instanceof Error ? error.message : String(error);
  return abortWith(message, fallback === '' ? [] : [fallback], { fault: message });
}

const objectField = (payload: Payload, key: string, from: string): Record<string, unknown> => {
  const value = payload[key];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ReshareFault(from, `field ${key} is not an object`);
  return value as Record<string, unknown>; // a non-null, non-array object: keys read as unknown
};

/**
 * A reshare participant: deals (round 1) if it is in the dealer set, and receives, checks and
 * combines (round 2) whatever its role; it then reports the public result (round 3).
 */
class ReshareParticipant implements ProtocolRole<ReshareOutcome> {
  round = 0;
  /** A dealer that also receives keeps its own evaluation here (never sealed to itself). */
  private ownPart: bigint | undefined;

  constructor(private readonly args: ReshareParticipantArgs) {}

  start(): ProtocolStep<ReshareOutcome> {
    this.round = 2;
    const { dealers, partyId } = this.args;
    if (!dealers.includes(partyId)) return { kind: 'continue', outgoing: [] };
    try {
      return { kind: 'continue', outgoing: [this.deal()] };
    } catch (error) {
      if (isAssertionFailure(error)) throw error;
      return blame(error, '');
    }
  }

  /** fᵢ with fᵢ(0) = λᵢ·sᵢ: its commitment in the clear, fᵢ(j) sealed to each receiver j. */
  private deal(): ProtocolMessage {
    const { scheme, dealers, receivers, partyId, threshold, oldShare, rng, sealer } = this.args;
    assert(oldShare !== undefined, 'a dealer holds a share of the current epoch');
    const frost = suites[scheme];
    const Fn = frost.utils.Fn;
    const signing = oldShare.secretPackage['signingShare'];
    assert(typeof signing === 'string', 'a stored share has its signing share');
    const lambda = lagrangeAtZero(scheme, dealers, partyId);
    const constant = Fn.toBytes(Fn.mul(lambda, Fn.fromBytes(hexToBytes(signing))));
    const poly = frost.utils.generateSecretPolynomial(
      { min: threshold, max: receivers.length },
      constant,
      undefined,
      (n?: number) => Uint8Array.from(rng(n ?? 32)),
    );
    constant.fill(0);
    const sealed: Record<string, string> = {};
    for (const receiver of receivers) {
      const part = evaluate(scheme, poly.coefficients, identifierScalar(scheme, receiver));
      if (receiver === partyId) {
        this.ownPart = part;
        continue;
      }
      const bytes = Fn.toBytes(part);
      sealed[receiver] = sealer.seal(receiver, bytes);
      bytes.fill(0);
    }
    poly.coefficients.fill(0n);
    const commitment = poly.commitment.map((c) => bytesToHex(c));
    return this.toCoordinator(reshareRounds.deal, { commitment, sealed });
  }

  handle(message: ProtocolMessage): ProtocolStep<ReshareOutcome> {
    if (this.round !== 2 || message.round !== reshareRounds.relay)
      return blame(new ReshareFault(message.from, `unexpected round ${message.round}`), '');
    this.round = -1;
    try {
      return this.combine(message);
    } catch (error) {
      if (isAssertionFailure(error)) throw error;
      return blame(error, message.from);
    }
  }

  /** Checks every dealer's commitment, then (a receiver) opens, checks and sums its parts. */
  private combine(message: ProtocolMessage): ProtocolStep<ReshareOutcome> {
    const { scheme, receivers, partyId } = this.args;
    const commitments = checkDealerCommitments(
      this.args,
      objectField(message.payload, 'commitments', message.from),
    );
    const publicPackage = newPublicPackage(this.args, commitments);
    const c0 = (publicPackage['commitments'] as string[])[0] as string;
    const publicKey = bytesToHex(wirePublicKey(scheme, hexToBytes(c0)));
    const share = receivers.includes(partyId)
      ? this.receive(message, commitments, publicPackage, publicKey)
      : undefined;
    const out = this.toCoordinator(reshareRounds.result, { publicKey, publicPackage });
    return { kind: 'done', outgoing: [out], result: { publicKey, publicPackage, share } };
  }

  private receive(
    message: ProtocolMessage,
    commitments: Map<string, Point[]>,
    publicPackage: Payload,
    publicKey: string,
  ): KeyShare {
    const { scheme, partyId, threshold, receivers, walletId, epoch } = this.args;
    const frost = suites[scheme];
    const Fn = frost.utils.Fn;
    const identifier = frostIdentifier(scheme, partyId);
    const sealed = objectField(message.payload, 'sealed', message.from);
    let sum = Fn.ZERO;
    for (const [dealer, commitment] of commitments) {
      const part = dealer === partyId ? this.ownPart : this.openPart(sealed[dealer], dealer);
      assert(part !== undefined, 'a receiving dealer kept its own part');
      const dealerPackage = {
        signers: { min: threshold, max: receivers.length },
        commitments: commitment.map((c) => c.toBytes()),
        verifyingShares: {},
      };
      try {
        frost.validateSecret({ identifier, signingShare: Fn.toBytes(part) }, dealerPackage);
      } catch {
        throw new ReshareFault(dealer, 'dealt share does not match its commitment');
      }
      sum = Fn.add(sum, part);
    }
    this.ownPart = undefined;
    const signingShare = Fn.toBytes(sum);
    // The combined share against the combined package: cannot fail if every part passed.
    const pub = {
      signers: { min: threshold, max: receivers.length },
      commitments: (publicPackage['commitments'] as string[]).map((c) => hexToBytes(c)),
      verifyingShares: {},
    };
    frost.validateSecret({ identifier, signingShare }, pub);
    return {
      scheme,
      walletId,
      partyId,
      threshold,
      parties: [...receivers],
      publicPackage,
      secretPackage: { identifier, signingShare: bytesToHex(signingShare) },
      publicKey,
      epoch,
    };
  }

  private openPart(box: unknown, dealer: string): bigint {
    if (typeof box !== 'string') throw new ReshareFault(dealer, `no share from ${dealer}`);
    let plain: Uint8Array;
    try {
      plain = this.args.sealer.open(dealer, box);
    } catch {
      throw new ReshareFault(dealer, `sealed share from ${dealer} failed authentication`);
    }
    const Fn = suites[this.args.scheme].utils.Fn;
    if (plain.length !== Fn.BYTES) throw new ReshareFault(dealer, 'dealt share is not a scalar');
    const part = Fn.fromBytes(plain);
    plain.fill(0);
    return part;
  }

  private toCoordinator(round: number, payload: Payload): ProtocolMessage {
    return { from: this.args.partyId, to: coordinatorRole, round, payload };
  }

  wipe(): void {
    this.ownPart = undefined;
    this.round = -1;
  }
}

/**
 * The coordinator's role: collects the dealers' commitments and sealed parts, checks every
 * constant term itself (a dealer that would move the group key is blamed before any receiver
 * sees its part), relays, and collects every participant's public result, which must agree.
 */
class ReshareCoordinator implements ProtocolRole<KeygenResult> {
  round = 0;
  private readonly dealt = new Map<
    string,
    { commitment: unknown; sealed: Record<string, unknown> }
  >();
  private readonly results = new Map<string, Payload>();
  private readonly participants: string[];

  constructor(private readonly spec: ReshareSpec) {
    this.participants = reshareParticipants(spec.dealers, spec.receivers);
  }

  start(): ProtocolStep<KeygenResult> {
    this.round = 1;
    return { kind: 'continue', outgoing: [] };
  }

  handle(message: ProtocolMessage): ProtocolStep<KeygenResult> {
    if (!this.participants.includes(message.from))
      return blame(new ReshareFault(message.from, 'not a reshare participant'), '');
    try {
      if (this.round === 1 && message.round === reshareRounds.deal) return this.onDeal(message);
      if (this.round === 3 && message.round === reshareRounds.result) return this.onResult(message);
      return { kind: 'continue', outgoing: [] };
    } catch (error) {
      if (isAssertionFailure(error)) throw error;
      return blame(error, message.from);
    }
  }

  private onDeal(message: ProtocolMessage): ProtocolStep<KeygenResult> {
    if (!this.spec.dealers.includes(message.from))
      throw new ReshareFault(message.from, 'not a dealer of this reshare');
    const sealed = objectField(message.payload, 'sealed', message.from);
    const expected = this.spec.receivers.filter((r) => r !== message.from);
    if (Object.keys(sealed).length !== expected.length || expected.some((r) => !(r in sealed)))
      throw new ReshareFault(message.from, 'sealed shares do not match the receivers');
    this.dealt.set(message.from, { commitment: message.payload['commitment'], sealed });
    if (this.dealt.size < this.spec.dealers.length) return { kind: 'continue', outgoing: [] };
    const commitments = Object.fromEntries(
      [...this.dealt].map(([dealer, d]) => [dealer, d.commitment]),
    );
    checkDealerCommitments(this.spec, commitments);
    this.round = 3;
    const outgoing = this.participants.map((to) => {
      const boxes: Record<string, unknown> = {};
      for (const [dealer, d] of this.dealt)
        if (dealer !== to && to in d.sealed) boxes[dealer] = d.sealed[to];
      return {
        from: coordinatorRole,
        to,
        round: reshareRounds.relay,
        payload: { commitments, sealed: boxes },
      };
    });
    return { kind: 'continue', outgoing };
  }

  private onResult(message: ProtocolMessage): ProtocolStep<KeygenResult> {
    const publicKey = message.payload['publicKey'];
    const publicPackage = objectField(message.payload, 'publicPackage', message.from);
    if (typeof publicKey !== 'string') throw new ReshareFault(message.from, 'publicKey missing');
    this.results.set(message.from, { publicKey, publicPackage });
    if (this.results.size < this.participants.length) return { kind: 'continue', outgoing: [] };
    this.round = -1;
    const views = [...this.results].map(([party, p]) => [party, canonicalJson(p)] as const);
    const reference = views[0]?.[1];
    const disagree = views.filter(([, v]) => v !== reference).map(([party]) => party);
    if (disagree.length > 0)
      return abortWith('participants derived different public packages', [], { disagree });
    const first = [...this.results.values()][0] as Payload;
    return {
      kind: 'done',
      outgoing: [],
      result: {
        publicKey: first['publicKey'] as string,
        publicPackage: first['publicPackage'] as Payload,
      },
    };
  }

  wipe(): void {
    this.round = -1;
  }
}

/** A reshare participant role. */
export function reshareParticipant(args: ReshareParticipantArgs): ProtocolRole<ReshareOutcome> {
  assert(args.dealers.length <= limits.partiesMax, 'dealers are bounded');
  return new ReshareParticipant(args);
}

/** The coordinator's role of a reshare run. */
export function reshareCoordinator(spec: ReshareSpec): ProtocolRole<KeygenResult> {
  return new ReshareCoordinator(spec);
}
