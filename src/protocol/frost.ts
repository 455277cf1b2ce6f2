/**
 * FROST (RFC 9591) engines for ed25519, BIP340 and secp256k1 on `@noble/curves`. This file
 * only adapts noble's FROST to the round-based {@link SignatureEngine} interface: it does no
 * cryptography of its own. Pure: randomness arrives as a parameter, nothing touches I/O.
 */
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr, schnorr_FROST, secp256k1, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import type { FROST } from '@noble/curves/abstract/frost.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { assert } from '../core/assert.ts';
import { ed25519Verify } from '../core/openssl.ts';
import { canonicalJson } from '../core/encoding.ts';
import { limits } from '../core/limits.ts';
import type {
  AggregatorArgs,
  KeygenParticipantArgs,
  KeygenResult,
  KeyShare,
  Payload,
  ProtocolMessage,
  ProtocolRole,
  ProtocolStep,
  FrostScheme,
  Scheme,
  OneTimeSecret,
  SignatureEngine,
  SignerArgs,
  SignerResult,
  SignerRole,
} from './engine.ts';
import { abortWith, coordinatorRole } from './engine.ts';

type Frost = FROST;

const suites: Record<FrostScheme, Frost> = {
  ed25519: ed25519_FROST,
  bip340: schnorr_FROST,
  secp256k1: secp256k1_FROST,
};

/** `scheme` as a FROST scheme (a programmer error for any other: FROST roles serve only these). */
export function frostSchemeOf(scheme: Scheme): FrostScheme {
  assert(scheme !== 'ecdsa', 'a FROST role serves a FROST scheme');
  return scheme;
}

/** Thrown inside a role when a peer's payload is malformed; turned into a blame abort. */
class PeerFault extends Error {
  constructor(
    readonly peer: string,
    message: string,
  ) {
    super(message);
  }
}

/** Adapts an Env-style rng to noble's optional-length signature. */
function nobleRng(
  rng: (length: number) => Uint8Array,
): (length?: number) => Uint8Array<ArrayBuffer> {
  return (length) => Uint8Array.from(rng(length ?? 32));
}

function hexField(payload: Payload, key: string, from: string): Uint8Array<ArrayBuffer> {
  const value = payload[key];
  if (typeof value !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(value)) {
    throw new PeerFault(from, `field ${key} is not lowercase hex`);
  }
  return hexToBytes(value);
}

/** `value` as a payload object, or a fault blamed on `from`. */
function payloadOf(value: unknown, what: string, from: string): Payload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PeerFault(from, `${what} is not an object`);
  }
  return value as Payload; // a non-null, non-array object: every key reads as unknown
}

/** A list (one entry per party at most) of lowercase hex strings, decoded, or a fault. */
function hexListField(payload: Payload, key: string, from: string): Uint8Array<ArrayBuffer>[] {
  const value = payload[key];
  if (!Array.isArray(value) || value.length > limits.partiesMax)
    throw new PeerFault(from, `field ${key} is not a short list`);
  return value.map((item: unknown) => hexField({ [key]: item }, key, from));
}

