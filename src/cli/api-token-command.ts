/**
 * `quorate api-token new --name NAME [--role ROLE …] [--json]`: a fresh random token (32 bytes,
 * hex) for a named principal and the line that lists it, with its roles (docs/roles.md), in
 * `--api-tokens FILE`. The token is printed once and kept nowhere: the file holds only its
 * SHA-256.
 */
import { parseArgs } from 'node:util';
import { bytesToHex } from '@noble/hashes/utils.js';
import { realEnv } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { principalFromToken, tokenDigestHex } from '../api/principals.ts';
import { apiRoles, isApiRole, type ApiRole } from '../api/roles.ts';
import { required } from './command-options.ts';

/** Runs `api-token`; returns the exit code. */
export function runApiTokenCommand(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub !== 'new') {
    process.stderr.write(
      `usage: quorate api-token new --name NAME [--role ${apiRoles.join('|')} …] [--json]\n`,
    );
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      role: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    },
  });
  const name = required(values.name, '--name');
  const roles = rolesOption(values.role);
  const token = bytesToHex(realEnv({ logLevel: 'silent' }).randomBytes(32));
  principalFromToken(name, token); // validates the name
  const sha256 = tokenDigestHex(token);
  const rolesField = roles === undefined ? '' : `, roles: [${roles.join(', ')}]`;
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ name, token, sha256, ...(roles === undefined ? {} : { roles }) })}\n`,
    );
  } else {
    process.stdout.write(
      `token for ${name} (shown once; give it to the caller, keep it out of the file):\n` +
        `  ${token}\n` +
        `line for --api-tokens FILE (under tokens:):\n` +
        `  - { name: ${name}, sha256: ${sha256}${rolesField} }\n`,
    );
  }
  return 0;
}

/** `--role` given any number of times: distinct known roles, or none (then no `roles` field). */
function rolesOption(raw: string[] | undefined): ApiRole[] | undefined {
  if (raw === undefined || raw.length === 0) return undefined;
  const roles: ApiRole[] = [];
  for (const role of raw) {
    if (!isApiRole(role) || roles.includes(role)) {
      throw new QuorateError(
        'QUORATE_E_CONFIG',
        `--role must be one of ${apiRoles.join(', ')}, each at most once`,
        { role },
      );
    }
    roles.push(role);
  }
  return roles;
}
