/**
 * The wire contract: every frame on a party link and every envelope body has exactly one typed
 * builder and one validator here, and both ends use only these.
 *
 * Validators take untrusted JSON (`unknown`) and never throw: they answer {@link Checked}, either
 * the typed value (a fresh object holding only the known fields) or a refusal with a stable
 * `QUORATE_E_…` code and a reason. Builders take typed values and produce exactly what the
 * matching validator accepts. The bytes signed during the handshake (the hello and welcome
 * transcripts) are built by one function each.
 *
 * Frames: `challenge` (coordinator → party), `hello` (party → coordinator), `welcome`
 * (coordinator → party), `reject` (either way, then the link closes) and `env` (a signed
 * envelope, see envelope.ts). Envelope bodies: `sign-start`, `keygen-start`, `protocol` (an
 * engine payload: the engine validates its own fields), `discard`, `refuse`, `ping`, `pong`.
 */
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson, isHexOf, sha256Hex } from '../core/encoding.ts';
import { isErrorCode, type ErrorCode } from '../core/errors.ts';
import { isPartyId } from '../core/ids.ts';
import { limits, ruleLimits, wireLimits } from '../core/limits.ts';
import { schemes, type Payload, type Scheme } from '../protocol/engine.ts';
import { reshareParticipants } from '../protocol/reshare.ts';
import type { RuleRequestContext } from '../policy/rules/rule-context.ts';
import type { SignedApproval } from '../policy/rules/approvals.ts';
import { parseCertificate, type PartyCertificate } from './certificate.ts';
import { verifyDetached } from './identity.ts';

// ---------------------------------------------------------------------------------------------
// Results

/** A validator's answer: the typed value, or a refusal with a stable code. Never thrown. */
export type Checked<T> = { ok: true; value: T } | WireRefusal;

/** Why a frame or body was refused. */
export interface WireRefusal {
  ok: false;
  code: ErrorCode;
  reason: string;
}

function accepted<T>(value: T): Checked<T> {
  return { ok: true, value };
}

function refused(code: ErrorCode, reason: string): WireRefusal {
  return { ok: false, code, reason };
}

const bad = (reason: string): WireRefusal => refused('QUORATE_E_BAD_ENVELOPE', reason);

// ---------------------------------------------------------------------------------------------
// Field checks (small, total, never throw)

type Fields = Record<string, unknown>;

/** A plain JSON object (not null, not an array). */
function objectOf(raw: unknown): Fields | undefined {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw)
    ? (raw as Fields)
    : undefined;
}

const isShortString = (x: unknown, max: number): x is string =>
  typeof x === 'string' && x.length <= max;
const isIdString = (x: unknown, max: number): x is string => isShortString(x, max) && x !== '';
/** A wallet id: never a '/', which a party's journal uses to name a wallet's staged share. */
const isWalletId = (x: unknown): x is string =>
  isIdString(x, wireLimits.walletIdLengthMax) && !x.includes('/');
const isNat = (x: unknown): x is number =>
  typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isFiniteNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isPartyIdString = (x: unknown): x is string => typeof x === 'string' && isPartyId(x);

/**
 * A list of at most `partiesMax` distinct party ids, or undefined. Duplicates are refused here:
 * a signer set like `["mobile","mobile"]` would count one party twice toward a threshold.
 */
function partyList(raw: unknown): string[] | undefined {
  if (!Array.isArray(raw) || raw.length > limits.partiesMax) return undefined;
  const list: string[] = [];
  for (const item of raw) {
    if (!isPartyIdString(item) || list.includes(item)) return undefined;
    list.push(item);
  }
  return list;
}

/**
 * A map participant → certificate, every entry shaped right and naming its own key; at most
 * `partiesMax` entries, or a reason. Whether a certificate is trusted is the party's check
 * (src/party/keygen.ts), against the operator key it pins.
 */
function certificateMap(raw: unknown): Record<string, PartyCertificate> | string {
  const o = objectOf(raw);
  if (!o) return 'certificates is not an object';
  const entries = Object.entries(o);
  if (entries.length > limits.partiesMax) return 'too many certificates';
  const checked: [string, PartyCertificate][] = [];
  for (const [partyId, item] of entries) {
    const cert = parseCertificate(item);
    if (typeof cert === 'string') return cert;
    if (cert.partyId !== partyId) return `certificate under ${partyId} names ${cert.partyId}`;
    checked.push([partyId, cert]);
  }
  return Object.fromEntries(checked);
}

/** A map party id → 64-hex X25519 key, at most `partiesMax` entries, or undefined. */
function boxKeyMap(raw: unknown): Record<string, string> | undefined {
  const o = objectOf(raw);
  if (!o) return undefined;
  const entries = Object.entries(o);
  if (entries.length > limits.partiesMax) return undefined;
  const checked: [string, string][] = [];
  for (const [partyId, key] of entries) {
    if (!isPartyId(partyId) || !isHexOf(key, 64)) return undefined;
    checked.push([partyId, key]);
  }
  // fromEntries defines own properties: no key (not even `__proto__`) reaches a prototype.
  return Object.fromEntries(checked);
}

// ---------------------------------------------------------------------------------------------
// Handshake frames and transcripts

/** Domain separating the hello proof (party identity key over the hello transcript). */
export const helloDomain = 'quorate-hello-v1';
/** Domain separating the welcome proof (coordinator key over the welcome transcript). */
export const welcomeDomain = 'quorate-welcome-v1';

/** Coordinator → party, first frame of every connection. */
export interface ChallengeFrame {
  t: 'challenge';
  conn: string;
  nonce: string;
  /** The coordinator's Ed25519 identity key (64 hex). */
  coordinatorKey: string;
  /** The coordinator's heartbeat interval: the party times the connection's silence by it. */
  heartbeatMs?: number;
}

