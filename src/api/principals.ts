/**
 * API principals: who may call the HTTP API, by name. Each principal is a name and the SHA-256
 * digest of its bearer token; the token itself is never stored by the coordinator. The name of
 * the principal that authenticated a signing request becomes the request's `initiator`, which
 * signing-time rules can test (`initiator == 'treasury-bot'`): the caller cannot claim another.
 *
 * Sources: `QUORATE_API_TOKEN` / `--api-token` (one principal named `default`, holding every
 * role) and `--api-tokens FILE` (YAML or JSON, see docs/policy.md "Who is the initiator" and
 * docs/roles.md):
 *
 *     tokens:
 *       - { name: ops, sha256: <64 hex: sha256 of the token's UTF-8 bytes>, roles: [signer] }
 *
 * An entry without `roles` holds every role, as before roles existed (files written then keep
 * working); {@link implicitRoleNames} names such entries so the coordinator can warn.
 */
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { sha256 } from '../core/openssl.ts';
import { parse as parseYaml } from 'yaml';
import { bytesEqual } from '../core/encoding.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { apiRoles, isApiRole, type ApiRole } from './roles.ts';

/** One API caller identity. */
export interface ApiPrincipal {
  readonly name: string;
  /** SHA-256 of the bearer token. */
  readonly tokenSha256: Uint8Array;
  /** What the principal may do (docs/roles.md); never empty. */
  readonly roles: readonly ApiRole[];
  /** True when a tokens file entry listed no roles, so it got every role (the coordinator warns). */
  readonly rolesImplicit?: true;
}

/** The principal of the plain `--api-token` / `QUORATE_API_TOKEN`. */
export const defaultPrincipalName = 'default';

const namePattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function invalid(path: string, problem: string, file?: string): QuorateError {
  return new QuorateError('QUORATE_E_CONFIG', `API tokens: ${path}: ${problem}`, {
    ...(file === undefined ? {} : { file }),
    path,
    problem,
  });
}

/**
 * The principal for a plaintext token (at least `limits.apiTokenLengthMin` characters); every
 * role unless `roles` says otherwise (the plain `--api-token` keeps them all).
 */
export function principalFromToken(
  name: string,
  token: string,
  roles: readonly ApiRole[] = apiRoles,
): ApiPrincipal {
  // Length only: a bearer token is not exposed to an offline guess the way the party secret's
  // MAC is (TLS hides it, the coordinator stores only its digest), and existing deployments
  // chose their tokens under this rule. `quorate api-token new` makes 256-bit ones.
  if (token.length < limits.apiTokenLengthMin) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `API token must be at least ${limits.apiTokenLengthMin} characters; generate one with: quorate api-token new`,
    );
  }
  if (!namePattern.test(name)) throw invalid('name', `${JSON.stringify(name)} is not a valid name`);
  return { name, tokenSha256: sha256(utf8ToBytes(token)), roles };
}

/** The digest line for a token, as the tokens file wants it. */
export function tokenDigestHex(token: string): string {
  return bytesToHex(sha256(utf8ToBytes(token)));
}

/**
 * Parses a tokens file (YAML or JSON text). Rejects, with `QUORATE_E_CONFIG` naming the path
 * and the problem: unknown fields, bad or duplicate names, digests that are not 64 lower-case
 * hex or are used twice, `roles` that is not a non-empty list of distinct known roles, no
 * tokens, more than `limits.apiPrincipalsMax`.
 */
export function parseApiTokensFile(text: string, file?: string): ApiPrincipal[] {
  if (text.length > limits.apiTokensFileBytesMax)
    throw invalid('(file)', `larger than ${limits.apiTokensFileBytesMax} bytes`, file);
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 0 });
  } catch (error) {
    throw invalid('(file)', `not YAML or JSON: ${String(error)}`, file);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw invalid('(file)', 'must be a map with a tokens list', file);
  for (const key of Object.keys(doc)) {
    if (key !== 'tokens') throw invalid(key, 'unknown field (expected only tokens)', file);
  }
  const tokens = (doc as Record<string, unknown>)['tokens'];
  if (!Array.isArray(tokens) || tokens.length === 0)
    throw invalid('tokens', 'must be a non-empty list', file);
  if (tokens.length > limits.apiPrincipalsMax)
    throw invalid('tokens', `more than ${limits.apiPrincipalsMax} entries`, file);
  const names = new Set<string>();
  const digests = new Set<string>();
  return tokens.map((entry: unknown, i) => {
    const principal = parseTokenEntry(entry, `tokens[${i}]`, file);
    const digest = bytesToHex(principal.tokenSha256);
    if (names.has(principal.name))
      throw invalid(`tokens[${i}].name`, `duplicate name ${principal.name}`, file);
    if (digests.has(digest))
      throw invalid(`tokens[${i}].sha256`, 'the same token is listed twice', file);
    names.add(principal.name);
    digests.add(digest);
    return principal;
  });
}

