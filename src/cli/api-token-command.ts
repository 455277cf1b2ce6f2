/**
 * `quorate api-token new --name NAME [--json]`: a fresh random token (32 bytes, hex) for a
 * named principal and the line that lists it in `--api-tokens FILE`. The token is printed once
 * and kept nowhere: the file holds only its SHA-256.
 */
import { parseArgs } from 'node:util';
import { bytesToHex } from '@noble/hashes/utils.js';
import { realEnv } from '../core/env.ts';
import { principalFromToken, tokenDigestHex } from '../api/principals.ts';
import { required } from './command-options.ts';

/** Runs `api-token`; returns the exit code. */
export function runApiTokenCommand(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub !== 'new') {
    process.stderr.write(`usage: quorate api-token new --name NAME [--json]\n`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: { name: { type: 'string' }, json: { type: 'boolean' } },
  });
  const name = required(values.name, '--name');
  const token = bytesToHex(realEnv({ logLevel: 'silent' }).randomBytes(32));
  principalFromToken(name, token); // validates the name
  const sha256 = tokenDigestHex(token);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ name, token, sha256 })}\n`);
  } else {
    process.stdout.write(
      `token for ${name} (shown once; give it to the caller, keep it out of the file):\n` +
        `  ${token}\n` +
        `line for --api-tokens FILE (under tokens:):\n` +
        `  - { name: ${name}, sha256: ${sha256} }\n`,
    );
  }
  return 0;
}