/** Party → coordinator: identity and box keys, proof of the identity key, enrolment MAC. */
export interface HelloFrame {
  t: 'hello';
  partyId: string;
  identityKey: string;
  boxKey: string;
  /** Ed25519 signature (128 hex) over {@link helloTranscript} under {@link helloDomain}. */
  proof: string;
  /** HMAC-SHA256 (64 hex) of the transcript under the party secret: first contact only. */
  enrollMac?: string;
  /** Hash of the policy file this party enforces (signing-time rules), if any. */
  policyHash?: string;
  /**
   * The operator's certificate of this party's identity and box keys (the trust anchor,
   * certificate.ts); the coordinator relays it to the peers in keygen-start.
   */
  certificate?: PartyCertificate;
  /**
   * The party's heartbeat class (issue 13): ping it every this many ms (never faster than the
   * coordinator's own interval), or `on-demand` (no detector heartbeat). Absent: the
   * coordinator's interval, as before.
   */
  heartbeatMs?: HeartbeatClass;
}

/** A heartbeat interval in ms within [heartbeatIntervalMsMin, partyHeartbeatMsMax], or none. */
export type HeartbeatClass = number | 'on-demand';

/** True iff `x` is a heartbeat class a party may announce (limits.partyHeartbeatMsMax). */
export function isHeartbeatClass(x: unknown): x is HeartbeatClass {
  if (x === 'on-demand') return true;
  return (
    typeof x === 'number' &&
    Number.isInteger(x) &&
    x >= limits.heartbeatIntervalMsMin &&
    x <= limits.partyHeartbeatMsMax
  );
}

/** Coordinator → party: proof of the coordinator key over {@link welcomeTranscript}. */
export interface WelcomeFrame {
  t: 'welcome';
  conn: string;
  proof: string;
}

/** Either way: the sender refuses the connection and closes it. */
export interface RejectFrame {
  t: 'reject';
  code: ErrorCode;
  message: string;
}

/** A signed envelope (structurally validated here; signature checked by `EnvelopeGuard`). */
export interface EnvelopeFrame {
  t: 'env';
  e: Envelope;
}

/** Any frame on a party link. */
export type Frame = ChallengeFrame | HelloFrame | WelcomeFrame | RejectFrame | EnvelopeFrame;

/** The bytes a party signs in its hello (and MACs with the party secret on first contact). */
export function helloTranscript(fields: {
  conn: string;
  nonce: string;
  partyId: string;
  identityKey: string;
  boxKey: string;
}): Uint8Array {
  const { conn, nonce, partyId, identityKey, boxKey } = fields;
  return utf8ToBytes(canonicalJson({ conn, nonce, partyId, identityKey, boxKey }));
}

/** The bytes the coordinator signs in its welcome. */
export function welcomeTranscript(fields: {
  conn: string;
  nonce: string;
  partyId: string;
  coordinatorKey: string;
}): Uint8Array {
  const { conn, nonce, partyId, coordinatorKey } = fields;
  return utf8ToBytes(canonicalJson({ conn, nonce, partyId, coordinatorKey }));
}

/** Builds a challenge frame. */
export function buildChallenge(fields: Omit<ChallengeFrame, 't'>): ChallengeFrame {
  return { t: 'challenge', ...fields };
}

/** Validates a challenge frame. */
export function validateChallenge(raw: unknown): Checked<ChallengeFrame> {
  const f = objectOf(raw);
  if (f?.['t'] !== 'challenge') return bad('not a challenge frame');
  const { conn, nonce, coordinatorKey, heartbeatMs } = f;
  if (!isIdString(conn, wireLimits.connIdLengthMax)) return bad('challenge conn invalid');
  if (!isIdString(nonce, wireLimits.connIdLengthMax)) return bad('challenge nonce invalid');
  if (!isHexOf(coordinatorKey, 64)) return bad('challenge coordinatorKey invalid');
  if (heartbeatMs !== undefined && !isFiniteNumber(heartbeatMs))
    return bad('challenge heartbeatMs invalid');
  return accepted({
    t: 'challenge',
    conn,
    nonce,
    coordinatorKey,
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
  });
}

/** Builds a hello frame (the caller signs {@link helloTranscript} for `proof`). */
export function buildHello(fields: Omit<HelloFrame, 't'>): HelloFrame {
  return { t: 'hello', ...fields };
}

/** Validates a hello frame; refusals are `QUORATE_E_ENROLLMENT_DENIED`. */
export function validateHello(raw: unknown): Checked<HelloFrame> {
  const deny = (reason: string) => refused('QUORATE_E_ENROLLMENT_DENIED', reason);
  const f = objectOf(raw);
  if (f?.['t'] !== 'hello') return deny('expected hello');
  const { partyId, identityKey, boxKey, proof, enrollMac, policyHash, heartbeatMs } = f;
  if (!isPartyIdString(partyId)) return deny('invalid party id');
  if (!isHexOf(identityKey, 64) || !isHexOf(boxKey, 64)) return deny('invalid keys');
  if (!isHexOf(proof, 128)) return deny('invalid proof');
  if (enrollMac !== undefined && !isHexOf(enrollMac, 64)) return deny('invalid enrolment MAC');
  if (policyHash !== undefined && !isHexOf(policyHash, 64)) return deny('invalid policy hash');
  const certificate =
    f['certificate'] === undefined ? undefined : parseCertificate(f['certificate']);
  if (typeof certificate === 'string') return deny(certificate);
  if (heartbeatMs !== undefined && !isHeartbeatClass(heartbeatMs))
    return deny(
      `invalid heartbeat (an integer ms up to ${limits.partyHeartbeatMsMax}, or on-demand)`,
    );
  return accepted({
    t: 'hello',
    partyId,
    identityKey,
    boxKey,
    proof,
    ...(enrollMac === undefined ? {} : { enrollMac }),
    ...(policyHash === undefined ? {} : { policyHash }),
    ...(certificate === undefined ? {} : { certificate }),
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
  });
}

