/**
 * A signer set whose attempt failed without a culprit Quorate can verify (a soft refusal) is not
 * chosen again in the same try while an untried set remains: a cheater that cannot be named is
 * left out by elimination (src/session/attempts.ts). Before, a 2-of-3 ecdsa wallet with one
 * signer sending a valid but wrong `w` failed with QUORATE_E_DEADLINE_EXCEEDED after 17–32
 * attempts that all included the cheater (`quorate sim --adversary parties`: HONEST-QUORUM in
 * every such seed; seed 33 is one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { untriedQuorum } from '../../src/session/attempts.ts';
import { runPartiesSeed } from '../../src/sim/adversary/parties-run.ts';

test('the best-ranked t-subset not yet failed, in rank order', () => {
  const ranked = ['c', 'a', 'b', 'd'];
  assert.deepEqual(untriedQuorum(ranked, 2, new Set()), ['c', 'a']);
  assert.deepEqual(untriedQuorum(ranked, 2, new Set(['a,c'])), ['c', 'b']);
  assert.deepEqual(untriedQuorum(ranked, 2, new Set(['a,c', 'b,c', 'c,d'])), ['a', 'b']);
  assert.deepEqual(untriedQuorum(ranked, 3, new Set(['a,b,c', 'a,c,d'])), ['c', 'b', 'd']);
  // Every subset failed: the best-ranked one again (nothing better is known).
  const all = new Set(['a,b', 'a,c', 'b,c']);
  assert.deepEqual(untriedQuorum(['a', 'b', 'c'], 2, all), ['a', 'b']);
  // Too few parties: what there is (the caller fails the session).
  assert.deepEqual(untriedQuorum(['a'], 2, new Set(['a'])), ['a']);
});

test('a signer whose w is wrong breaks only the sets it is in: the honest pair signs', async () => {
  const run = await runPartiesSeed(33);
  assert.equal(run.outcomes?.signingAttack, 'ecdsa-bad-w');
  assert.deepEqual(run.violations, []);
  for (const request of run.outcomes?.requests ?? []) {
    assert.equal(request.status, 'signed');
    assert.deepEqual([...request.signers].sort(), ['p1', 'p2']);
    assert.deepEqual(request.excluded, [], 'nobody blamed on evidence nobody can check');
  }
});
