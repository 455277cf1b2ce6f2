/**
 * Weak secrets are refused at start (issue 12 finding 6; the security review found keyboard
 * walks and repeated patterns accepted as party secrets).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { partySecretProblem } from '../../src/cli/command-options.ts';

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