/** Builds a welcome frame (the caller signs {@link welcomeTranscript} for `proof`). */
export function buildWelcome(fields: Omit<WelcomeFrame, 't'>): WelcomeFrame {
  return { t: 'welcome', ...fields };
}

/** Validates a welcome frame. */
export function validateWelcome(raw: unknown): Checked<WelcomeFrame> {
  const f = objectOf(raw);
  if (f?.['t'] !== 'welcome') return bad('not a welcome frame');
  const { conn, proof } = f;
  if (!isIdString(conn, wireLimits.connIdLengthMax)) return bad('welcome conn invalid');
  if (!isHexOf(proof, 128)) return bad('welcome proof invalid');
  return accepted({ t: 'welcome', conn, proof });
}

/** Builds a reject frame (the reason is cut to `reasonLengthMax`). */
export function buildReject(code: ErrorCode, message: string): RejectFrame {
  return { t: 'reject', code, message: message.slice(0, wireLimits.reasonLengthMax) };
}

/** Validates a reject frame. */
export function validateReject(raw: unknown): Checked<RejectFrame> {
  const f = objectOf(raw);
  if (f?.['t'] !== 'reject') return bad('not a reject frame');
  const { code, message } = f;
  if (!isErrorCode(code)) return bad('reject code unknown');
  if (!isShortString(message, wireLimits.reasonLengthMax)) return bad('reject message invalid');
  return accepted({ t: 'reject', code, message });
}

/** Builds the frame that carries a signed envelope. */
export function buildEnvelopeFrame(e: Envelope): EnvelopeFrame {
  return { t: 'env', e };
}

/** Validates an envelope frame and the envelope's structure (not its signature). */
export function validateEnvelopeFrame(raw: unknown): Checked<EnvelopeFrame> {
  const f = objectOf(raw);
  if (f?.['t'] !== 'env') return bad('not an envelope frame');
  const e = validateEnvelope(f['e']);
  return e.ok ? accepted({ t: 'env', e: e.value }) : e;
}

/** Validates any frame by its `t`; unknown or missing `t` is refused. */
export function validateFrame(raw: unknown): Checked<Frame> {
  switch (objectOf(raw)?.['t']) {
    case 'challenge':
      return validateChallenge(raw);
    case 'hello':
      return validateHello(raw);
    case 'welcome':
      return validateWelcome(raw);
    case 'reject':
      return validateReject(raw);
    case 'env':
      return validateEnvelopeFrame(raw);
    default:
      return bad('frame is not an object with a known t');
  }
}

// ---------------------------------------------------------------------------------------------
// Envelopes

/** Envelope kinds. */
export type EnvelopeKind =
  | 'sign-start'
  | 'keygen-start'
  | 'epoch-test'
  | 'epoch'
  | 'protocol'
  | 'discard'
  | 'refuse'
  | 'ping'
  | 'pong';

/** Every envelope kind, in no particular order. */
export const envelopeKinds: readonly EnvelopeKind[] = [
  'sign-start',
  'keygen-start',
  'epoch-test',
  'epoch',
  'protocol',
  'discard',
  'refuse',
  'ping',
  'pong',
];

/** An envelope without its signature. */
export interface UnsignedEnvelope {
  v: 1;
  kind: EnvelopeKind;
  sessionId: string;
  attempt: number;
  token: number;
  round: number;
  from: string;
  to: string;
  conn: string;
  seq: number;
  body: Payload;
}

/** A signed envelope as it travels. */
export interface Envelope extends UnsignedEnvelope {
  sig: string;
}

/** What a builder produces: the fields of an envelope its connection's sender completes. */
export type EnvelopeFields = Omit<UnsignedEnvelope, 'v' | 'from' | 'to' | 'conn' | 'seq'>;

/** Which session, attempt and fencing token an envelope belongs to. */
export interface Addressing {
  sessionId: string;
  attempt: number;
  token: number;
}

const isEnvelopeKind = (x: unknown): x is EnvelopeKind => envelopeKinds.some((k) => k === x);
const isEnvelopeString = (x: unknown): x is string => isShortString(x, 128);

/** Structural validation of an untrusted envelope (its signature is the guard's job). */
export function validateEnvelope(raw: unknown): Checked<Envelope> {
  const e = objectOf(raw);
  if (!e) return bad('envelope is not an object');
  if (e['v'] !== 1) return bad('unsupported envelope version');
  const { kind, sessionId, from, to, conn, attempt, token, round, seq, sig } = e;
  if (!isEnvelopeKind(kind)) return bad('unknown envelope kind');
  const notString = (key: string) => bad(`envelope field ${key} is not a short string`);
  const notNat = (key: string) => bad(`envelope field ${key} is not a non-negative integer`);
  if (!isEnvelopeString(sessionId)) return notString('sessionId');
  if (!isEnvelopeString(from)) return notString('from');
  if (!isEnvelopeString(to)) return notString('to');
  if (!isEnvelopeString(conn)) return notString('conn');
  if (!isNat(attempt)) return notNat('attempt');
  if (!isNat(token)) return notNat('token');
  if (!isNat(round)) return notNat('round');
  if (!isNat(seq)) return notNat('seq');
  const body = objectOf(e['body']);
  if (!body) return bad('envelope body is not an object');
  if (!isHexOf(sig, 128)) return bad('envelope signature malformed');
  return accepted({ v: 1, kind, sessionId, attempt, token, round, from, to, conn, seq, body, sig });
}

function fieldsOf(
  kind: EnvelopeKind,
  at: Addressing,
  round: number,
  body: Payload,
): EnvelopeFields {
  return { kind, sessionId: at.sessionId, attempt: at.attempt, token: at.token, round, body };
}

// ---------------------------------------------------------------------------------------------
// sign-start

/** The policy block of a governed sign-start: each party checks its own rules against it. */
export interface SignPolicyBlock {
  tier: string;
  policyHash: string;
  context: RuleRequestContext;
  approvals: SignedApproval[];
}

