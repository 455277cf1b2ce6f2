/**
 * Party certificates: the trust anchor that is not the coordinator. An operator holds an
 * Ed25519 key offline (`quorate operator init`) and certifies each party's identity key and box
 * key under its party id (`quorate operator certify`). Every party pins the operator's public
 * key. A party sends its certificate in its hello; the coordinator relays the peers'
 * certificates in keygen-start; each party checks every peer's certificate against the operator
 * key it pins before it seals a share to that peer's box key. A coordinator that substitutes a
 * box key or an identity key cannot produce the operator's signature over it, so the key
 * generation is refused (`QUORATE_E_UNTRUSTED_PEER`) instead of sealing shares to it.
 *
 * The statement signed is domain-separated and canonical (fixed field order, lower-case hex):
 * `quorate-party-certificate-v1 ‖ partyId ‖ 0 ‖ identityKey ‖ 0 ‖ boxKey ‖ 0 ‖ issuedMs`.
 */
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { isHexOf } from '../core/encoding.ts';
import { isPartyId } from '../core/ids.ts';
import { signDetached, verifyDetached } from './identity.ts';

/** Domain separating certificate signatures from every other use of the operator key. */
export const certificateDomain = 'quorate-party-certificate-v1';

/** An operator's statement that `partyId` owns `identityKey` and `boxKey`. */
export interface PartyCertificate {
  v: 1;
  partyId: string;
  /** Ed25519 identity public key (64 hex). */
  identityKey: string;
  /** X25519 box public key (64 hex). */
  boxKey: string;
  /** The operator's Ed25519 public key that signed it (64 hex). */
  operatorKey: string;
  /** When the operator issued it (ms since the epoch; informational). */
  issuedMs: number;
  /** Ed25519 signature by the operator key over the statement (128 hex). */
  signature: string;
}

/** The fields a certificate binds. */
export type CertificateSubject = Pick<PartyCertificate, 'partyId' | 'identityKey' | 'boxKey'>;

function statement(subject: CertificateSubject, issuedMs: number): Uint8Array {
  return utf8ToBytes(
    [subject.partyId, subject.identityKey, subject.boxKey, String(issuedMs)].join('\u0000'),
  );
}

/** Signs a certificate for `subject` with the operator's 32-byte Ed25519 secret. */
export function issueCertificate(
  operatorSecret: Uint8Array,
  operatorKey: Uint8Array,
  subject: CertificateSubject,
  issuedMs: number,
): PartyCertificate {
  const signature = signDetached(certificateDomain, statement(subject, issuedMs), operatorSecret);
  return {
    v: 1,
    partyId: subject.partyId,
    identityKey: subject.identityKey,
    boxKey: subject.boxKey,
    operatorKey: bytesToHex(operatorKey),
    issuedMs,
    signature: bytesToHex(signature),
  };
}

/** Checks the shape of a certificate from the wire or a file; never throws. */
export function parseCertificate(raw: unknown): PartyCertificate | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return 'certificate is not an object';
  const c = raw as Record<string, unknown>;
  const allowed = new Set([
    'v',
    'partyId',
    'identityKey',
    'boxKey',
    'operatorKey',
    'issuedMs',
    'signature',
  ]);
  const unknown = Object.keys(c).find((k) => !allowed.has(k));
  if (unknown !== undefined) return `certificate has an unknown field ${JSON.stringify(unknown)}`;
  if (c['v'] !== 1) return 'certificate version is not 1';
  if (typeof c['partyId'] !== 'string' || !isPartyId(c['partyId']))
    return 'certificate partyId invalid';
  if (!isHexOf(c['identityKey'], 64)) return 'certificate identityKey is not 64 hex';
  if (!isHexOf(c['boxKey'], 64)) return 'certificate boxKey is not 64 hex';
  if (!isHexOf(c['operatorKey'], 64)) return 'certificate operatorKey is not 64 hex';
  const issuedMs = c['issuedMs'];
  if (typeof issuedMs !== 'number' || !Number.isSafeInteger(issuedMs) || issuedMs < 0)
    return 'certificate issuedMs invalid';
  if (!isHexOf(c['signature'], 128)) return 'certificate signature is not 128 hex';
  return {
    v: 1,
    partyId: c['partyId'],
    identityKey: c['identityKey'],
    boxKey: c['boxKey'],
    operatorKey: c['operatorKey'],
    issuedMs,
    signature: c['signature'],
  };
}

/**
 * Why `cert` must not be trusted for `expected` under the pinned `operatorKey`, or undefined
 * if it may: signed by that operator key, for that party id, and (when given) for exactly
 * those identity and box keys.
 */
export function certificateProblem(
  cert: PartyCertificate,
  operatorKey: Uint8Array,
  expected: { partyId: string; identityKey?: string; boxKey?: string },
): string | undefined {
  if (cert.operatorKey !== bytesToHex(operatorKey))
    return `certificate of ${cert.partyId} is signed by another operator key`;
  if (cert.partyId !== expected.partyId)
    return `certificate names ${cert.partyId}, expected ${expected.partyId}`;
  if (expected.identityKey !== undefined && cert.identityKey !== expected.identityKey)
    return `certificate of ${cert.partyId} is for another identity key`;
  if (expected.boxKey !== undefined && cert.boxKey !== expected.boxKey)
    return `certificate of ${cert.partyId} is for another box key`;
  const ok = verifyDetached(
    certificateDomain,
    statement(cert, cert.issuedMs),
    hexToBytes(cert.signature),
    operatorKey,
  );
  return ok ? undefined : `certificate of ${cert.partyId} does not verify under the operator key`;
}
