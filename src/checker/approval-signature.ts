/**
 * The checker's own reading of an approval signature. It derives the signed bytes from the
 * stored session itself (domain tag ‖ canonical JSON of the session's subject, as approvers sign
 * them: docs/policy.md) instead of asking the policy module that the coordinator uses, so a
 * coordinator that counted a signature over the wrong bytes is caught, not agreed with.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { canonicalJson, isHex, utf8ToBytes } from '../core/encoding.ts';
import type { StoredSession } from './types.ts';

/** The domain tag approvers put in front of the subject (quorate/approval/v1). */
const approvalDomain = 'quorate/approval/v1\n';

/** The bytes an approver signs for `session` under `policyHash`. */
export function approvalBytes(session: StoredSession, policyHash: string): Uint8Array {
  const { sessionId, walletId, intentKey, messageHash } = session;
  const subject = { sessionId, walletId, intentKey, messageHash, context: session.context ?? {} };
  return utf8ToBytes(approvalDomain + canonicalJson({ ...subject, policyHash }));
}

/**
 * True if `signatureHex` is a strict (RFC 8032, no ZIP-215 leniency) Ed25519 signature by
 * `publicKeyHex` over `message`; false, never a throw, on malformed input.
 */
export function approvalVerifies(
  publicKeyHex: string,
  message: Uint8Array,
  signatureHex: string,
): boolean {
  if (!isHex(signatureHex) || signatureHex.length !== 128) return false;
  if (!isHex(publicKeyHex) || publicKeyHex.length !== 64) return false;
  try {
    return ed25519.verify(hexToBytes(signatureHex), message, hexToBytes(publicKeyHex), {
      zip215: false,
    });
  } catch {
    return false;
  }
}