/** Coordinator → party: take part in attempt (sessionId, attempt, token) of a signing. */
export interface SignStartBody {
  walletId: string;
  intentKey: string;
  messageHex: string;
  messageHash: string;
  /** The parties asked (hedged first round: the candidates, of which `quorumSize` sign). */
  signers: string[];
  /**
   * Hedged first round: how many of `signers` sign; the round-2 message names them, and each
   * party checks that set before it releases its share. Absent: all of `signers`, fixed now.
   */
  quorumSize?: number;
  /** The session's absolute deadline on the coordinator's wall clock (ms). */
  deadlineMs: number;
  /** Time left until the session deadline when the coordinator sent this (ms). */
  remainingMs: number;
  /** Governed wallets: what each party's own rules are evaluated against. */
  policy?: SignPolicyBlock;
  /**
   * Box keys (X25519, hex) of the signers, for engines whose rounds seal party-to-party
   * messages (the coordinator relays what it cannot read). FROST needs none.
   */
  boxKeys?: Record<string, string>;
  /**
   * With `boxKeys`: the operator's certificates of the signers' keys, as each proved them to the
   * coordinator. A party that pins an operator key seals to no peer whose box key is not the
   * one its certificate names (src/party/signing.ts), so a coordinator cannot put its own key
   * in a peer's place and read, or forge, what the signers send each other.
   */
  certificates?: Record<string, PartyCertificate>;
  /**
   * An EVM transaction (ecdsa) whose digest `messageHex` is: the party decodes it itself,
   * checks the digest, and holds its rules to the transaction's facts, not to claims.
   */
  transaction?: { type: 'eip1559' | 'legacy'; hex: string };
  /** ecdsa: the BIP32 path of the child key that signs; the party derives its child share. */
  derivationPath?: string;
  /**
   * The wallet's active key epoch as the store has it (absent: 0). A party refuses any other
   * epoch than its own active one, except that its staged next epoch becomes active here: the
   * coordinator names it only once the store flipped (docs/key-lifecycle.md).
   */
  epoch?: number;
}

/** Builds a sign-start envelope (round 0). */
export function buildSignStart(at: Addressing, body: SignStartBody): EnvelopeFields {
  return fieldsOf('sign-start', at, 0, { ...body });
}

/** Validates an untrusted policy block. */
export function validatePolicyBlock(raw: unknown): Checked<SignPolicyBlock> {
  const b = objectOf(raw);
  if (!b) return bad('policy block is not an object');
  const { tier, policyHash } = b;
  if (!isIdString(tier, wireLimits.tierLengthMax) || !isHexOf(policyHash, 64))
    return bad('policy tier/hash missing');
  const context = objectOf(b['context']);
  if (!context) return bad('policy context invalid');
  const fields: [string, string][] = [];
  for (const [key, value] of Object.entries(context)) {
    if (!isShortString(value, limits.contextFieldLengthMax))
      return bad('policy context fields must be strings');
    fields.push([key, value]);
  }
  // fromEntries defines own properties: no key (not even `__proto__`) reaches a prototype.
  const ctx = Object.fromEntries(fields);
  const approvals = b['approvals'];
  if (!Array.isArray(approvals) || approvals.length > ruleLimits.approvalsPerCheckMax)
    return bad('approvals invalid');
  const list: SignedApproval[] = [];
  for (const a of approvals) {
    const x = objectOf(a);
    const approverId = x?.['approverId'];
    const signature = x?.['signature'];
    const max = wireLimits.approvalFieldLengthMax;
    if (!isShortString(approverId, max) || !isShortString(signature, max))
      return bad('approval invalid');
    list.push({ approverId, signature });
  }
  return accepted({ tier, policyHash, context: ctx, approvals: list });
}

/** Validates a sign-start body. */
export function validateSignStart(raw: unknown): Checked<SignStartBody> {
  const b = objectOf(raw);
  if (!b) return bad('sign-start body is not an object');
  const { walletId, intentKey, messageHex, messageHash, deadlineMs, remainingMs } = b;
  if (!isFiniteNumber(deadlineMs)) return bad('deadlineMs invalid');
  if (!isFiniteNumber(remainingMs) || remainingMs > limits.sessionDeadlineMsMax)
    return bad('remainingMs invalid');
  if (
    !isShortString(messageHex, limits.messageBytesMax * 2) ||
    !/^(?:[0-9a-f]{2})*$/.test(messageHex)
  )
    return bad('messageHex invalid');
  if (!isWalletId(walletId)) return bad('walletId invalid');
  if (!isIdString(intentKey, limits.intentKeyLengthMax)) return bad('intentKey invalid');
  if (!isHexOf(messageHash, 64)) return bad('messageHash invalid');
  const signers = partyList(b['signers']);
  if (!signers) return bad('signers invalid');
  const quorumSize = b['quorumSize'];
  if (
    quorumSize !== undefined &&
    !(
      Number.isInteger(quorumSize) &&
      Number(quorumSize) >= 1 &&
      Number(quorumSize) <= signers.length
    )
  )
    return bad('quorumSize invalid');
  const policy = b['policy'] === undefined ? undefined : validatePolicyBlock(b['policy']);
  if (policy?.ok === false) return policy;
  const boxKeys = b['boxKeys'] === undefined ? undefined : boxKeyMap(b['boxKeys']);
  if (b['boxKeys'] !== undefined && !boxKeys) return bad('boxKeys invalid');
  const certificates =
    b['certificates'] === undefined ? undefined : certificateMap(b['certificates']);
  if (typeof certificates === 'string') return bad(certificates);
  const transaction = b['transaction'] === undefined ? undefined : transactionOf(b['transaction']);
  if (b['transaction'] !== undefined && !transaction) return bad('transaction invalid');
  const derivationPath = b['derivationPath'];
  const epoch = b['epoch'];
  if (epoch !== undefined && !isNat(epoch)) return bad('epoch invalid');
  if (
    derivationPath !== undefined &&
    !(
      isShortString(derivationPath, limits.derivationPathLengthMax) &&
      /^m(\/\d+)*$/.test(derivationPath)
    )
  )
    return bad('derivationPath invalid');
  return accepted({
    walletId,
    intentKey,
    messageHex,
    messageHash,
    signers,
    ...(typeof quorumSize === 'number' ? { quorumSize } : {}),
    deadlineMs,
    remainingMs,
    ...(policy === undefined ? {} : { policy: policy.value }),
    ...(boxKeys === undefined ? {} : { boxKeys }),
    ...(certificates === undefined ? {} : { certificates }),
    ...(transaction === undefined ? {} : { transaction }),
    ...(typeof derivationPath === 'string' ? { derivationPath } : {}),
    ...(typeof epoch === 'number' ? { epoch } : {}),
  });
}

