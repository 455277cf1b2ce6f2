/**
 * The README's secure walkthrough, run as written (examples/secure-loopback.sh): TLS, an operator
 * key certifying every party, one-time enrolment tokens, a pinned coordinator key and API tokens
 * with roles, on real processes on loopback. Issue 12's acceptance: a new user can follow it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

test('examples/secure-loopback.sh: enrolled, anchored parties sign over TLS and roles hold', () => {
  const work = mkdtempSync(join(tmpdir(), 'quorate-secure-'));
  try {
    const run = spawnSync('bash', ['examples/secure-loopback.sh', work], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const out = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, out);
    assert.match(
      run.stdout,
      /coordinator: https:\/\/127\.0\.0\.1:\d+ \(identity key [0-9a-f]{64}\)/,
    );
    assert.equal((run.stdout.match(/"enrolment":"enrolled"/g) ?? []).length, 3, out);
    assert.equal((run.stdout.match(/"state":"alive"/g) ?? []).length, 3, out);
    assert.match(run.stdout, /"status":"signed","signature":"[0-9a-f]{128}"/);
    assert.match(run.stdout, /audit read the session/);
    assert.match(run.stdout, /desk {2}POST \/v1\/wallets -> 403/);
    assert.match(run.stdout, /audit POST signatures -> 403/);
    assert.match(run.stdout, /done: signed/);
    // Every party ran anchored (its certificate checked at start, none of the legacy warning).
    for (const id of ['mobile', 'backend', 'guardian'])
      assert.doesNotMatch(readFileSync(join(work, `${id}.log`), 'utf8'), /trustAnchor/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
