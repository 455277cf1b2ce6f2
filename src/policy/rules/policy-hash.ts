/**
 * The canonical hash that pins a policy file: sha256 over the domain tag and the canonical JSON
 * (sorted keys, no whitespace) of the parsed document. YAML or JSON, comments, key order, quoting
 * and layout do not change it; any change of data does. Parties refuse to act under a policy whose
 * hash differs from the one they pinned.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../../core/encoding.ts';
import { parsePolicyDocument } from '../parse-policy-text.ts';
import { childPath, policyInvalid } from '../policy-field-reader.ts';

/** Domain separation: a policy hash can never equal a hash of anything else Quorate signs. */
const policyHashDomain = 'quorate/policy/v1\n';

/**
 * Hex sha256 of the canonical form of a policy: `source` is the file's text (parsed as YAML/JSON)
 * or an already parsed document. Throws `QUORATE_E_POLICY_INVALID` on a syntax error or a value
 * JSON cannot represent exactly (non-finite numbers).
 */
export function policyHash(source: string | Readonly<Record<string, unknown>>): string {
  const document = typeof source === 'string' ? parsePolicyDocument(source) : source;
  assertJsonData(document, '');
  return bytesToHex(sha256(utf8ToBytes(policyHashDomain + canonicalJson(document))));
}

/** Rejects values canonical JSON would blur (NaN and ±Infinity all serialise as null). */
function assertJsonData(value: unknown, path: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw policyInvalid(path || '(root)', 'is not a finite number');
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJsonData(item, childPath(path, i)));
    return;
  }
  const isPlain =
    typeof value === 'object' &&
    (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);
  if (!isPlain) throw policyInvalid(path || '(root)', 'is not plain JSON data');
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    assertJsonData(item, childPath(path, key));
  }
}