/** A sign-start's transaction: its type and even-length lower-case hex, bounded. */
function transactionOf(raw: unknown): SignStartBody['transaction'] | undefined {
  const t = objectOf(raw);
  if (!t || Object.keys(t).length !== 2) return undefined;
  const { type, hex } = t;
  if (type !== 'eip1559' && type !== 'legacy') return undefined;
  if (!isShortString(hex, limits.messageBytesMax * 2) || !/^(?:[0-9a-f]{2})+$/.test(hex))
    return undefined;
  return { type, hex };
}

// ---------------------------------------------------------------------------------------------
// keygen-start

/** Coordinator → party: take part in a distributed key generation. */
export interface KeygenStartBody {
  walletId: string;
  scheme: Scheme;
  threshold: number;
  parties: string[];
  /** Every participant's box key: round-2 shares are sealed to their recipient. */
  boxKeys: Record<string, string>;
  /**
   * The operator's certificates of the participants' keys, as each proved them to the
   * coordinator. A party that pins an operator key seals nothing to a box key without one.
   */
  certificates?: Record<string, PartyCertificate>;
  /** Policy tier the new wallet is bound to (checked against the party's own policy). */
  tier?: string;
  /**
   * Set for a refresh or reshare of an existing wallet (src/protocol/reshare.ts): `parties` and
   * `threshold` are then the new epoch's, and `boxKeys` (and `certificates`) cover the dealers.
   */
  reshare?: ReshareBlock;
}

/** What makes a keygen-start a refresh or reshare of the wallet's current epoch. */
export interface ReshareBlock {
  operationId: string;
  kind: 'refresh' | 'reshare';
  /** The active epoch the dealers hold shares of; the new shares are of `fromEpoch + 1`. */
  fromEpoch: number;
  /** A threshold of the current epoch's parties: they deal. */
  dealers: string[];
  /** The current epoch's threshold (the dealers are exactly that many). */
  oldThreshold: number;
  /** The current epoch's public package (a party that holds a share checks it against its own). */
  oldPublicPackage: Payload;
  /**
   * A reshare: the operator's Ed25519 signature (128 hex) over {@link reshareAuthorization}.
   * A dealer deals a reshare only with it (the coordinator cannot choose who receives the key);
   * a refresh needs none (it keeps the dealer's own threshold and parties).
   */
  authorization?: string;
}

/** Domain separating reshare authorizations (the operator key) from every other signature. */
export const reshareAuthorizationDomain = 'quorate-reshare-authorization-v1';

/** The bytes the operator signs to allow resharing `walletId` from `fromEpoch` to (t, parties). */
export function reshareAuthorization(fields: {
  walletId: string;
  fromEpoch: number;
  threshold: number;
  parties: readonly string[];
}): Uint8Array {
  const { walletId, fromEpoch, threshold, parties } = fields;
  return utf8ToBytes(canonicalJson({ walletId, fromEpoch, threshold, parties }));
}

/** The session id of the run that makes `epoch` for `operationId` (bound into confirmations). */
export function reshareRunId(operationId: string, epoch: number): string {
  return `${operationId}.${epoch}`;
}

/** The participants of a keygen-start: its parties, and for a reshare its dealers too. */
export function keygenParticipants(body: Pick<KeygenStartBody, 'parties' | 'reshare'>): string[] {
  return body.reshare === undefined
    ? body.parties
    : reshareParticipants(body.reshare.dealers, body.parties);
}

function reshareBlockOf(raw: unknown): ReshareBlock | string {
  const r = objectOf(raw);
  if (!r) return 'reshare block invalid';
  const { operationId, kind, fromEpoch, oldThreshold } = r;
  if (!isIdString(operationId, wireLimits.walletIdLengthMax)) return 'reshare operationId invalid';
  if (kind !== 'refresh' && kind !== 'reshare') return 'reshare kind invalid';
  if (!isNat(fromEpoch) || fromEpoch >= Number.MAX_SAFE_INTEGER) return 'reshare fromEpoch invalid';
  const dealers = partyList(r['dealers']);
  if (!dealers || dealers.length === 0) return 'reshare dealers invalid';
  if (!isNat(oldThreshold) || oldThreshold !== dealers.length)
    return 'reshare dealers are not a threshold of the current epoch';
  const oldPublicPackage = objectOf(r['oldPublicPackage']);
  if (!oldPublicPackage) return 'reshare oldPublicPackage invalid';
  const authorization = r['authorization'];
  if (authorization !== undefined && !isHexOf(authorization, 128))
    return 'reshare authorization invalid';
  return {
    operationId,
    kind,
    fromEpoch,
    dealers,
    oldThreshold,
    oldPublicPackage,
    ...(typeof authorization === 'string' ? { authorization } : {}),
  };
}

/** Builds a keygen-start envelope (attempt 1, token 1, round 0: a keygen is never retried). */
export function buildKeygenStart(keygenId: string, body: KeygenStartBody): EnvelopeFields {
  return fieldsOf('keygen-start', { sessionId: keygenId, attempt: 1, token: 1 }, 0, { ...body });
}

