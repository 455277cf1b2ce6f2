/**
 * Weak secrets are refused at start (issue 12 finding 6; the security review found keyboard
 * walks and repeated patterns accepted, and any 16-character API token).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { principalFromToken } from '../../src/api/principals.ts';
import { partySecretProblem } from '../../src/cli/command-options.ts';
import { QuorateError } from '../../src/core/errors.ts';

test('guessable party secrets are refused, each with its reason', () => {
  const cases: [string, RegExp][] = [
    ['enrolment-secret', /at least 24 characters/],
    ['aaaaaaaaaaaaaaaaaaaaaaaaaaaa', /distinct characters/],
    ['qwertyuiopasdfghjklzxcvb', /keyboard or alphabet walk/],
    ['abcdefghijklmnopqrstuvwxyz', /keyboard or alphabet walk/],
    ['Password1Password1Passwo', /repeats a shorter pattern/],
    ['abcdefghabcdefghabcdefgh', /repeats a shorter pattern/],
  ];
  for (const [secret, why] of cases) assert.match(partySecretProblem(secret) ?? '', why, secret);
});

test('generated secrets pass: openssl rand -hex 24 and -base64 24 alike', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), () => {
      const raw = randomBytes(24);
      return (
        partySecretProblem(raw.toString('hex')) === undefined &&
        partySecretProblem(raw.toString('base64')) === undefined
      );
    }),
    { numRuns: 2_000 },
  );
});

test('a plainly guessable API token is refused with QUORATE_E_CONFIG; a generated one is not', () => {
  for (const token of ['aaaaaaaaaaaaaaaa', '0123456789abcdef', 'tokentokentokentoken']) {
    assert.throws(
      () => principalFromToken('default', token),
      (e: unknown) => e instanceof QuorateError && e.code === 'QUORATE_E_CONFIG',
      token,
    );
  }
  assert.equal(principalFromToken('default', randomBytes(16).toString('hex')).name, 'default');
  assert.equal(principalFromToken('default', 'an-api-token-of-16+chars').name, 'default');
});