function recordField(payload: Payload, key: string, from: string): Record<string, unknown> {
  const value = payload[key];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PeerFault(from, `field ${key} is not an object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Identifiers derived so far, by scheme and party id: a hash-to-scalar per call, and every
 * signer role and aggregator derives each signer's (a profile of `npm run bench -- signing`).
 * Cleared when full, so it stays bounded whatever party ids it is asked about.
 */
const derivedIdentifiers = new Map<string, string>();

/** FROST participant identifier for a party id (deterministic, RFC 9591 derive). */
export function frostIdentifier(scheme: FrostScheme, partyId: string): string {
  const key = `${scheme}|${partyId}`;
  let identifier = derivedIdentifiers.get(key);
  if (identifier === undefined) {
    identifier = suites[scheme].Identifier.derive(partyId);
    if (derivedIdentifiers.size >= limits.frostIdentifiersCachedMax) derivedIdentifiers.clear();
    derivedIdentifiers.set(key, identifier);
  }
  return identifier;
}

function identifierMap(scheme: FrostScheme, parties: string[]): Map<string, string> {
  return new Map(parties.map((p) => [frostIdentifier(scheme, p), p]));
}

type FrostPublicRaw = Parameters<Frost['verifyShare']>[0];
type FrostSecretRaw = Parameters<Frost['commit']>[0];
type CommitmentRaw = Parameters<Frost['verifyShare']>[1][number];

function encodePublic(pub: FrostPublicRaw): Payload {
  return {
    signers: { min: pub.signers.min, max: pub.signers.max },
    commitments: pub.commitments.map((c) => bytesToHex(c)),
    verifyingShares: Object.fromEntries(
      Object.entries(pub.verifyingShares).map(([id, v]) => [id, bytesToHex(v)]),
    ),
  };
}

function decodePublic(p: Payload): FrostPublicRaw {
  const signers = p['signers'] as { min: number; max: number };
  const commitments = (p['commitments'] as string[]).map((c) => hexToBytes(c));
  const shares = p['verifyingShares'] as Record<string, string>;
  return {
    signers: { min: signers.min, max: signers.max },
    commitments,
    verifyingShares: Object.fromEntries(Object.entries(shares).map(([k, v]) => [k, hexToBytes(v)])),
  };
}

function decodeSecret(p: Payload): FrostSecretRaw {
  return {
    identifier: p['identifier'] as string,
    signingShare: hexToBytes(p['signingShare'] as string),
  };
}

/** The group public key in the scheme's wire format (bip340: x-only 32 bytes). */
export function wirePublicKey(scheme: FrostScheme, groupCommitment: Uint8Array): Uint8Array {
  if (scheme === 'bip340') {
    assert(groupCommitment.length === 33, 'bip340 group key is a 33-byte compressed point');
    return groupCommitment.slice(1);
  }
  return groupCommitment;
}

/** Verifies with the plain (non-threshold) verifier of each scheme. */
function verifySignature(
  scheme: FrostScheme,
  sig: Uint8Array,
  msg: Uint8Array,
  pk: Uint8Array,
): boolean {
  try {
    if (scheme === 'ed25519') return ed25519Verify(sig, msg, pk);
    if (scheme === 'bip340') return schnorr.verify(sig, msg, pk);
    return suites.secp256k1.verify(sig, msg, pk);
  } catch {
    return false;
  }
}

function blameStep<R>(error: unknown, fallbackPeer: string): ProtocolStep<R> {
  if (error instanceof PeerFault) {
    return {
      kind: 'abort',
      outgoing: [],
      abort: { reason: error.message, blamed: [error.peer], evidence: { fault: error.message } },
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return abortWith(message, fallbackPeer ? [fallbackPeer] : [], { fault: message });
}

function commitmentId(c: CommitmentRaw): string {
  return bytesToHex(c.hiding) + bytesToHex(c.binding);
}

/**
 * Signing participant: round 1 commits, round 2 signs once with the committed nonce. The nonce
 * pair is its one-time secret, named by its public commitment and spent by round 2.
 */
class FrostSigner implements SignerRole {
  round = 0;
  private nonces: ReturnType<Frost['commit']>['nonces'] | undefined;
  private own: CommitmentRaw | undefined;
  private readonly secret: FrostSecretRaw;
  private readonly pub: FrostPublicRaw;
  private readonly ids: Map<string, string>;

  constructor(
    private readonly frost: Frost,
    private readonly args: SignerArgs,
  ) {
    this.secret = decodeSecret(args.key.secretPackage);
    this.pub = decodePublic(args.key.publicPackage);
    this.ids = identifierMap(frostSchemeOf(args.key.scheme), args.signers);
  }

  start(): ProtocolStep<SignerResult> {
    assert(this.round === 0, 'signer started twice');
    const generated = this.frost.commit(this.secret, nobleRng(this.args.rng));
    this.nonces = generated.nonces;
    this.own = generated.commitments;
    this.round = 2;
    const payload = { hiding: bytesToHex(this.own.hiding), binding: bytesToHex(this.own.binding) };
    return {
      kind: 'continue',
      outgoing: [{ from: this.args.key.partyId, to: coordinatorRole, round: 1, payload }],
    };
  }

  handle(message: ProtocolMessage): ProtocolStep<SignerResult> {
    if (this.round !== 2 || message.round !== 2 || !this.nonces || !this.own) {
      return blameStep(new PeerFault(message.from, `unexpected round ${message.round}`), '');
    }
    try {
      const list = this.parseCommitments(message);
      const nonces = this.nonces;
      // Drop our reference before signing: this role can never sign twice.
      this.nonces = undefined;
      const share = this.frost.signShare(this.secret, this.pub, nonces, list, this.args.message);
      this.round = -1;
      const out: ProtocolMessage = {
        from: this.args.key.partyId,
        to: coordinatorRole,
        round: 2,
        payload: { share: bytesToHex(share) },
      };
      return { kind: 'done', outgoing: [out], result: { commitment: commitmentId(this.own) } };
    } catch (error) {
      return blameStep(error, message.from);
    }
  }

  private parseCommitments(message: ProtocolMessage): CommitmentRaw[] {
    const raw = recordField(message.payload, 'commitments', message.from);
    const list: CommitmentRaw[] = [];
    for (const [partyId, entry] of Object.entries(raw)) {
      const identifier = frostIdentifier(frostSchemeOf(this.args.key.scheme), partyId);
      if (!this.ids.has(identifier)) throw new PeerFault(message.from, `unknown signer ${partyId}`);
      const e = payloadOf(entry, `commitment of ${partyId}`, message.from);
      list.push({
        identifier,
        hiding: hexField(e, 'hiding', message.from),
        binding: hexField(e, 'binding', message.from),
      });
    }
    // Hedged first round: the list names the final signer set, a subset of the parties asked
    // of the agreed size (the party's own rules re-check it before this step: finalSigners).
    if (list.length !== (this.args.quorumSize ?? this.args.signers.length)) {
      throw new PeerFault(message.from, 'commitment list does not match the signer set');
    }
    const mine = list.find((c) => c.identifier === this.own?.identifier);
    if (!mine || commitmentId(mine) !== commitmentId(this.own as CommitmentRaw)) {
      throw new PeerFault(message.from, 'our commitment was altered or omitted');
    }
    return list;
  }

  /** The round-2 message fixes the signer set: the parties its commitment list names. */
  finalSigners(message: ProtocolMessage): string[] | undefined {
    if (message.round !== 2) return undefined;
    const raw = message.payload['commitments'];
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
    return Object.keys(raw);
  }

  wipe(): void {
    if (this.nonces) {
      this.nonces.hiding.fill(0);
      this.nonces.binding.fill(0);
    }
    this.nonces = undefined;
    this.round = -1;
  }

  /** The nonce pair, named by its round-1 commitment (hiding‖binding hex), spent by round 2. */
  oneTimeSecret(): OneTimeSecret | undefined {
    return this.own ? { id: commitmentId(this.own), spentAtRound: 2 } : undefined;
  }
}

/** True if `bytes` encode a point of the scheme's group other than the identity. */
function isCommitmentPoint(scheme: FrostScheme, bytes: Uint8Array): boolean {
  try {
    const point =
      scheme === 'ed25519' ? ed25519.Point.fromBytes(bytes) : secp256k1.Point.fromBytes(bytes);
    return !point.is0();
  } catch {
    return false;
  }
}

/**
 * Coordinator aggregation: collect commitments, distribute them, collect and aggregate shares.
 * Hedged (`chooseSigners`): commitments are collected from every party asked until the chooser
 * names a signer set among those that answered; round 2 goes to that set only.
 */
class FrostAggregator implements ProtocolRole<{ signature: string }> {
  round = 0;
  private readonly commitments = new Map<string, CommitmentRaw>();
  private readonly shares = new Map<string, Uint8Array>();
  private readonly pub: FrostPublicRaw;
  /** The signer set: fixed at once without a chooser, else once the chooser names it. */
  private signers: string[] | undefined;

  constructor(
    private readonly frost: Frost,
    private readonly scheme: FrostScheme,
    private readonly args: AggregatorArgs,
  ) {
    this.pub = decodePublic(args.publicPackage);
    this.signers = args.chooseSigners ? undefined : args.signers;
  }

  start(): ProtocolStep<{ signature: string }> {
    this.round = 1;
    return { kind: 'continue', outgoing: [] };
  }

  handle(message: ProtocolMessage): ProtocolStep<{ signature: string }> {
    if (!this.args.signers.includes(message.from)) {
      return blameStep(new PeerFault(message.from, 'not a signer of this attempt'), '');
    }
    try {
      if (this.round === 1 && message.round === 1) return this.onCommitment(message);
      if (this.round === 2 && message.round === 2) return this.onShare(message);
      return { kind: 'continue', outgoing: [] }; // late or early duplicates are ignored
    } catch (error) {
      return blameStep(error, message.from);
    }
  }

  private onCommitment(message: ProtocolMessage): ProtocolStep<{ signature: string }> {
    const identifier = frostIdentifier(this.scheme, message.from);
    const hiding = hexField(message.payload, 'hiding', message.from);
    const binding = hexField(message.payload, 'binding', message.from);
    // Checked here, not only by the co-signers: a commitment that is not a valid non-identity
    // point would make every honest co-signer refuse the attempt, and nobody would be blamed
    // (found by `quorate sim --adversary parties`, bad-commitment).
    if (!isCommitmentPoint(this.scheme, hiding) || !isCommitmentPoint(this.scheme, binding))
      throw new PeerFault(message.from, 'invalid commitment: not a point of the group');
    this.commitments.set(message.from, { identifier, hiding, binding });
    const signers = this.signers ?? this.args.chooseSigners?.([...this.commitments.keys()]);
    if (!signers || signers.some((p) => !this.commitments.has(p)))
      return { kind: 'continue', outgoing: [] };
    assert(new Set(signers).size === signers.length, 'a signer set names each party once');
    this.signers = signers;
    this.round = 2;
    const all = Object.fromEntries(
      signers.map((p) => {
        const c = this.commitments.get(p) as CommitmentRaw; // every signer committed (above)
        return [p, { hiding: bytesToHex(c.hiding), binding: bytesToHex(c.binding) }];
      }),
    );
    const outgoing = signers.map((to) => ({
      from: coordinatorRole,
      to,
      round: 2,
      payload: { commitments: all },
    }));
    return { kind: 'continue', outgoing };
  }

  private onShare(message: ProtocolMessage): ProtocolStep<{ signature: string }> {
    const signers = this.signers;
    assert(signers !== undefined, 'round 2 runs with a fixed signer set');
    // A party asked for round 1 but not chosen has no share to give: ignored.
    if (!signers.includes(message.from)) return { kind: 'continue', outgoing: [] };
    this.shares.set(
      frostIdentifier(this.scheme, message.from),
      hexField(message.payload, 'share', message.from),
    );
    if (this.shares.size < signers.length) return { kind: 'continue', outgoing: [] };
    const list = signers.map((p) => this.commitments.get(p) as CommitmentRaw);
    const byId = identifierMap(this.scheme, signers);
    try {
      const sig = this.frost.aggregate(
        this.pub,
        list,
        this.args.message,
        Object.fromEntries(this.shares),
      );
      this.round = -1;
      return { kind: 'done', outgoing: [], result: { signature: bytesToHex(sig) } };
    } catch (error) {
      const cheaters = ((error as { cheaters?: string[] }).cheaters ?? []).map(
        (id) => byId.get(id) ?? id,
      );
      this.round = -1;
      const evidence = {
        shares: Object.fromEntries(
          [...this.shares].map(([id, s]) => [byId.get(id) ?? id, bytesToHex(s)]),
        ),
        commitments: Object.fromEntries(
          signers.map((p) => [p, commitmentId(this.commitments.get(p) as CommitmentRaw)]),
        ),
        verification: 'frost verifyShare failed for the blamed parties',
      };
      return {
        kind: 'abort',
        outgoing: [],
        abort: { reason: 'invalid signature share', blamed: cheaters, evidence },
      };
    }
  }

  wipe(): void {
    this.round = -1;
  }
}

const dkgInfo = (walletId: string) => utf8ToBytes(`quorate-dkg-v1:${walletId}`);

/** DKG participant: round 1 broadcast, round 2 sealed shares, round 3 finalise. */
class FrostKeygenParticipant implements ProtocolRole<KeyShare> {
  round = 0;
  private state: ReturnType<Frost['DKG']['round1']> | undefined;
  private others: ReturnType<Frost['DKG']['round1']>['public'][] = [];
  private readonly ids: Map<string, string>;

  constructor(
    private readonly frost: Frost,
    private readonly scheme: FrostScheme,
    private readonly args: KeygenParticipantArgs,
  ) {
    this.ids = identifierMap(scheme, args.parties);
  }

  start(): ProtocolStep<KeyShare> {
    const id = frostIdentifier(this.scheme, this.args.partyId);
    const signers = { min: this.args.threshold, max: this.args.parties.length };
    this.state = this.frost.DKG.round1(id, signers, undefined, nobleRng(this.args.rng));
    this.round = 2;
    const p = this.state.public;
    const payload = {
      commitment: p.commitment.map((c) => bytesToHex(c)),
      proofOfKnowledge: bytesToHex(p.proofOfKnowledge),
      context: bytesToHex(dkgInfo(this.args.walletId)),
    };
    return { kind: 'continue', outgoing: [this.toCoordinator(1, payload)] };
  }

  handle(message: ProtocolMessage): ProtocolStep<KeyShare> {
    try {
      if (this.round === 2 && message.round === 2) return this.onRound1All(message);
      if (this.round === 3 && message.round === 3) return this.onSealedShares(message);
      throw new PeerFault(message.from, `unexpected round ${message.round}`);
    } catch (error) {
      return blameStep(error, message.from);
    }
  }

  private onRound1All(message: ProtocolMessage): ProtocolStep<KeyShare> {
    const state = this.state as NonNullable<typeof this.state>;
    const all = recordField(message.payload, 'round1', message.from);
    this.others = [];
    for (const partyId of this.args.parties) {
      if (partyId === this.args.partyId) continue;
      if (all[partyId] === undefined)
        throw new PeerFault(message.from, `round1 package of ${partyId} missing`);
      const entry = payloadOf(all[partyId], `round1 package of ${partyId}`, partyId);
      this.others.push({
        identifier: frostIdentifier(this.scheme, partyId),
        commitment: hexListField(entry, 'commitment', partyId),
        proofOfKnowledge: hexField(entry, 'proofOfKnowledge', partyId),
      });
    }
    const packages = this.frost.DKG.round2(state.secret, this.others);
    const sealed: Record<string, string> = {};
    for (const [identifier, pkg] of Object.entries(packages)) {
      const to = this.ids.get(identifier);
      assert(to !== undefined, 'round2 addressed to a known party');
      sealed[to] = this.args.sealer.seal(to, hexToBytes(bytesToHex(pkg.signingShare)));
    }
    this.round = 3;
    return { kind: 'continue', outgoing: [this.toCoordinator(2, { sealed })] };
  }

  private onSealedShares(message: ProtocolMessage): ProtocolStep<KeyShare> {
    const state = this.state as NonNullable<typeof this.state>;
    const sealed = recordField(message.payload, 'sealed', message.from);
    const round2 = [];
    for (const partyId of this.args.parties) {
      if (partyId === this.args.partyId) continue;
      const box = sealed[partyId];
      if (typeof box !== 'string')
        throw new PeerFault(message.from, `share from ${partyId} missing`);
      let plain: Uint8Array<ArrayBuffer>;
      try {
        plain = Uint8Array.from(this.args.sealer.open(partyId, box));
      } catch {
        throw new PeerFault(partyId, `sealed share from ${partyId} failed authentication`);
      }
      round2.push({ identifier: frostIdentifier(this.scheme, partyId), signingShare: plain });
    }
    const key = this.frost.DKG.round3(state.secret, this.others, round2);
    this.round = -1;
    const publicPackage = encodePublic(key.public);
    const groupKey = key.public.commitments[0];
    assert(groupKey !== undefined, 'DKG produced a group key');
    const publicKey = bytesToHex(wirePublicKey(this.scheme, groupKey));
    const share: KeyShare = {
      scheme: this.scheme,
      walletId: this.args.walletId,
      partyId: this.args.partyId,
      threshold: this.args.threshold,
      parties: [...this.args.parties],
      publicPackage,
      secretPackage: {
        identifier: key.secret.identifier,
        signingShare: bytesToHex(key.secret.signingShare),
      },
      publicKey,
    };
    const confirm = this.toCoordinator(3, { publicKey, publicPackage });
    return { kind: 'done', outgoing: [confirm], result: share };
  }

  private toCoordinator(round: number, payload: Payload): ProtocolMessage {
    return { from: this.args.partyId, to: coordinatorRole, round, payload };
  }

  wipe(): void {
    if (this.state) this.frost.DKG.clean(this.state.secret);
    this.state = undefined;
    this.round = -1;
  }
}

/** DKG coordinator: relays round-1 broadcasts and sealed round-2 shares, checks agreement. */
class FrostKeygenCoordinator implements ProtocolRole<KeygenResult> {
  round = 0;
  private readonly round1 = new Map<string, Payload>();
  private readonly sealed = new Map<string, Record<string, unknown>>();
  private readonly confirmations = new Map<string, Payload>();

  constructor(private readonly args: { parties: string[]; threshold: number }) {}

  start(): ProtocolStep<KeygenResult> {
    this.round = 1;
    return { kind: 'continue', outgoing: [] };
  }

  handle(message: ProtocolMessage): ProtocolStep<KeygenResult> {
    if (!this.args.parties.includes(message.from)) {
      return blameStep(new PeerFault(message.from, 'not a keygen participant'), '');
    }
    try {
      if (this.round === 1 && message.round === 1)
        return this.collect(this.round1, message, 'round1');
      if (this.round === 2 && message.round === 2) return this.collectSealed(message);
      if (this.round === 3 && message.round === 3) return this.collectConfirm(message);
      return { kind: 'continue', outgoing: [] };
    } catch (error) {
      return blameStep(error, message.from);
    }
  }

  private collect(
    into: Map<string, Payload>,
    message: ProtocolMessage,
    key: string,
  ): ProtocolStep<KeygenResult> {
    into.set(message.from, message.payload);
    if (into.size < this.args.parties.length) return { kind: 'continue', outgoing: [] };
    this.round = 2;
    const all = Object.fromEntries(into);
    return {
      kind: 'continue',
      outgoing: this.args.parties.map((to) => ({
        from: coordinatorRole,
        to,
        round: 2,
        payload: { [key]: all },
      })),
    };
  }

  private collectSealed(message: ProtocolMessage): ProtocolStep<KeygenResult> {
    this.sealed.set(message.from, recordField(message.payload, 'sealed', message.from));
    if (this.sealed.size < this.args.parties.length) return { kind: 'continue', outgoing: [] };
    this.round = 3;
    const outgoing = this.args.parties.map((to) => {
      const boxes: Record<string, unknown> = {};
      for (const [from, map] of this.sealed) if (from !== to) boxes[from] = map[to];
      return { from: coordinatorRole, to, round: 3, payload: { sealed: boxes } };
    });
    return { kind: 'continue', outgoing };
  }

  private collectConfirm(message: ProtocolMessage): ProtocolStep<KeygenResult> {
    // Validated on arrival: the result becomes the wallet's public key and package.
    hexField(message.payload, 'publicKey', message.from);
    recordField(message.payload, 'publicPackage', message.from);
    this.confirmations.set(message.from, message.payload);
    if (this.confirmations.size < this.args.parties.length)
      return { kind: 'continue', outgoing: [] };
    this.round = -1;
    const [firstParty, first] = this.confirmations.entries().next().value as [string, Payload];
    const reference = canonicalJson(first);
    const disagree = [...this.confirmations]
      .filter(([, p]) => canonicalJson(p) !== reference)
      .map(([party]) => party);
    if (disagree.length > 0) {
      return {
        kind: 'abort',
        outgoing: [],
        abort: {
          reason: 'parties derived different group keys',
          blamed: [],
          evidence: { disagree },
        },
      };
    }
    const result: KeygenResult = {
      publicKey: bytesToHex(hexField(first, 'publicKey', firstParty)),
      publicPackage: recordField(first, 'publicPackage', firstParty),
    };
    return { kind: 'done', outgoing: [], result };
  }

  wipe(): void {
    this.round = -1;
  }
}

/** Builds the FROST engine for one scheme. */
export function frostEngine(scheme: FrostScheme): SignatureEngine {
  const frost = suites[scheme];
  return {
    scheme,
    keygenParticipant: (args) => new FrostKeygenParticipant(frost, scheme, args),
    keygenCoordinator: (args) => new FrostKeygenCoordinator(args),
    signer: (args) => new FrostSigner(frost, args),
    aggregator: (args) => new FrostAggregator(frost, scheme, args),
    verify: (sig, msg, pk) => verifySignature(scheme, sig, msg, pk),
    // noble's `aggregate` verifies the sum under the group key before it returns (RFC 9591
    // §5.3), and blames by share only when that fails.
    aggregateVerifies: true,
    // Round 2's commitment list names the signers, so round 1 can ask more than it needs.
    hedgesFirstRound: true,
  };
}

/** The FROST engines by scheme, built once. */
export const engines: Record<FrostScheme, SignatureEngine> = {
  ed25519: frostEngine('ed25519'),
  bip340: frostEngine('bip340'),
  secp256k1: frostEngine('secp256k1'),
};