const isScheme = (x: unknown): x is Scheme => schemes.some((s) => s === x);

/** Validates a keygen-start body. */
export function validateKeygenStart(raw: unknown): Checked<KeygenStartBody> {
  const b = objectOf(raw);
  if (!b) return bad('keygen-start body is not an object');
  const { walletId, scheme, threshold, tier } = b;
  if (!isScheme(scheme)) return refused('QUORATE_E_UNSUPPORTED_SCHEME', 'unknown scheme');
  const parties = partyList(b['parties']);
  if (!parties) return bad('parties invalid');
  if (!isNat(threshold) || threshold < 1 || threshold > parties.length)
    return refused('QUORATE_E_INVALID_THRESHOLD', 'bad threshold');
  const reshare = b['reshare'] === undefined ? undefined : reshareBlockOf(b['reshare']);
  if (typeof reshare === 'string') return bad(reshare);
  const everyone = keygenParticipants({ parties, ...(reshare === undefined ? {} : { reshare }) });
  const boxKeys = boxKeyMap(b['boxKeys']);
  if (!boxKeys || everyone.some((p) => !Object.hasOwn(boxKeys, p))) return bad('boxKeys invalid');
  const certificates =
    b['certificates'] === undefined ? undefined : certificateMap(b['certificates']);
  if (typeof certificates === 'string') return bad(certificates);
  if (tier !== undefined && !isIdString(tier, wireLimits.tierLengthMax)) return bad('tier invalid');
  if (!isWalletId(walletId)) return bad('walletId invalid');
  return accepted({
    walletId,
    scheme,
    threshold,
    parties,
    boxKeys,
    ...(certificates === undefined ? {} : { certificates }),
    ...(tier === undefined ? {} : { tier }),
    ...(reshare === undefined ? {} : { reshare }),
  });
}

// ---------------------------------------------------------------------------------------------
// Key generation confirmation (A3): after the engine's last round, every party signs the
// transcript of the public result with its identity key; the coordinator relays all n
// confirmations; a party activates its share only if every confirmation verifies and names the
// same transcript. Rounds above any engine's own.

/** Party → coordinator: `{confirm}`, sent with the engine's last messages. */
export const keygenConfirmRound = 90;
/** Coordinator → party: `{confirmations}` of all participants; party → coordinator: `{activated}`. */
export const keygenActivateRound = 91;
/** Domain separating confirmation signatures (identity key) from every other use. */
export const keygenConfirmDomain = 'quorate-keygen-confirm-v1';

/** One party's signed view of a key generation's public result. */
export interface KeygenConfirmation {
  /** SHA-256 (64 hex) of {@link keygenTranscript}'s input. */
  transcript: string;
  /** The group public key this party derived (hex). */
  publicKey: string;
  /** Ed25519 signature (128 hex) by the party's identity key over {@link confirmationStatement}. */
  signature: string;
}

/**
 * The transcript of a finished key generation: its ids, parameters and public result. Parties
 * that saw different broadcasts (an equivocating relay) derive different public packages, so
 * their transcripts differ.
 */
export function keygenTranscript(fields: {
  walletId: string;
  keygenId: string;
  scheme: Scheme;
  threshold: number;
  parties: readonly string[];
  /** Every participant's box key as keygen-start gave it: parties agree on whom they sealed to. */
  boxKeys: Record<string, string>;
  /** The policy tier the wallet is bound to (none: ungoverned). */
  tier: string | undefined;
  publicKey: string;
  publicPackage: Payload;
  /** A refresh or reshare: which epoch it replaces, who dealt, and that epoch's public package. */
  reshare?: ReshareBlock | undefined;
}): string {
  const { walletId, keygenId, scheme, threshold, parties, boxKeys, publicKey, publicPackage } =
    fields;
  const tier = fields.tier ?? null;
  const view = {
    v: 1,
    walletId,
    keygenId,
    scheme,
    threshold,
    parties,
    boxKeys,
    tier,
    publicKey,
    publicPackage,
    // Absent for a key generation, so its transcript is what it always was.
    ...(fields.reshare === undefined ? {} : { reshare: fields.reshare }),
  };
  return sha256Hex(utf8ToBytes(canonicalJson(view)));
}

/** The bytes a party signs to confirm `transcript` for (wallet, keygen). */
export function confirmationStatement(fields: {
  walletId: string;
  keygenId: string;
  partyId: string;
  transcript: string;
}): Uint8Array {
  const { walletId, keygenId, partyId, transcript } = fields;
  return utf8ToBytes(canonicalJson({ walletId, keygenId, partyId, transcript }));
}

/**
 * True if `confirm` carries `partyId`'s signature, under its identity key `identityKey` (hex),
 * over its transcript of this (wallet, keygen). Both the coordinator and every party check it.
 */
export function confirmationVerifies(
  at: { walletId: string; keygenId: string; partyId: string },
  confirm: KeygenConfirmation,
  identityKey: string,
): boolean {
  const statement = confirmationStatement({ ...at, transcript: confirm.transcript });
  return verifyDetached(
    keygenConfirmDomain,
    statement,
    hexToBytes(confirm.signature),
    hexToBytes(identityKey),
  );
}

function confirmationOf(raw: unknown): KeygenConfirmation | undefined {
  const c = objectOf(raw);
  if (!c) return undefined;
  const { transcript, publicKey, signature } = c;
  if (!isHexOf(transcript, 64) || !isHexOf(signature, 128)) return undefined;
  if (typeof publicKey !== 'string' || publicKey.length > 2 * wireLimits.publicKeyBytesMax)
    return undefined;
  if (!/^[0-9a-f]+$/.test(publicKey) || publicKey.length % 2 !== 0) return undefined;
  return { transcript, publicKey, signature };
}

/** The payload of a party's confirmation. */
export function buildConfirmPayload(confirm: KeygenConfirmation): Payload {
  return { confirm: { ...confirm } };
}