const entryFields = new Set(['name', 'sha256', 'roles']);

/** One `tokens[i]` entry: `{name, sha256, roles?}`. */
function parseTokenEntry(entry: unknown, at: string, file: string | undefined): ApiPrincipal {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw invalid(at, 'must be a map {name, sha256, roles}', file);
  const e = entry as Record<string, unknown>;
  for (const key of Object.keys(e)) {
    if (!entryFields.has(key))
      throw invalid(`${at}.${key}`, 'unknown field (expected name, sha256, roles)', file);
  }
  const name = e['name'];
  if (typeof name !== 'string' || !namePattern.test(name))
    throw invalid(`${at}.name`, 'must match [a-z0-9][a-z0-9._-]{0,63}', file);
  const digest = e['sha256'];
  if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest))
    throw invalid(
      `${at}.sha256`,
      'must be 64 lower-case hex characters (sha256 of the token)',
      file,
    );
  if (e['roles'] === undefined)
    return { name, tokenSha256: hexToBytes(digest), roles: apiRoles, rolesImplicit: true };
  return {
    name,
    tokenSha256: hexToBytes(digest),
    roles: parseRoles(e['roles'], `${at}.roles`, file),
  };
}

/** A non-empty list of distinct known roles. */
function parseRoles(raw: unknown, at: string, file: string | undefined): ApiRole[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw invalid(at, `must be a non-empty list of roles (${apiRoles.join(', ')})`, file);
  const roles: ApiRole[] = [];
  for (const [j, role] of raw.entries()) {
    if (!isApiRole(role))
      throw invalid(
        `${at}[${j}]`,
        `unknown role ${JSON.stringify(role)} (expected one of ${apiRoles.join(', ')})`,
        file,
      );
    if (roles.includes(role)) throw invalid(`${at}[${j}]`, `duplicate role ${role}`, file);
    roles.push(role);
  }
  return roles;
}

/** Names of the principals that hold every role only because their file entry listed none. */
export function implicitRoleNames(principals: readonly ApiPrincipal[]): string[] {
  return principals.filter((p) => p.rolesImplicit === true).map((p) => p.name);
}

/**
 * Combines the sources into one list; the same name or the same token twice is a config
 * error (a token must identify exactly one principal).
 */
export function combinePrincipals(...lists: readonly (readonly ApiPrincipal[])[]): ApiPrincipal[] {
  const all = lists.flat();
  if (all.length === 0) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      'no API token: set --api-token / QUORATE_API_TOKEN or --api-tokens FILE',
    );
  }
  if (all.length > limits.apiPrincipalsMax)
    throw invalid('tokens', `more than ${limits.apiPrincipalsMax} principals in all`);
  for (let i = 0; i < all.length; i++) {
    for (let j = 0; j < i; j++) {
      if (all[i]!.name === all[j]!.name)
        throw invalid('name', `principal ${all[i]!.name} is defined twice`);
      if (bytesEqual(all[i]!.tokenSha256, all[j]!.tokenSha256))
        throw invalid('sha256', `principals ${all[j]!.name} and ${all[i]!.name} share a token`);
    }
  }
  return all;
}

/**
 * The principal a bearer token belongs to, or undefined. Digests are compared, each in
 * constant time and all of them every time, so neither the token's length nor which entry
 * matched shows in the timing.
 */
export function authenticate(
  principals: readonly ApiPrincipal[],
  token: string,
): ApiPrincipal | undefined {
  const digest = sha256(utf8ToBytes(token));
  let found: ApiPrincipal | undefined;
  for (const p of principals) {
    if (bytesEqual(digest, p.tokenSha256) && found === undefined) found = p;
  }
  return found;
}