/** Validates a party's confirmation payload. */
export function validateConfirmPayload(raw: Payload): Checked<KeygenConfirmation> {
  const confirm = confirmationOf(raw['confirm']);
  return confirm ? accepted(confirm) : bad('confirmation invalid');
}

/** The payload relaying every participant's confirmation. */
export function buildActivatePayload(all: Record<string, KeygenConfirmation>): Payload {
  return { confirmations: { ...all } };
}

/** Validates relayed confirmations: exactly one per participant in `parties`. */
export function validateActivatePayload(
  raw: Payload,
  parties: readonly string[],
): Checked<Record<string, KeygenConfirmation>> {
  const o = objectOf(raw['confirmations']);
  if (!o) return bad('confirmations missing');
  if (Object.keys(o).length !== parties.length) return bad('confirmations of other parties');
  const checked: [string, KeygenConfirmation][] = [];
  for (const partyId of parties) {
    const confirm = Object.hasOwn(o, partyId) ? confirmationOf(o[partyId]) : undefined;
    if (!confirm) return bad(`confirmation of ${partyId} missing or invalid`);
    checked.push([partyId, confirm]);
  }
  return accepted(Object.fromEntries(checked));
}

/** The payload a party sends once its share is stored: the transcript it activated. */
export function buildActivatedPayload(transcript: string): Payload {
  return { activated: transcript };
}

/** Validates an activation acknowledgement. */
export function validateActivatedPayload(raw: Payload): Checked<string> {
  const t = raw['activated'];
  return isHexOf(t, 64) ? accepted(t) : bad('activation acknowledgement invalid');
}

// ---------------------------------------------------------------------------------------------
// epoch-test and epoch: the lifecycle's test signature, and its commit or abandon

/** Coordinator → party: sign the fixed test message with the staged share of `epoch`. */
export interface EpochTestBody {
  walletId: string;
  operationId: string;
  epoch: number;
  /** The new epoch's parties that sign (its threshold many). */
  signers: string[];
}

/** Builds an epoch-test envelope (session: the operation's test run; round 0). */
export function buildEpochTest(at: Addressing, body: EpochTestBody): EnvelopeFields {
  return fieldsOf('epoch-test', at, 0, { ...body });
}

/** Validates an epoch-test body. */
export function validateEpochTest(raw: unknown): Checked<EpochTestBody> {
  const b = objectOf(raw);
  if (!b) return bad('epoch-test body is not an object');
  const { walletId, operationId, epoch } = b;
  if (!isWalletId(walletId)) return bad('walletId invalid');
  if (!isIdString(operationId, wireLimits.walletIdLengthMax)) return bad('operationId invalid');
  if (!isNat(epoch) || epoch === 0) return bad('epoch invalid');
  const signers = partyList(b['signers']);
  if (!signers || signers.length === 0) return bad('signers invalid');
  return accepted({ walletId, operationId, epoch, signers });
}

/** The message a lifecycle's test signature signs: fixed by the operation, never a request's. */
export function epochTestMessage(walletId: string, operationId: string, epoch: number): Uint8Array {
  return utf8ToBytes(
    canonicalJson({ domain: 'quorate-epoch-test-v1', walletId, operationId, epoch }),
  );
}

/**
 * Coordinator → party: the store flipped the wallet to `epoch` (`commit`: the staged share of
 * this operation becomes active), or the operation ended without a flip (`abandon`: its staged
 * share is erased). A party of the old epoch that is not of the new one erases its share on a
 * commit only against `evidence`: every new party's signed statement that it promoted.
 */
export interface EpochBody {
  walletId: string;
  operationId: string;
  epoch: number;
  action: 'commit' | 'abandon';
  evidence?: EpochEvidence;
}

/**
 * Proof that an epoch is active: its threshold, parties and group key, each party's signature
 * over {@link promotionStatement} (its identity key), and their operator certificates.
 */
export interface EpochEvidence {
  threshold: number;
  parties: string[];
  publicKey: string;
  signatures: Record<string, string>;
  certificates: Record<string, PartyCertificate>;
}

/** Domain separating promotion statements (identity key) from every other signature. */
export const promotionDomain = 'quorate-epoch-promoted-v1';

/** The bytes a party signs once it made `epoch` active with its new share. */
export function promotionStatement(fields: {
  walletId: string;
  operationId: string;
  epoch: number;
  threshold: number;
  parties: readonly string[];
  publicKey: string;
  partyId: string;
}): Uint8Array {
  const { walletId, operationId, epoch, threshold, parties, publicKey, partyId } = fields;
  return utf8ToBytes(
    canonicalJson({ walletId, operationId, epoch, threshold, parties, publicKey, partyId }),
  );
}

/** Builds an epoch envelope. */
export function buildEpoch(at: Addressing, body: EpochBody): EnvelopeFields {
  return fieldsOf('epoch', at, 0, { ...body });
}

/** Validates an epoch body. */
export function validateEpoch(raw: unknown): Checked<EpochBody> {
  const b = objectOf(raw);
  if (!b) return bad('epoch body is not an object');
  const { walletId, operationId, epoch, action } = b;
  if (!isWalletId(walletId)) return bad('walletId invalid');
  if (!isIdString(operationId, wireLimits.walletIdLengthMax)) return bad('operationId invalid');
  if (!isNat(epoch) || epoch === 0) return bad('epoch invalid');
  if (action !== 'commit' && action !== 'abandon') return bad('action invalid');
  if (b['evidence'] === undefined) return accepted({ walletId, operationId, epoch, action });
  const evidence = epochEvidenceOf(b['evidence']);
  if (typeof evidence === 'string') return bad(evidence);
  return accepted({ walletId, operationId, epoch, action, evidence });
}

function epochEvidenceOf(raw: unknown): EpochEvidence | string {
  const ev = objectOf(raw);
  if (!ev) return 'evidence invalid';
  const { threshold, publicKey } = ev;
  const parties = partyList(ev['parties']);
  if (!parties || parties.length === 0) return 'evidence parties invalid';
  if (!isNat(threshold) || threshold < 1 || threshold > parties.length)
    return 'evidence threshold invalid';
  if (
    !isShortString(publicKey, 2 * wireLimits.publicKeyBytesMax) ||
    !/^(?:[0-9a-f]{2})+$/.test(publicKey)
  )
    return 'evidence publicKey invalid';
  const sigs = objectOf(ev['signatures']);
  if (!sigs || Object.keys(sigs).length > limits.partiesMax) return 'evidence signatures invalid';
  const signatures: [string, string][] = [];
  for (const [partyId, sig] of Object.entries(sigs)) {
    if (!isPartyId(partyId) || !isHexOf(sig, 128)) return 'evidence signature invalid';
    signatures.push([partyId, sig]);
  }
  const certificates = certificateMap(ev['certificates']);
  if (typeof certificates === 'string') return certificates;
  return {
    threshold,
    parties,
    publicKey,
    signatures: Object.fromEntries(signatures),
    certificates,
  };
}

/** Party → coordinator: what it did with an epoch frame (`promoted`, `erased`, `kept`…). */
export const epochAckRound = 95;

/** An acknowledgement of an epoch frame; a promotion carries the party's signed statement. */
export interface EpochAck {
  epoch: number;
  outcome: string;
  /** After `promoted`: the signature over {@link promotionStatement} (128 hex). */
  promotion?: string;
}

/** The payload acknowledging an epoch frame. */
export function buildEpochAck(ack: EpochAck): Payload {
  return { epochAck: { ...ack } };
}

/** Validates an epoch acknowledgement. */
export function validateEpochAck(raw: Payload): Checked<EpochAck> {
  const a = objectOf(raw['epochAck']);
  if (!a || !isNat(a['epoch']) || !isIdString(a['outcome'], 32)) return bad('epoch ack invalid');
  const promotion = a['promotion'];
  if (promotion !== undefined && !isHexOf(promotion, 128)) return bad('epoch ack invalid');
  return accepted({
    epoch: a['epoch'],
    outcome: a['outcome'],
    ...(typeof promotion === 'string' ? { promotion } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// protocol, discard, refuse, ping, pong

/**
 * Builds a protocol envelope carrying one engine message's payload (either way). Party-to-party
 * messages travel as payloads to and from the coordinator, sealed by the engine to their
 * recipient; the coordinator's role relays them.
 */
export function buildProtocol(at: Addressing, round: number, payload: Payload): EnvelopeFields {
  return fieldsOf('protocol', at, round, payload);
}

/** Validates a protocol body: any JSON object (its fields are the engine's to validate). */
export function validateProtocol(raw: unknown): Checked<Payload> {
  const b = objectOf(raw);
  return b ? accepted(b) : bad('protocol payload is not an object');
}

/** Coordinator → party: forget this attempt (and any older one) of the session. */
export interface DiscardBody {
  reason: string;
}

/** Builds a discard envelope (round 0). */
export function buildDiscard(at: Addressing, reason: string): EnvelopeFields {
  return fieldsOf('discard', at, 0, { reason: reason.slice(0, wireLimits.reasonLengthMax) });
}

/** Validates a discard body. */
export function validateDiscard(raw: unknown): Checked<DiscardBody> {
  const reason = objectOf(raw)?.['reason'];
  if (!isShortString(reason, wireLimits.reasonLengthMax)) return bad('discard reason invalid');
  return accepted({ reason });
}

/** Party → coordinator: the party will not take part. `hard`: do not ask it again. */
export interface RefuseBody {
  code: ErrorCode;
  reason: string;
  hard: boolean;
}

/** Builds a refuse envelope answering round `round` of an attempt. */
export function buildRefuse(at: Addressing, round: number, body: RefuseBody): EnvelopeFields {
  const reason = body.reason.slice(0, wireLimits.reasonLengthMax);
  return fieldsOf('refuse', at, round, { code: body.code, reason, hard: body.hard });
}

/** Validates a refuse body (an unknown code is refused, never passed on). */
export function validateRefuse(raw: unknown): Checked<RefuseBody> {
  const b = objectOf(raw);
  if (!b) return bad('refuse body is not an object');
  const { code, reason, hard } = b;
  if (!isErrorCode(code)) return bad('refuse code unknown');
  if (!isShortString(reason, wireLimits.reasonLengthMax)) return bad('refuse reason invalid');
  if (typeof hard !== 'boolean') return bad('refuse hard flag invalid');
  return accepted({ code, reason, hard });
}

/** What a refusal envelope's body says, for a log line or an error: its code and reason. */
export function refusalText(raw: unknown): string {
  const refusal = validateRefuse(raw);
  return refusal.ok ? `${refusal.value.code} ${refusal.value.reason}` : refusal.reason;
}

/** The empty addressing of heartbeats (they belong to no session). */
const noSession: Addressing = { sessionId: '', attempt: 0, token: 0 };

/** Builds a heartbeat ping (coordinator → party). */
export function buildPing(): EnvelopeFields {
  return fieldsOf('ping', noSession, 0, {});
}

/** Validates a ping body (empty object; extra fields are ignored). */
export function validatePing(raw: unknown): Checked<Record<string, never>> {
  return objectOf(raw) ? accepted({}) : bad('ping body is not an object');
}

/** Party → coordinator: answers the ping whose envelope sequence number is `echo`. */
export interface PongBody {
  echo: number;
}

/** Builds a pong answering the ping with sequence number `echo`. */
export function buildPong(echo: number): EnvelopeFields {
  return fieldsOf('pong', noSession, 0, { echo });
}

/** Validates a pong body. */
export function validatePong(raw: unknown): Checked<PongBody> {
  const echo = objectOf(raw)?.['echo'];
  return isNat(echo) ? accepted({ echo }) : bad('pong echo invalid');
}
